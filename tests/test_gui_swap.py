"""Flash onsets stamped at the buffer swap where the platform has OpenGL (a real X server,
Xvfb with Mesa), after paint where it has not (offscreen) — real windows in real processes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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


@pytest.mark.parametrize("mode", ["swap", "paint"])
def test_onsets_at_buffer_swap_under_xvfb(mode):
    xvfb = shutil.which("xvfb-run")
    assert xvfb, "xvfb-run is not installed (.ci/run installs xvfb)"
    out = _run([xvfb, "-a"], mode, "xcb")
    assert out["platform"] == "xcb"
    delay = _check_onsets(out)
    if mode == "swap":  # Mesa's OpenGL under Xvfb: every flash stamped in frameSwapped
        assert out["stamping"] == "buffer swap" and out["swap_stamped"] == out["n_flashes"], out["stamping"]
    else:
        assert out["stamping"] == "after paint" and out["swap_stamped"] == 0
    print(f"\n{mode}: presentation (paint{' + compose + swap' if mode == 'swap' else ''}) before the stamp: "
          f"median {1e3 * np.median(delay):.2f} ms, max {1e3 * delay.max():.2f} ms")


def test_offscreen_has_no_swap_and_stamps_after_paint():
    out = _run([], "swap", "offscreen")
    assert out["platform"] == "offscreen"
    _check_onsets(out)
    assert out["stamping"] == "after paint" and out["swap_stamped"] == 0
