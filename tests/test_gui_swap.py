"""Flash onsets stamped at the buffer swap where the platform has OpenGL (a real X server;
Xvfb with Mesa when asked to: ``"on"``), after paint where it has not (offscreen) or where the
renderer is software (``"auto"`` under Xvfb) — real windows in real processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.system_deps import require_xvfb

HELPER = Path(__file__).parent / "helpers" / "grid_swap.py"


def _run(prefix, mode, platform):
    env = dict(os.environ, QT_QPA_PLATFORM=platform)
    res = subprocess.run(prefix + [sys.executable, str(HELPER), mode], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def _check_onsets(out):
    groups = [g for g, _ in out["onsets"]]
    onsets = np.array([t for _, t in out["onsets"]])
    before = np.array(out["before"])
    assert groups == out["groups"] and out["n_flashes"] == len(groups)
    assert before.size == onsets.size
    assert np.all(onsets >= before)  # stamped once the frame was presented, never when asked for
    assert np.all(np.diff(onsets) > 0)
    # the frame clock: one flash every 6 frames of 1/60 s (median within a frame)
    assert abs(np.median(np.diff(onsets)) - 6 * out["period"]) < out["period"]
    return onsets - before


@pytest.mark.parametrize("mode", ["on", "auto", "off"])
def test_onsets_at_buffer_swap_under_xvfb(mode):
    xvfb = require_xvfb()
    out = _run([xvfb, "-a"], mode, "xcb")
    assert out["platform"] == "xcb"
    delay = _check_onsets(out)
    if mode == "on":  # Mesa's OpenGL under Xvfb: every flash stamped in frameSwapped
        assert out["stamping"] == "buffer swap" and out["swap_stamped"] == out["n_flashes"], out["stamping"]
    else:  # "auto": Xvfb's OpenGL is Mesa's software renderer (no vsync): stamped after paint
        assert out["stamping"] == "after paint" and out["swap_stamped"] == 0
    if mode != "off":
        assert "llvmpipe" in out["gl_renderer"] or "softpipe" in out["gl_renderer"], out["gl_renderer"]
    else:
        assert out["gl_renderer"] is None  # not even looked up
    print(f"\n{mode} ({out['gl_renderer']}): presentation (paint{' + compose + swap' if mode == 'on' else ''}) "
          f"before the stamp: median {1e3 * np.median(delay):.2f} ms, max {1e3 * delay.max():.2f} ms")


def test_offscreen_has_no_swap_and_stamps_after_paint():
    out = _run([], "on", "offscreen")
    assert out["platform"] == "offscreen"
    _check_onsets(out)
    assert out["stamping"] == "after paint" and out["swap_stamped"] == 0


def test_swap_stamping_values():
    from neurospell.check import NeurospellError
    from neurospell.gui.grid import swap_stamping_mode
    from neurospell.gui.settings import GuiSettings

    assert [swap_stamping_mode(v) for v in (True, False, "auto", "on", "off")] == ["auto", "off", "auto", "on", "off"]
    assert GuiSettings(swap_stamping=True).swap_stamping == "auto"  # gui.toml files written before "auto"
    assert GuiSettings(swap_stamping=False).swap_stamping == "off"
    with pytest.raises(NeurospellError, match="swap_stamping.*'auto', 'on', 'off'.*'vsync'"):
        GuiSettings(swap_stamping="vsync")
    with pytest.raises(NeurospellError, match="swap_stamping must be one of 'auto', 'on', 'off'.*got 1"):
        swap_stamping_mode(1)
