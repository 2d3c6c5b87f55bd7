"""Recordings read from a BIDS tree: ``events.tsv`` ``trial_type`` gives the annotations, and a
session folder's copy-spelling flashes are labelled from the copied phrase."""

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pytest

from neurospell.markers import parse_flash, parse_trial
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.copy_labels import label_copy_flashes
from neurospell.preprocessing.read_bids import SESSION_META, events_sidecar
from neurospell.session.demo import SAMPLE_RECORDING
from neurospell.session.sessionformat import DERIVATIVES, SESSION_JSON
from neurospell.types import SpellerLayout

SESSION = Path(__file__).parent / "data" / "sessions" / "parametric-18uv-hello"
SPELL_VHDR = SESSION / "sub-01" / "ses-01" / "eeg" / "sub-01_ses-01_task-spelling_run-1_eeg.vhdr"
SPELL_LOG = SESSION / "sourcedata" / "sub-01" / "ses-01" / "eeg" / "sub-01_ses-01_task-spelling_run-1_eeg.nsraw"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "neurospell", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def _flashes(raw):
    out = []
    for on, d in zip(raw.annotations.onset, raw.annotations.description, strict=True):
        info = parse_flash(d) if not str(d).lstrip("-").isdigit() else None
        if info is not None:
            out.append((on, info.code, info.target))
    return out


def test_session_marker_path_is_the_session_layers():
    assert SESSION_META == DERIVATIVES / SESSION_JSON


def test_bids_run_carries_the_annotations_of_the_recording_it_came_from(tmp_path):
    """mne-bids writes the sample calibration recording as BrainVision (the .vmrk holds integer
    codes only); read back, the run has the original annotations, from events.tsv."""
    orig = load_recording(SAMPLE_RECORDING)
    bp = mne_bids.BIDSPath(subject="01", session="01", task="calibration", run=1, datatype="eeg",
                           root=tmp_path / "bids")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(orig.copy(), bp, format="BrainVision", allow_preload=True, verbose=False)
    vhdr = bp.fpath
    assert vhdr.suffix == ".vhdr" and events_sidecar(vhdr) is not None
    raw = load_recording(vhdr)
    assert list(raw.annotations.description) == list(orig.annotations.description)
    sf = raw.info["sfreq"]
    assert np.abs(raw.annotations.onset - orig.annotations.onset).max() < 0.5 / sf
    # what `inspect` reports: the original's targets and non-targets, no bogus flash codes
    res = _cli("inspect", vhdr)
    assert res.returncode == 0, res.stderr
    n_t = sum(t is True for *_, t in _flashes(orig))
    n_nt = sum(t is False for *_, t in _flashes(orig))
    codes = sorted({c for _, c, _ in _flashes(orig)})
    assert f"(targets {n_t}, non-targets {n_nt}, unlabelled 0)" in res.stdout
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("codes:"))
    assert sorted(int(c.split(":")[0]) for c in line[len("codes:"):].split(",")) == codes
    # without the sidecar the same file reads with the .vmrk's integer codes only: the labels
    # come from events.tsv
    events_sidecar(vhdr).rename(tmp_path / "events.tsv")
    bare = load_recording(vhdr)
    assert not any(parse_flash(d) and parse_flash(d).target for d in bare.annotations.description
                   if not str(d).lstrip("-").isdigit())


def test_events_tsv_without_trial_type_keeps_the_files_markers(tmp_path):
    bp = mne_bids.BIDSPath(subject="01", task="x", datatype="eeg", root=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne_bids.write_raw_bids(load_recording(SAMPLE_RECORDING), bp, format="BrainVision", allow_preload=True,
                                verbose=False)
    side = events_sidecar(bp.fpath)
    lines = side.read_text().splitlines()
    col = lines[0].split("\t").index("trial_type")
    side.write_text("\n".join("\t".join(c for i, c in enumerate(ln.split("\t")) if i != col) for ln in lines) + "\n")
    raw = load_recording(bp.fpath)
    assert any(str(d).startswith("flash/") for d in raw.annotations.description)  # the .vmrk's codes


def test_session_copy_run_reads_as_its_raw_log_with_the_intended_targets():
    """A session folder's copy-spelling run: the BIDS run and the raw log it came from read with
    the same annotations, and each trial's target flashes are the groups of the symbol the live
    session logged as intended for that selection."""
    bids, log = load_recording(SPELL_VHDR), load_recording(SPELL_LOG)
    assert list(bids.annotations.description) == list(log.annotations.description)
    assert np.abs(bids.annotations.onset - log.annotations.onset).max() < 0.5 / bids.info["sfreq"]
    meta = json.loads((SESSION / SESSION_META).read_text())
    layout = SpellerLayout.row_column(meta["config"]["speller"]["symbols"], meta["config"]["speller"]["n_rows"],
                                      meta["config"]["speller"]["n_cols"])
    intended = [r["intended"] for r in map(json.loads, (SESSION / DERIVATIVES / "decisions.jsonl").open())
                if r["type"] == "decision" and r.get("task") == "spelling"]
    trial, per_trial = -1, {}
    for d in bids.annotations.description:
        if parse_trial(d) is not None:
            trial += 1
        info = parse_flash(d) if not str(d).lstrip("-").isdigit() else None
        if info is not None:
            assert info.target is not None, d
            per_trial.setdefault(trial, []).append(info)
    assert len(per_trial) == len(intended)
    for k, want in enumerate(intended):
        groups = set(layout.groups_containing(want))
        assert all(f.target == (f.code - 1 in groups) for f in per_trial[k])
        assert any(f.target for f in per_trial[k])
    res = _cli("inspect", SPELL_VHDR)
    assert res.returncode == 0, res.stderr
    n_t = sum(f.target for fs in per_trial.values() for f in fs)
    n = sum(len(fs) for fs in per_trial.values())
    assert f"flashes:    {n} (targets {n_t}, non-targets {n - n_t}, unlabelled 0)" in res.stdout
    assert max(int(c.split(":")[0]) for c in next(
        ln for ln in res.stdout.splitlines() if ln.startswith("codes:"))[7:].split(",")) <= layout.n_groups


def _raw(descs, onsets):
    info = mne.create_info(["Cz"], 100.0, "eeg")
    raw = mne.io.RawArray(np.zeros((1, 1000)), info, verbose=False)
    raw.set_annotations(mne.Annotations(onsets, 0.0, descs))
    return raw


@pytest.mark.parametrize("symbols, want", [("ABCD", "B"), ("ABC<", "<")])
def test_copy_labels_follow_the_typed_text_and_the_grids_backspace(symbols, want):
    """After a wrong selection the person wants backspace when the grid has one, else the
    phrase's next symbol (the live session's rule); free spelling stays unlabelled."""
    layout = SpellerLayout.row_column(symbols, 2, 2)  # groups: rows (1, 2), columns (3, 4)
    descs = ["phrase/test/AB", "text:", "trial/1", "flash/1", "flash/2", "flash/3", "flash/4", "select:C",
             "text:C", "trial/2", "flash/1", "flash/2", "flash/3", "flash/4", "flash/2/target",
             "phrase/test/", "trial/3", "flash/1"]
    raw = _raw(descs, np.arange(len(descs)) * 0.2)
    n = label_copy_flashes(raw, layout)
    d = list(raw.annotations.description)
    assert d[3:7] == ["flash/1/target", "flash/2/nontarget", "flash/3/target", "flash/4/nontarget"]  # A
    g = set(layout.groups_containing(want))
    assert d[10:14] == [f"flash/{c}/{'target' if c - 1 in g else 'nontarget'}" for c in (1, 2, 3, 4)]
    assert d[14] == "flash/2/target"  # a labelled flash is kept as it is
    assert d[17] == "flash/1"  # free spelling: no known target
    assert n == 8


def test_copy_run_outside_a_session_folder_stays_unlabelled(tmp_path):
    """Without the session's config the grid is unknown: the flashes are not guessed."""
    shutil.copytree(SPELL_LOG, tmp_path / SPELL_LOG.name)
    raw = load_recording(tmp_path / SPELL_LOG.name)
    assert _flashes(raw) and all(t is None for *_, t in _flashes(raw))
