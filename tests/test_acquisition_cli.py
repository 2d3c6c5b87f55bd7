"""The acquisition command line: devices, stream, record, and its errors."""

import subprocess
import sys
import time
import uuid

import mne
import numpy as np
import pytest

from neurospell.acquisition import LslEegOutlet, LslMarkerOutlet, LslSource
from neurospell.cli import main


def test_devices_lists_boards_and_streams(capsys):
    name = f"acqdev-{uuid.uuid4().hex[:6]}"
    with LslEegOutlet(name, ["a", "b"], ["eeg", "eeg"], 100.0):
        assert main(["devices", "--wait", "1.0"]) == 0
    out = capsys.readouterr().out
    assert "  -1  SYNTHETIC_BOARD" in out and "PLAYBACK_FILE_BOARD" in out
    assert f"'{name}'" in out and "2 ch  100 Hz" in out


def test_record_synthetic_to_fif(tmp_path, capsys):
    out = tmp_path / "syn_raw.fif"
    assert main(["record", "--board", "synthetic", "--duration", "1.0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Wrote {out}" in printed
    raw = mne.io.read_raw_fif(out, verbose=False)
    # 1 s at 250 Hz; the loop ends on a wall-clock deadline, the source may lag by a poll
    assert 200 <= raw.n_times <= 300 and raw.info["sfreq"] == 250.0 and len(raw.ch_names) == 16
    assert np.all(np.abs(raw.get_data()) < 1e-2)  # volts, not microvolts


@pytest.mark.parametrize(
    "argv, match",
    [
        (["record", "--board", "synthetic", "--duration", "-2", "--out", "{tmp}/a_raw.fif"],
         "argument --duration: must be a number > 0 (seconds), got '-2'"),
        (["record", "--board", "4242", "--duration", "1", "--out", "{tmp}/a_raw.fif"],
         "--board: unknown board '4242'"),
        (["record", "--board", "synthetic", "--duration", "1", "--out", "{tmp}/no/such/dir/a_raw.fif"],
         "does not exist. Create it first"),
        (["record", "--board", "synthetic", "--duration", "1", "--out", "/proc/a_raw.fif"],
         "cannot write in the folder '/proc'"),
        (["stream", "--board", "synthetic", "--duration", "0"], "argument --duration: must be a number > 0"),
    ],
)
def test_cli_bad_input_is_one_clear_line(argv, match, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_record_lsl_stream_not_found(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[acquisition]\nresolve_timeout = 0.5\n")
    assert main(["--config", str(cfg), "record", "--board", "lsl:absent-x", "--duration", "1",
                 "--out", str(tmp_path / "b_raw.fif")]) == 2
    err = capsys.readouterr().err
    assert "No LSL stream matching name='absent-x'" in err and "within 0.5 s" in err


def test_stream_synthetic_board_visible_on_lsl():
    name = f"acqstream-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen([sys.executable, "-m", "neurospell", "stream", "--board", "synthetic",
                             "--name", name, "--duration", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        src = LslSource(name, timeout=10.0)
        with src:
            assert src.sfreq == 250.0 and len(src.ch_names) == 16 and src.ch_names[0] == "Fz"
            rd = src.reader()
            n, deadline = 0, time.monotonic() + 10
            chunks = []
            while n < 250 and time.monotonic() < deadline:
                rd.wait(0.2)
                c, _ = rd.read()
                if c is not None:
                    chunks.append(c)
                    n += c.n_samples
        assert n >= 250, proc.stderr.read() if proc.poll() is not None else "stream too slow"
        whole = chunks[0].concatenate(chunks)
        assert 1e-7 < np.median(np.abs(whole.data)) < 1e-3  # volts through LSL
        assert np.all(np.diff(whole.timestamps) >= 0)
    finally:
        proc.terminate()  # SIGTERM: stops like Ctrl-C, releases the board, reports
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Streamed" in out and "Traceback" not in err, (out, err)


def test_record_without_samples_removes_the_empty_crash_copy(tmp_path, capsys):
    """A source that delivers nothing leaves no .nsraw behind to block the rerun (issue 9)."""
    name = f"acqsilent-{uuid.uuid4().hex[:6]}"
    out = tmp_path / "silent_raw.fif"
    argv = ["record", "--board", f"lsl:{name}", "--duration", "0.5", "--out", str(out)]
    with LslEegOutlet(name, ["a", "b"], ["eeg", "eeg"], 100.0), LslMarkerOutlet(name + "-markers"):
        for _ in range(2):  # the rerun meets the same error, not "a crash copy already exists"
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert "no samples arrived" in err and "held nothing and was removed" in err, err
            assert "Traceback" not in err and "already exists" not in err
            assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_crash_copy_with_data_is_kept(tmp_path):
    from neurospell.commands.acquisition import _remove_empty_rawlog
    from neurospell.rawlog import RawLogWriter, read_rawlog

    def make(name, samples=False, marker=False):
        w = RawLogWriter(tmp_path / name, ["a"], ["eeg"], 100.0)
        if samples:
            w.write_samples(np.zeros((1, 3)), np.arange(3) / 100.0)
        if marker:
            w.write_event({"type": "marker", "t": 0.0, "code": 1, "label": "flash/1/target"})
        w.close()
        return tmp_path / name

    with_samples, with_marker, empty = make("s.nsraw", samples=True), make("m.nsraw", marker=True), make("e.nsraw")
    assert not _remove_empty_rawlog(with_samples) and read_rawlog(with_samples).timestamps.size == 3
    assert not _remove_empty_rawlog(with_marker) and len(read_rawlog(with_marker).markers) == 1
    assert not _remove_empty_rawlog(tmp_path / "absent.nsraw")
    assert _remove_empty_rawlog(empty) and not empty.exists()
