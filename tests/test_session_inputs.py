"""Session folders as inputs of train, evaluate, inspect and simulate: a folder expands to its
labelled runs (calibration and copy spelling), several folders and files pool."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.config import load_config
from neurospell.decoder import load_decoder
from neurospell.rawlog import rawlog_to_fif
from neurospell.session.evaluation import load_epochs
from neurospell.session.inputs import expand_recordings
from neurospell.session.sessiondir import SessionFolder

DECODER = "xdawncov-ts-lr"


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "neurospell", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A short live session recorded by `neurospell spell`: calibration 'AB', copy spelling 'HI'."""
    tmp = tmp_path_factory.mktemp("sessions")
    out = tmp / "s1"
    res = _cli("spell", "--source", "simulated", "--headless", "--calibrate", "AB", "--copy", "HI", "--out", out,
               "--soa", "0.05", "--inter-trial", "0.2", "--calibration-repetitions", "5", "--max-repetitions", "4",
               "--decoder", "lda", "--lm", "uniform", timeout=300)
    assert res.returncode == 0, res.stderr
    cfg = tmp / "uniform.toml"  # training without choosing an LM weight (faster; not what is tested)
    cfg.write_text('[lm]\nname = "uniform"\n')
    return SessionFolder.open(out), cfg


def test_session_folder_trains_the_model_of_its_raw_logs(session, tmp_path):
    """The folder's BIDS runs give the epochs of its raw logs, and `neurospell train` on the
    folder fits the model it fits on the raw logs.

    Equal up to float32 rounding: the raw log keeps the samples as float32 volts, the
    BrainVision file as float32 microvolts, so a sample differs by at most a float32 rounding
    (~6e-8 relative); everything discrete (which flashes, their codes, labels, characters,
    the sample each epoch starts at) is equal exactly."""
    folder, cfg = session
    runs = folder.runs()
    assert [(r["task"], r["status"]) for r in runs] == [("calibration", "finished"), ("spelling", "finished")]
    notes = []
    files = expand_recordings([folder.root], on_note=notes.append)
    assert files == [str(folder.root / r["bids"]) for r in runs]
    assert sum(": used" in n for n in notes) == 2 and "copy spelling 'HI'" in notes[1]
    logs = [str(folder.root / r["rawlog"]) for r in runs]
    pre = folder.read_config().preprocessing
    a, b = load_epochs(files, pre), load_epochs(logs, pre)
    assert len(a) == len(b) > 0
    for key in ("codes", "targets", "trials"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    # the nearest sample (the raw log's onset is fractional): within half a sample; exactly half
    # when the onset falls midway between two samples (a CI run had 2.0000000000007 ms at 250 Hz)
    assert np.abs(a.onsets - b.onsets).max() <= 0.5 / a.sfreq + 1e-9
    np.testing.assert_allclose(a.data, b.data, rtol=0, atol=1e-6 * np.abs(b.data).max())
    # the copy-spelling run brings labelled characters of its own (its targets are known)
    n_cal = len(load_epochs(files[:1], pre))
    # (at least 2 selections: the live word grid has a backspace, so a mistake costs two more)
    assert a.targets[n_cal:].any() and len(set(a.trials[n_cal:])) >= 2
    # each copy selection's targets are the groups of the symbol the live session logged as intended
    layout = folder.read_config().speller.layout()
    log = [r for r in folder.read_log() if r["type"] == "decision" and r.get("task") == "spelling"]
    copy_trials = list(dict.fromkeys(a.trials[n_cal:].tolist()))
    assert len(copy_trials) == len(log)
    for trial, rec in zip(copy_trials, log, strict=True):
        sel = a.trials == trial
        want = {g + 1 for g in layout.groups_containing(rec["intended"])}
        assert set(a.codes[sel & a.targets].tolist()) == want, (rec, trial)
    m1, m2 = tmp_path / "folder.pkl", tmp_path / "logs.pkl"
    r1 = _cli("--config", cfg, "train", folder.root, "--decoder", DECODER, "--out", m1)
    assert r1.returncode == 0, r1.stderr
    r2 = _cli("--config", cfg, "train", *logs, "--decoder", DECODER, "--out", m2)
    assert r2.returncode == 0, r2.stderr
    assert "task-spelling run-1 (copy spelling 'HI'" in r1.stderr
    line = [ln for ln in r1.stdout.splitlines() if ln.startswith(("Training", "Held-out AUC"))]
    assert len(line) == 2 and line == [ln for ln in r2.stdout.splitlines()
                                       if ln.startswith(("Training", "Held-out AUC"))]
    d1, d2 = load_decoder(m1), load_decoder(m2)
    assert d1.aligns == d2.aligns  # (two runs: two recordings, each aligned on its own epochs)
    if d1.aligns:
        d1.align_to(a), d2.align_to(a)
    s1, s2 = d1.decision_function(a), d2.decision_function(a)
    np.testing.assert_allclose(s1, s2, rtol=0, atol=1e-5 * np.abs(s2).max())
    assert d1.heldout_auc_ == d2.heldout_auc_


def test_several_folders_and_a_file_pool(session, tmp_path):
    """Two session folders and a plain file: the folders' runs in place, pooled by train,
    scored by evaluate, shown by inspect, simulated by simulate."""
    folder, cfg = session
    second = tmp_path / "s2"
    shutil.copytree(folder.root, second)
    fif = tmp_path / "calibration_raw.fif"
    rawlog_to_fif(folder.root / folder.runs()[0]["rawlog"], fif)
    files = expand_recordings([folder.root, fif, second])
    runs = [r["bids"] for r in folder.runs()]
    assert files == [str(folder.root / r) for r in runs] + [str(fif)] + [str(second / r) for r in runs]
    pre = load_config(cfg).preprocessing
    n = sum(len(load_epochs(f, pre)) for f in files)
    model = tmp_path / "m.pkl"
    res = _cli("--config", cfg, "train", folder.root, fif, second, "--decoder", "lda", "--out", model)
    assert res.returncode == 0, res.stderr
    assert f"Training lda on {n} epochs" in res.stdout
    assert res.stderr.count(": used") == 4
    res = _cli("--config", cfg, "evaluate", model, second, "--n-selections", "20", "--max-repetitions", "2")
    assert res.returncode == 0, res.stderr
    assert f"{len(load_epochs(files[3:], pre))} epochs" in res.stdout and "AUC:" in res.stdout
    res = _cli("inspect", folder.root, fif)
    assert res.returncode == 0, res.stderr
    assert [ln.split()[1] for ln in res.stdout.splitlines() if ln.startswith("file:")] == files[:3]
    res = _cli("inspect", folder.root, "--plot", tmp_path / "erp.png")
    assert res.returncode != 0 and "--plot draws the ERP of one recording" in res.stderr
    phrases = tmp_path / "p.txt"
    phrases.write_text("HI\n")
    res = _cli("--config", cfg, "simulate", "--data", folder.root, "--phrases", phrases, "--decoder", "lda",
               "--n-calibration", "1", "--max-phrases", "1")
    assert res.returncode == 0, res.stderr
    names = [Path(f).name for f in files[:2]]
    assert all(any(ln.startswith(f"- {nm}: lda calibrated on 1") for ln in res.stdout.splitlines()) for nm in names)


def _free_spelling_copy(folder, dest):
    """A copy of the session whose spelling run is free spelling: its phrase marker has no
    text (what a free-spelling run records: ``phrase:test:``)."""
    shutil.copytree(folder.root, dest)
    side = next((dest / "sub-01" / "ses-01" / "eeg").glob("*task-spelling*_events.tsv"))
    text = side.read_text()
    assert "phrase/test/HI\t" in text
    side.write_text(text.replace("phrase/test/HI\t", "phrase/test/\t"))
    return dest


def test_free_spelling_is_skipped_and_a_folder_without_labelled_runs_is_an_error(session, tmp_path):
    folder, cfg = session
    free = _free_spelling_copy(folder, tmp_path / "free")
    notes = []
    assert expand_recordings([free], on_note=notes.append) == [str(free / folder.runs()[0]["bids"])]
    assert any(n.endswith("task-spelling run-1 is free spelling (no known target): skipped.") for n in notes)
    # without its calibration run, nothing is labelled: an error saying what is needed
    meta_path = free / "derivatives" / "neurospell" / "session.json"
    meta = json.loads(meta_path.read_text())
    meta["runs"] = [r for r in meta["runs"] if r["task"] != "calibration"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(NeurospellError, match=r"holds no labelled run \(its runs: task-spelling run-1: free "
                                              r"spelling\).*calibration run or a copy-spelling run"):
        expand_recordings([free])
    res = _cli("--config", cfg, "train", free, "--out", tmp_path / "m.pkl")
    assert res.returncode != 0 and "holds no labelled run" in res.stderr and str(free) in res.stderr
    assert not (tmp_path / "m.pkl").exists()
    empty = SessionFolder.create(tmp_path / "empty").root
    with pytest.raises(NeurospellError, match=r"holds no labelled run \(its runs: none\)"):
        expand_recordings([empty])
    res = _cli("inspect", empty)
    assert res.returncode != 0 and "holds no labelled run" in res.stderr


def test_a_run_never_converted_is_read_from_its_raw_log(session, tmp_path):
    """A session that stopped during a run (no BIDS files for it): the run comes from its raw log,
    labelled the same way, and the note says so."""
    folder, _ = session
    crashed = tmp_path / "crashed"
    shutil.copytree(folder.root, crashed)
    meta_path = crashed / "derivatives" / "neurospell" / "session.json"
    meta = json.loads(meta_path.read_text())
    run = meta["runs"][1]
    run.update(status="recording", bids=None)
    meta_path.write_text(json.dumps(meta))
    for f in (crashed / "sub-01" / "ses-01" / "eeg").glob("*task-spelling*"):
        f.unlink()
    notes = []
    files = expand_recordings([crashed], on_note=notes.append)
    assert files == [str(crashed / meta["runs"][0]["bids"]), str(crashed / run["rawlog"])]
    assert "never converted to BIDS" in notes[1]
    pre = folder.read_config().preprocessing
    np.testing.assert_array_equal(load_epochs(files[1], pre).targets,
                                  load_epochs(str(folder.root / folder.runs()[1]["bids"]), pre).targets)
