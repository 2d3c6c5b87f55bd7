"""A live session whose disk fills up, ``recover`` on a still-full disk, and session folders
that can be moved and say what their data are.

The disk is really filled: without root a subprocess runs under a file-size limit
(``RLIMIT_FSIZE``, writes fail with EFBIG); as root a 2 MB tmpfs is mounted and filled with
a file (ENOSPC). Both go through the same code (``neurospell.diskspace.is_no_room``).
"""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurospell.rawlog import read_rawlog
from neurospell.session.bids_write import source_sidecar
from neurospell.session.sessiondir import SessionFolder, replay_session

_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (WARNING|INFO) neurospell: (?!.*(disk|space|file-size))")
SPELL = ["--source", "simulated", "--headless", "--calibrate", "AB", "--copy", "HI", "--soa", "0.05",
         "--inter-trial", "0.2", "--calibration-repetitions", "5", "--max-repetitions", "4", "--decoder", "lda",
         "--lm", "ngram", "--max-selections", "2"]  # (two selections, as on the classic grid without backspace)


def _limit(n_bytes):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), no signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))
    return pre


def _cli(*args, limit=None, timeout=240):
    return subprocess.run([sys.executable, "-m", "neurospell", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=None if limit is None else _limit(limit))


def _run_files(root: Path, task: str) -> list:
    return sorted(p.name for p in root.glob(f"sub-01/ses-01/eeg/*task-{task}_*"))


def _check_one_clean_line(res, *, prefix):
    assert "Traceback" not in res.stderr and "ERROR" not in res.stderr, res.stderr
    # (a loaded machine may add a log warning that the stream stalled; that is not about the disk)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not _LOG_LINE.match(ln)]
    assert len(lines) == 1 and lines[0].startswith(prefix), res.stderr
    return lines[0]


def test_disk_full_during_calibration_stops_cleanly_and_recovers(tmp_path):
    """Writes fail (file-size limit) during calibration: one line, exit 4, the crash copy kept,
    nothing converted; recover under a smaller limit says what it needs and changes nothing;
    with room it converts the calibration run, whose sidecar says the data are simulated."""
    out = tmp_path / "S"
    res = _cli("spell", *SPELL, "--out", out, limit=48_000)
    assert res.returncode == 4, res.stdout + res.stderr
    line = _check_one_clean_line(res, prefix="spell: stopped: the file-size limit was reached")
    assert "task-calibration run-1" in line and ".nsraw" in line and "raise the file-size limit" in line.lower()
    assert f"`neurospell recover {out}`" in line
    assert "stopped         the file-size limit was reached" in res.stdout  # then the summary
    folder = SessionFolder.open(out)
    assert [(r["task"], r["status"]) for r in folder.runs()] == [("calibration", "recording")]
    assert _run_files(out, "calibration") == []
    assert not list(out.glob(".partial-*"))
    # still "full": recover says how much room it needs and leaves the folder as it was
    before = (out / "derivatives/neurospell/session.json").read_bytes()
    res = _cli("recover", out, limit=16_000)
    assert res.returncode == 2
    line = _check_one_clean_line(res, prefix="neurospell recover: error: recover stopped: the file-size limit")
    assert "MB" in line and f"neurospell recover {out}" in line
    assert _run_files(out, "calibration") == [] and not list(out.glob(".partial-*"))
    assert (out / "derivatives/neurospell/session.json").read_bytes() == before
    # with room: converted, and the metadata say what the data are
    res = _cli("recover", out)
    assert res.returncode == 0, res.stderr
    folder = SessionFolder.open(out)
    assert not folder.unfinished()
    raw = folder.read_raw("calibration", 1)
    assert raw.n_times > 0
    side = json.loads(next(out.glob("sub-01/ses-01/eeg/*task-calibration*_eeg.json")).read_text())
    assert "simulated" in side["Manufacturer"] and "Brain Products" not in json.dumps(side)
    assert "simulated participant process" in side["ManufacturersModelName"]


def test_a_conversion_that_runs_out_of_room_leaves_nothing_half_written(tmp_path):
    """The BIDS conversion at the end of a phase (what recover and finish_phase do) fails part way:
    no file of the run is left under sub-*/, the run stays unfinished; with room it converts."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from helpers.session_writer import write_session

    root = tmp_path / "S01"
    write_session(root)
    meta = json.loads((root / "derivatives/neurospell/session.json").read_text())
    last = meta["runs"][-1]
    for p in root.glob(f"sub-01/ses-01/eeg/*task-{last['task']}_run-{last['run']}_*"):
        p.unlink()  # as if the session stopped before converting its last run
    last["status"], last["bids"] = "recording", None
    (root / "derivatives/neurospell/session.json").write_text(json.dumps(meta))
    scans = (root / "sub-01/ses-01/sub-01_ses-01_scans.tsv").read_text()
    data = read_rawlog(root / last["rawlog"]).data
    eeg_size = 4 * data.size  # the run's BrainVision .eeg: float32
    res = _cli("recover", root, limit=eeg_size // 2)  # the .eeg is cut part way
    assert res.returncode == 2
    _check_one_clean_line(res, prefix="neurospell recover: error: recover stopped")
    assert _run_files(root, f"{last['task']}_run-{last['run']}") == []
    assert not list(root.glob(".partial-*"))
    assert (root / "sub-01/ses-01/sub-01_ses-01_scans.tsv").read_text() == scans
    assert SessionFolder.open(root).unfinished()
    res = _cli("recover", root)
    assert res.returncode == 0, res.stderr
    folder = SessionFolder.open(root)
    assert not folder.unfinished()
    assert folder.read_raw(last["task"], last["run"]).n_times == read_rawlog(root / last["rawlog"]).timestamps.size
    rep = replay_session(folder)
    assert rep.reproduced, rep.first_difference


def _mount_small_tmpfs(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a 2 MB tmpfs needs root; the file-size-limit tests cover the logic without it")
    path.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {res.stderr.strip()}")


def test_a_real_full_disk_at_the_end_of_the_session(tmp_path):
    """A 2 MB tmpfs filled up as the copy phrase is done: the session stops with one line and
    exit 4; recover on the still-full disk says how much room it needs; freed, it recovers and
    the folder replays."""
    mnt = tmp_path / "mnt"
    _mount_small_tmpfs(mnt)
    try:
        out = mnt / "S"
        proc = subprocess.Popen([sys.executable, "-m", "neurospell", "spell", *SPELL, "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            ln = proc.stdout.readline()
            if not ln:
                break
            lines.append(ln)
            if sum(x.strip().startswith("selected") for x in lines) == 2:
                break  # the last selection of 'HI': fill the disk as the phase ends
        filler = mnt / "filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        stdout, stderr = proc.communicate(timeout=120)
        res = subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines) + stdout, stderr)
        assert res.returncode == 4, res.stdout + res.stderr
        line = _check_one_clean_line(res, prefix="spell: stopped: the disk is full")
        assert f"neurospell recover {out}" in line and "task-spelling run-1" in line
        assert "typed text" in res.stdout
        assert _run_files(out, "spelling") == [] and not list(out.glob(".partial-*"))
        res = _cli("recover", out)
        assert res.returncode == 2
        line = _check_one_clean_line(res, prefix="neurospell recover: error: recover needs about")
        assert str(mnt) in line and "MB is free" in line
        filler.unlink()
        res = _cli("recover", out)
        assert res.returncode == 0, res.stderr
        folder = SessionFolder.open(out)
        assert not folder.unfinished()
        rep = replay_session(folder)
        assert rep.reproduced and rep.n_decisions >= 1, rep.first_difference
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_session_folder_can_be_moved_and_says_what_its_data_are(tmp_path):
    """Paths inside the folder are relative to it: moved with shutil.move it replays; the
    BIDS metadata name the simulated participant, not an amplifier."""
    out = tmp_path / "rec" / "S"
    out.parent.mkdir()
    res = _cli("spell", *SPELL, "--out", out)
    assert res.returncode == 0, res.stderr
    for p in out.rglob("*"):
        if p.is_file() and p.suffix in (".json", ".jsonl", ".tsv", ".toml", ".vhdr", ".vmrk", ""):
            assert str(out) not in p.read_text(errors="replace"), p
    log = [json.loads(ln) for ln in (out / "derivatives/neurospell/decisions.jsonl").read_text().splitlines()]
    training = next(r for r in log if r["type"] == "training")
    assert training["model_path"] == "derivatives/neurospell/model.pkl"
    for side in out.glob("sub-01/ses-01/eeg/*_eeg.json"):
        data = json.loads(side.read_text())
        assert data["Manufacturer"].startswith("n/a (simulated data"), data
        assert "simulated participant process" in data["ManufacturersModelName"]
    desc = json.loads((out / "dataset_description.json").read_text())
    assert any(g["Name"] == "neurospell" and "simulated" in g["Description"] for g in desc["GeneratedBy"])
    moved = tmp_path / "elsewhere" / "S2"
    moved.parent.mkdir()
    shutil.move(str(out), str(moved))
    res = _cli("replay", moved)
    assert res.returncode == 0, res.stderr
    n = sum(r["type"] == "decision" and r.get("task") == "spelling" for r in log)
    assert f"{n}/{n} decisions reproduced" in res.stdout
    # recorded with another copy of neurospell (its LM file elsewhere, the same bytes): still replays
    meta_path = moved / "derivatives/neurospell/session.json"
    meta = json.loads(meta_path.read_text())
    meta["lm"]["files"] = {"/another/checkout/lm_fusion/data/" + Path(k).name: v for k, v in meta["lm"]["files"].items()}
    meta_path.write_text(json.dumps(meta))
    rep = replay_session(SessionFolder.open(moved))
    assert rep.reproduced and rep.n_decisions == n, rep.first_difference
    folder = SessionFolder.open(moved)
    assert folder.resolve(training["model_path"]) == moved / "derivatives/neurospell/model.pkl"
    # a folder recorded before stored absolute paths: they still resolve once it was moved
    assert folder.resolve(str(out / "derivatives/neurospell/model.pkl")) == folder.model_path


def test_the_sidecars_name_each_kind_of_source():
    from neurospell.acquisition import open_source
    from neurospell.config import Config

    synth = source_sidecar(open_source("synthetic", Config().acquisition).describe())
    assert "synthetic" in synth["Manufacturer"] and "SYNTHETIC_BOARD" in synth["ManufacturersModelName"]
    cyton = source_sidecar({"kind": "brainflow", "board_id": 0})
    assert cyton["Manufacturer"] == "OpenBCI" and "CYTON_BOARD" in cyton["ManufacturersModelName"]
    lsl = source_sidecar({"kind": "lsl", "name": "MyAmp", "type": "EEG"})
    assert "'MyAmp' (type EEG)" in lsl["ManufacturersModelName"] and "Brain Products" not in lsl["Manufacturer"]
    rep = source_sidecar({"kind": "replay", "file": "/data/S1.mat"})
    assert "replay of the recording /data/S1.mat" in rep["ManufacturersModelName"]


def test_no_room_errors_are_recognised_with_their_cause():
    import errno

    from neurospell.diskspace import is_no_room, no_room_why

    short = OSError("99152 requested and 43008 written")  # NumPy's tofile on a full disk: no errno
    assert is_no_room(short) and no_room_why(short) == "the disk is full"
    assert no_room_why(OSError(errno.EFBIG, "File too large")).startswith("the file-size limit")
    assert no_room_why(OSError(errno.ENOSPC, "No space left on device")) == "the disk is full"
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as err:
            raise RuntimeError("the conversion failed") from err
    except RuntimeError as wrapped:
        assert is_no_room(wrapped)
    assert not is_no_room(OSError(errno.EACCES, "Permission denied"))
    assert not is_no_room(ValueError("5 requested and 3 written"))
