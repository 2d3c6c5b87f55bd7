"""Recording failures are reported, never hidden: a stream that stops before the end, kill -9
and recovery, SIGTERM, a full disk, and a source whose acquisition thread died."""

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import mne
import numpy as np
import pytest

from neurospell.acquisition import BrainFlowSource, LslSource
from neurospell.check import StreamError
from neurospell.cli import main
from neurospell.lsl import local_clock
from neurospell.rawlog import GAP_ANNOTATION, read_rawlog

HELPERS = Path(__file__).parent / "helpers"
pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated:UserWarning")
CLI = [sys.executable, "-m", "neurospell"]


def _outlet(name, t0, **kw):
    cmd = [sys.executable, str(HELPERS / "acq_outlet.py"), "--name", name, "--t0", repr(t0)]
    for k, v in kw.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _end(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def _wait_for_samples(folder: Path, n_bytes: int, proc, timeout=60.0):
    """Poll the crash copy until it holds at least ``n_bytes`` of samples."""
    f = folder / "samples.bin"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if f.exists() and f.stat().st_size >= n_bytes:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{f} did not reach {n_bytes} bytes")


def test_stream_that_stops_before_the_end_is_reported_missing(tmp_path):
    name = f"acqend-{uuid.uuid4().hex[:8]}"
    sfreq, n_sent, duration = 500.0, 500, 10.0
    outlet = _outlet(name, local_clock() + 4.0, sfreq=sfreq, n_channels=4, n_samples=n_sent, linger=4.0)
    out = tmp_path / "end_raw.fif"
    try:
        rec = subprocess.Popen(CLI + ["record", "--board", f"lsl:{name}", "--duration", str(duration),
                                      "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert outlet.stdout.readline().strip() == "READY"
        assert outlet.stdout.readline().strip() == "DONE"  # all 1 s sent
        outlet.wait(30)  # the outlet process ends (after letting the inlet drain); the recorder waits on
        stdout, stderr = rec.communicate(timeout=60)
    finally:
        _end(outlet)
    assert rec.returncode == 3, stderr  # documented: written, but samples are missing
    assert "Traceback" not in stderr and "Incomplete recording" in stderr
    summary = [ln for ln in stdout.splitlines() if ln.startswith("Wrote")][0]
    assert "500 samples (1.0 s of data in" in summary and "1 gap " in summary
    assert "the stream stopped delivering" in summary
    missing = int(summary.split("gap (")[1].split()[0])
    # from the last sample to the end of the recording: at least the stall time, at most the rest
    assert 2.0 * sfreq <= missing <= duration * sfreq
    raw = mne.io.read_raw_fif(out, verbose=False)
    assert raw.n_times == n_sent and list(raw.annotations.description).count(GAP_ANNOTATION) == 1


def test_kill_9_then_recover_and_never_delete_a_crash_copy(tmp_path, capsys):
    out = tmp_path / "k9_raw.fif"
    crash = tmp_path / "k9_raw.nsraw"
    rec = subprocess.Popen(CLI + ["record", "--board", "synthetic", "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_samples(crash, 250 * (8 + 4 * 16), rec)  # >= 1 s of the 16-channel synthetic board
        rec.send_signal(signal.SIGKILL)
        rec.wait(10)
    finally:
        _end(rec)
    assert not out.exists()
    log = read_rawlog(crash)
    assert log.timestamps.size >= 250
    # recover: the crash copy becomes a FIF, and stays
    fif = tmp_path / "recovered_raw.fif"
    assert main(["recover", str(crash)]) == 2  # a crash copy needs --out
    assert "--out: a crash copy" in capsys.readouterr().err
    assert main(["recover", str(crash), "--out", str(fif)]) == 0
    assert f"Recovered {log.timestamps.size} samples" in capsys.readouterr().out
    raw = mne.io.read_raw_fif(fif, verbose=False)
    np.testing.assert_array_equal(raw.get_data(), log.data.astype(np.float32).astype(np.float64))
    assert crash.is_dir()
    # recording again to the same name: refused, naming the way out ...
    assert main(["record", "--board", "synthetic", "--duration", "0.5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "crash copy" in err and "neurospell recover" in err and "--overwrite" in err
    # ... and with --overwrite the crash copy is moved aside, not deleted
    before = (crash / "samples.bin").read_bytes()
    assert main(["record", "--board", "synthetic", "--duration", "0.5", "--out", str(out), "--overwrite"]) == 0
    err = capsys.readouterr().err
    moved = sorted(tmp_path.glob("k9_raw.moved-*.nsraw"))
    assert len(moved) == 1 and str(moved[0]) in err
    assert (moved[0] / "samples.bin").read_bytes() == before
    assert out.exists() and not crash.exists()


def test_recover_bad_input(tmp_path, capsys):
    assert main(["recover", str(tmp_path), "--out", str(tmp_path / "x_raw.fif")]) == 2
    assert "is not a crash copy" in capsys.readouterr().err
    assert main(["recover", str(tmp_path / "nope.nsraw"), "--out", str(tmp_path / "x_raw.fif")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_sigterm_finishes_the_file_like_ctrl_c(tmp_path):
    out = tmp_path / "term_raw.fif"
    rec = subprocess.Popen(CLI + ["record", "--board", "synthetic", "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_samples(tmp_path / "term_raw.nsraw", 250 * (8 + 4 * 16), rec)
        rec.send_signal(signal.SIGTERM)
        stdout, stderr = rec.communicate(timeout=60)
    finally:
        _end(rec)
    assert rec.returncode == 0, stderr
    assert "Terminated: stopping and writing the file" in stderr and f"Wrote {out}" in stdout
    raw = mne.io.read_raw_fif(out, verbose=False)
    assert raw.n_times >= 250 and len(raw.ch_names) == 16
    assert not (tmp_path / "term_raw.nsraw").exists()  # finished cleanly


def _tmpfs(folder: Path, size: str) -> bool:
    """Mount a small tmpfs on ``folder``; ``False`` where mounting is not allowed."""
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, timeout=30)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.parametrize("how", ["full disk", "file-size limit"])
def test_disk_full_stops_at_once_and_keeps_what_was_written(tmp_path, how):
    limit = 64 * 1024  # bytes: a few seconds of the synthetic board
    folder = Path(tempfile.mkdtemp(prefix="neurospell-full-"))
    mounted = how == "full disk" and _tmpfs(folder, "64k")
    preexec = None
    if not mounted:  # without the right to mount: writes past RLIMIT_FSIZE fail with EFBIG
        def preexec():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        out = folder / "full_raw.fif"
        t0 = time.monotonic()
        rec = subprocess.run(CLI + ["record", "--board", "synthetic", "--duration", "60", "--out", str(out)],
                             capture_output=True, text=True, timeout=120, preexec_fn=preexec)
        elapsed = time.monotonic() - t0
        assert rec.returncode == 2, rec.stderr
        assert "Traceback" not in rec.stderr
        expected = "the disk is full" if mounted else "the file-size limit was reached"
        assert f"Recording stopped: {expected}" in rec.stderr, rec.stderr
        assert "neurospell recover" in rec.stderr
        assert elapsed < 40, f"took {elapsed:.0f} s: did not stop at once"
        assert not out.exists()
        # what was written stays readable, and recovers to a FIF elsewhere
        crash = folder / "full_raw.nsraw"
        log = read_rawlog(crash)
        assert log.timestamps.size > 250
        assert np.all(np.diff(log.timestamps) > 0)
        fif = tmp_path / "rescued_raw.fif"
        assert main(["recover", str(crash), "--out", str(fif)]) == 0
        assert mne.io.read_raw_fif(fif, verbose=False).n_times == log.timestamps.size
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True, timeout=30)
        subprocess.run(["rm", "-rf", str(folder)], check=False)
    assert not os.path.ismount(folder)


def test_running_is_false_once_the_acquisition_thread_died():
    src = BrainFlowSource()
    src.start()
    try:
        assert src.running
        src._board.release_session()  # the device goes away under the acquisition thread
        deadline = time.monotonic() + 10
        while src.running and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not src.running and src.error is not None
        with pytest.raises(StreamError, match="acquisition thread .* failed"):
            src.reader().read()
        src.start()  # a dead source starts again
        assert src.running and src.error is None
    finally:
        src.stop()
    assert not src.running


def test_lsl_source_not_running_when_its_stream_comes_back_wrong():
    name = f"acqdie-{uuid.uuid4().hex[:8]}"
    a = _outlet(name, local_clock(), sfreq=250.0, n_channels=4)
    b = None
    try:
        src = LslSource(name, timeout=10.0)
        with src:
            assert a.stdout.readline().strip() == "READY"
            assert src.running
            a.kill()
            a.wait(10)
            deadline = time.monotonic() + 15
            while src.n_lost == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert src.n_lost == 1 and src.running  # lost, re-resolving: still alive
            b = _outlet(name, local_clock(), sfreq=250.0, n_channels=2)  # same source id, 2 channels
            while src.running and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not src.running
            assert isinstance(src.error, StreamError) and "came back with 2 channels" in str(src.error)
    finally:
        _end(a)
        if b is not None:
            _end(b)
