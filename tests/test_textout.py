"""Text out of the speller: the LSL text stream (a real inlet in another process, a live session
run by the real CLI), the clipboard (Qt, offscreen) and key presses into a real X window (Xvfb).
No mocks; waits on conditions with deadlines."""

import ast
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from helpers.system_deps import require_xvfb

from neurospell.check import NeurospellError
from neurospell.session.textout import LslTextSink, TextOut, text_edit

HELPERS = Path(__file__).parent / "helpers"


class Collect:
    name = "collect"

    def __init__(self):
        self.changes = []

    def send(self, change):
        self.changes.append(change)


class Refuses:
    name = "refuses"

    def send(self, change):
        raise NeurospellError("the platform refused")


def test_one_change_per_text_change_whole_text_and_edit():
    sink, bad = Collect(), Refuses()
    out = TextOut([bad, sink])
    for text, run in [("", 1), ("H", 1), ("H", 1), ("HE", 1), ("HX", 1), ("HELLO ", 1), ("", 2), ("A", 2)]:
        out.update(text, run=run)
    got = [(c.seq, c.text, c.n_deleted, c.inserted, c.new_run) for c in sink.changes]
    assert got == [(1, "H", 0, "H", False), (2, "HE", 0, "E", False), (3, "HX", 1, "X", False),
                   (4, "HELLO ", 1, "ELLO ", False), (5, "", 0, "", True), (6, "A", 0, "A", False)]
    # each change rebuilds the text from the previous one
    for c in sink.changes:
        assert (c.text if c.new_run else c.previous[:len(c.previous) - c.n_deleted] + c.inserted) == c.text
    assert out.problems == ["refuses: the platform refused"] and bad not in out.sinks  # dropped, the rest goes on
    assert text_edit("HELLO", "HELP ") == (2, "P ")


def test_sink_without_send_is_refused():
    with pytest.raises(NeurospellError, match="send"):
        TextOut([object()])


def _inlet(name):
    proc = subprocess.Popen([sys.executable, str(HELPERS / "text_inlet.py"), "--name", name, "--seconds", "240"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []

    def read():
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def test_lsl_text_stream_late_consumer_gets_current_text():
    """A consumer that connects after the text was sent gets it at once (once), then each change."""
    from neurospell.acquisition.lsl_text import LslTextOutlet

    name = f"neurospell-text-test-{uuid.uuid4().hex[:8]}"
    outlet = LslTextOutlet(name)
    out = TextOut([LslTextSink(outlet, owns_outlet=True)])
    out.update("HEL")  # nobody listens yet
    proc, lines = _inlet(name)
    try:
        _wait(lambda: any('"connected"' in ln for ln in lines), 60, "the inlet")
        _wait(lambda: (out.update("HEL") or True) and any('"text"' in ln for ln in lines), 30, "the repeat")
        out.update("HELP")
        _wait(lambda: sum('"text"' in ln for ln in lines) >= 2, 30, "the change")
        out.update("HELP")  # no change, no sample
        out.close()  # the outlet goes: the inlet sees it lost
        _wait(lambda: any('"lost"' in ln for ln in lines), 30, "the stream to end")
    finally:
        proc.kill()
        proc.wait(10)
    info = json.loads(lines[0])
    assert info == {"connected": True, "type": "Text", "format": "whole-text", "n_channels": 1}
    assert [json.loads(ln)["text"] for ln in lines if '"text"' in ln] == ["HEL", "HELP"]


def test_live_session_text_reaches_an_lsl_inlet_in_order(tmp_path):
    """`neurospell spell --text-out lsl`: every change of the live session's text, in order, in
    another process's inlet (the texts the decisions printed)."""
    name = "neurospell-text"
    proc, lines = _inlet(name)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "neurospell", "spell", "--headless", "--source", "simulated", "--amplitude", "30",
           "--calibrate", "BCI", "--copy", "HI", "--decoder", "lda", "--soa", "0.1", "--inter-trial", "0.2",
           "--calibration-repetitions", "2", "--max-repetitions", "4", "--max-selections", "5", "--lm", "uniform",
           "--text-out", "lsl", "--seed", "2"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "the typed text goes out on the LSL stream 'neurospell-text'" in res.stdout
        texts = [ln.rsplit("-> ", 1)[1].split("  ")[0] for ln in res.stdout.splitlines()
                 if ln.strip().startswith("selected ")]
        texts = [ast.literal_eval(t) for t in texts]  # the repr the command printed
        assert texts, res.stdout
        _wait(lambda: any('"lost"' in ln for ln in lines), 30, "the stream to end")
    finally:
        proc.kill()
        proc.wait(10)
    received = [json.loads(ln)["text"] for ln in lines if '"text"' in ln]
    expected = [t for i, t in enumerate(texts) if t != (texts[i - 1] if i else "")]
    assert received == expected, (received, res.stdout)


def test_spell_text_out_bad_value():
    res = subprocess.run([sys.executable, "-m", "neurospell", "spell", "--headless", "--text-out", "clipboard"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "--text-out" in res.stderr and "clipboard is the GUI's" in res.stderr


def test_key_typing_refused_where_the_platform_does_not_allow_it():
    from neurospell.gui.textout import X11Keys, key_typing_problem

    assert "macOS" in key_typing_problem({"DISPLAY": ":0"}, "darwin")
    assert "Windows" in key_typing_problem({}, "win32")
    assert "Wayland" in key_typing_problem({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, "linux")
    assert "DISPLAY" in key_typing_problem({}, "linux")
    assert key_typing_problem({"DISPLAY": ":0"}, "linux") is None
    with pytest.raises(NeurospellError, match="Cannot open the X display"):
        X11Keys(display=":987")


def test_clipboard_gets_each_change_from_the_snapshots(qapp):
    from PySide6 import QtGui

    from neurospell.gui.controller import SessionController
    from neurospell.gui.textout import GuiTextOut
    from neurospell.session.live import LiveSnapshot

    ctl = SessionController(None)
    glue = GuiTextOut(ctl)
    try:
        clip = QtGui.QGuiApplication.clipboard()
        clip.setText("before")
        ctl.accept(LiveSnapshot("copy", "copy: selecting", text="G"))  # (off: not copied)
        assert clip.text() == "before"
        assert glue.configure(lsl=False, clipboard=True, keys=False) == {}
        assert clip.text() == "G"  # turned on: the current text at once
        seen = []
        for text in ("H", "HE", "H", "HI "):
            ctl.accept(LiveSnapshot("copy", "copy: selecting", text=text))
            seen.append(clip.text())
        assert seen == ["H", "HE", "H", "HI "]
        assert glue.configure(lsl=False, clipboard=False, keys=False) == {}
        ctl.accept(LiveSnapshot("copy", "copy: selecting", text="HIX"))
        assert clip.text() == "HI "  # off: no longer copied
    finally:
        glue.close()
        ctl.close()


def test_keys_typed_into_a_real_x_window_under_xvfb():
    xvfb = require_xvfb()
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    res = subprocess.run([xvfb, "-a", sys.executable, str(HELPERS / "textout_keys.py")], capture_output=True,
                         text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["platform"] == "xcb" and out["focused"], out
    assert out["problems"] == [] and out["skipped"] == []
    assert out["seen"] == out["expected"]  # typed, backspaced, and a new run erased nothing


def test_window_toggles_say_a_refusal_and_untick(qtbot, tmp_path, monkeypatch):
    """The Settings toggles: keys refused in a Wayland session (said, unticked, not saved as on);
    the clipboard follows the snapshots; LSL gives the next session its text stream."""
    from PySide6 import QtGui

    from neurospell.config import Config
    from neurospell.gui.settings import GuiSettings
    from neurospell.gui.window import SpellerWindow
    from neurospell.session.live import LiveSnapshot

    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    win = SpellerWindow(Config(), None, settings=GuiSettings(), settings_path=tmp_path / "gui.toml",
                        config_path=tmp_path / "config.toml", refresh_rate=40.0)  # (0.175 s: 7 frames)
    qtbot.addWidget(win)
    assert win.text_out.session_text_out() is None  # all off by default
    win.text_keys_check.setChecked(True)
    assert not win.text_keys_check.isChecked() and not win.settings.text_keys
    assert "Wayland" in win.status.text() and "clipboard" in win.status.text()
    win.text_clipboard_check.setChecked(True)
    assert win.settings.text_clipboard
    win.show_snapshot(LiveSnapshot("copy", "copy: selecting", text="HI THERE"))
    assert QtGui.QGuiApplication.clipboard().text() == "HI THERE"
    win.text_lsl_check.setChecked(True)
    out = win.text_out.session_text_out()
    assert win.settings.text_lsl and out is not None and out.sinks[0].name == "lsl"
    win.save_all_settings()
    assert "Settings saved" in win.status.text(), win.status.text()
    saved = (tmp_path / "gui.toml").read_text()
    assert "text_lsl = true" in saved and "text_clipboard = true" in saved and "text_keys = false" in saved
    win.close()
