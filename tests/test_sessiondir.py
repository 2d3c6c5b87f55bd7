"""Session folders (BIDS-EEG via mne-bids) and their exact replay.

The session is written from the real sample recording by ``tests/helpers/session_writer.py``,
which plays the live session's part (one rawlog and one stream driver per phase, float32
samples in random chunk sizes, markers a chunk late, flashes and decisions logged as they
happen), with an LDA trained on the calibration phrase and the shipped n-gram LM.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mne_bids
import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.config import Config, load_config
from neurospell.rawlog import read_rawlog
from neurospell.session.sessiondir import SessionFolder, SessionFolderError, replay_session

HELPERS = Path(__file__).resolve().parent / "helpers"
sys.path.insert(0, str(HELPERS.parent))

from helpers.session_writer import write_session  # noqa: E402


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    root = tmp_path_factory.mktemp("sess") / "S01"
    folder, drivers = write_session(root)
    return folder, drivers


def _copy(folder, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(folder.root, dst)
    return dst


def test_replay_reproduces_every_decision_bit_for_bit(session):
    folder, drivers = session
    rep = replay_session(SessionFolder.open(folder.root))
    live = [d for drv in drivers for d in drv.phrases[0].decisions[0]]
    assert rep.same_models and rep.reproduced, rep.first_difference
    assert rep.n_decisions == rep.n_reproduced == len(live) == 8
    assert [r.replayed_text for r in rep.runs] == ["HELLO", "YES"]
    for r in rep.runs:  # every flash: same onset, group and score, bit for bit
        assert len(r.live_flashes) == len(r.replayed_flashes) > 100
        assert r.live_flashes == r.replayed_flashes
    assert f"{len(live)}/{len(live)} decisions reproduced" in "\n".join(rep.lines())


def test_a_changed_score_is_reported_as_the_first_difference(session, tmp_path):
    root = _copy(session[0], tmp_path)
    log = root / "derivatives" / "neurospell" / "decisions.jsonl"
    recs = [json.loads(ln) for ln in log.read_text().splitlines()]
    i = next(k for k, r in enumerate(recs) if r["type"] == "flash" and r.get("task") == "spelling")
    recs[i]["score"] = float(np.nextafter(recs[i]["score"], np.inf))  # one ulp
    j = max(k for k, r in enumerate(recs) if r["type"] == "decision")
    recs[j]["posterior"] = float(np.nextafter(recs[j]["posterior"], -np.inf))
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    rep = replay_session(root)
    assert not rep.reproduced
    assert "flash 1" in rep.first_difference and "run-1" in rep.first_difference
    assert rep.n_reproduced == rep.n_decisions - 1  # the last decision's posterior differs


def test_bids_layout_reads_back_with_mne_bids(session):
    folder, _ = session
    root = folder.root
    assert (root / "dataset_description.json").is_file()
    assert json.loads((root / "derivatives" / "neurospell" / "dataset_description.json").read_text())[
        "DatasetType"] == "derivative"
    assert mne_bids.get_entity_vals(root, "task") == ["calibration", "spelling"]
    assert mne_bids.get_entity_vals(root, "run") == ["1", "2"]
    for task, run in (("calibration", 1), ("spelling", 1), ("spelling", 2)):
        raw = folder.read_raw(task, run)
        rec = next(r for r in folder.runs(task) if r["run"] == run)
        log = read_rawlog(root / rec["rawlog"])
        assert raw.ch_names == log.header["ch_names"]
        assert raw.n_times == log.timestamps.size
        # BrainVision stores float32 microvolts: equal to the recorded volts to float32 precision
        np.testing.assert_allclose(raw.get_data(), log.data, rtol=1e-6, atol=1e-12)
        base = folder.bids_path(task, run).copy().update(extension=".tsv")
        events = (base.copy().update(suffix="events").fpath).read_text().splitlines()
        header = events[0].split("\t")
        types = [ln.split("\t")[header.index("trial_type")] for ln in events[1:]]
        n_flash = sum(t.startswith("flash/") for t in types)
        n_in = sum(1 for m in log.markers if m["label"].startswith("flash:") and m["t"] <= log.timestamps[-1])
        assert n_flash == n_in > 0
        assert any(t.startswith("trial/") for t in types) and any(t.startswith("phrase/") for t in types)
        ch = (base.copy().update(suffix="channels").fpath).read_text().splitlines()
        assert [ln.split("\t")[0] for ln in ch[1:]] == raw.ch_names
        if task == "calibration":
            assert any(t.endswith("/target") for t in types)
        # annotations read by mne-bids are the markers at their samples
        ann = raw.annotations
        fl = [d for d in ann.description if d.startswith("flash/")]
        assert len(fl) == n_flash


def test_config_model_and_lm_are_saved(session):
    folder, _ = session
    f = SessionFolder.open(folder.root)
    assert f.read_config() == Config()
    assert load_config(f.config_path) == Config()  # the TOML loads with --config
    dec = f.load_model(preprocess=Config().preprocessing)
    assert dec.name == "lda" and f.meta["model"]["decoder"] == "lda"
    lm = f.lm_id
    assert lm["name"] == "ngram" and lm["files"] and all(len(h) == 64 for h in lm["files"].values())
    types = {r["type"] for r in f.read_log()}
    assert {"phase", "flash", "posterior", "decision"} <= types


def test_other_models_are_compared_side_by_side(session):
    folder, _ = session
    rep = replay_session(folder.root, lm="uniform")
    assert not rep.same_models and rep.lm == "uniform"
    text = "\n".join(rep.lines())
    assert "live:     'HELLO'" in text and "replayed: " in text
    assert "decisions choose the live symbol" in text
    # the LM changes the posteriors, so the decisions are not the live ones bit for bit
    assert any(a["posterior"] != b["posterior"] for r in rep.runs for a, b in zip(r.live, r.replayed, strict=True))


def test_bad_input_gives_clear_errors(session, tmp_path):
    folder, _ = session
    with pytest.raises(SessionFolderError, match="does not exist"):
        SessionFolder.open(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SessionFolderError, match="is a file"):
        SessionFolder.open(tmp_path / "file.txt")
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("1,2\n")
    with pytest.raises(SessionFolderError, match="not a neurospell session folder"):
        SessionFolder.open(other)
    with pytest.raises(SessionFolderError, match="not a neurospell session folder"):
        SessionFolder.create(other, overwrite=True)  # not ours: never overwritten
    assert (other / "data.csv").is_file()
    root = _copy(folder, tmp_path)
    with pytest.raises(SessionFolderError, match="already holds a session.*overwrite"):
        SessionFolder.create(root)
    with pytest.raises(SessionFolderError, match="BIDS label"):
        SessionFolder.create(tmp_path / "new", subject="01-a")
    new = SessionFolder.create(root, overwrite=True)  # the old one is moved aside, not deleted
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("copy.moved-")]
    assert len(moved) == 1 and SessionFolder.open(moved[0]).runs("spelling")
    with pytest.raises(SessionFolderError, match="no run of task 'spelling' is being recorded"):
        new.finish_phase("spelling")
    new.write_config(Config())
    with pytest.raises(SessionFolderError, match="holds no spelling run"):
        replay_session(new)
    with pytest.raises(SessionFolderError, match="no trained model"):
        new.load_model()
    # a damaged session.json and a missing rawlog are named
    broken = _copy(folder, tmp_path / "b")
    shutil.rmtree(broken / SessionFolder.open(broken).runs("spelling")[0]["rawlog"])
    with pytest.raises(SessionFolderError, match="raw data of task-spelling run-1.*missing"):
        SessionFolder.open(broken)
    (broken / "derivatives" / "neurospell" / "session.json").write_text("{not json")
    with pytest.raises(SessionFolderError, match="damaged"):
        SessionFolder.open(broken)
    assert issubclass(SessionFolderError, NeurospellError)


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "neurospell", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def test_cli_replay_session_folder(session, tmp_path):
    folder, _ = session
    res = _cli("replay", folder.root)
    assert res.returncode == 0, res.stderr
    assert "8/8 decisions reproduced" in res.stdout
    assert "live:     'HELLO'" in res.stdout and "replayed: 'HELLO'" in res.stdout
    res = _cli("replay", folder.root, "--lm", "uniform")
    assert res.returncode == 0, res.stderr
    assert "language model uniform" in res.stdout and "choose the live symbol" in res.stdout
    # another decoder (an LDA trained on the whole recording) without LM
    from neurospell.decoder import make_decoder
    from neurospell.preprocessing import epochs_from_raw, load_recording
    from neurospell.session.demo import SAMPLE_RECORDING

    _, batch = epochs_from_raw(load_recording(SAMPLE_RECORDING), Config().preprocessing)
    other = tmp_path / "other.pkl"
    make_decoder("lda").fit(batch, Config().preprocessing).save(other)
    res = _cli("replay", folder.root, "--decoder", other, "--lm", "uniform")
    assert res.returncode == 0, res.stderr
    assert "with decoder lda and language model uniform" in res.stdout
    assert res.stdout.count("flashes/selection") == 4  # live and replayed, two runs
    res = _cli("replay", folder.root, "--as-lsl")
    assert res.returncode == 2 and "--as-lsl does not apply to a session folder" in res.stderr
    res = _cli("inspect", folder.root, "--no-plot")  # a session folder: each of its labelled runs
    assert res.returncode == 0 and res.stdout.count("file:") == res.stderr.count(": used") >= 1, res.stderr
    # a session whose log disagrees with its data: exit 1 and the first difference
    root = _copy(folder, tmp_path)
    log = root / "derivatives" / "neurospell" / "decisions.jsonl"
    recs = [json.loads(ln) for ln in log.read_text().splitlines()]
    k = next(i for i, r in enumerate(recs) if r["type"] == "decision")
    recs[k]["symbol"] = "Z"
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    res = _cli("replay", root)
    assert res.returncode == 1
    assert "7/8 decisions reproduced" in res.stdout and "first difference: task-spelling run-1 decision 1" in res.stdout


def test_kill9_loses_at_most_one_second_and_the_folder_opens(tmp_path):
    """A session writer killed with SIGKILL mid-phase: the folder opens, <= 1 s is lost."""
    root = tmp_path / "crash"
    proc = subprocess.Popen([sys.executable, str(HELPERS / "session_writer.py"), str(root), "--speed", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ln = proc.stdout.readline()
            if not ln:
                break
            lines.append(ln.split())
            if len(lines) >= 150 and float(lines[-1][0]) - float(lines[0][0]) > 2.5:
                break
        assert len(lines) >= 150, proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    lines += [ln.split() for ln in proc.stdout.read().splitlines() if ln.strip()]
    assert proc.returncode == -signal.SIGKILL
    folder = SessionFolder.open(root)  # read-only: reports the unfinished phase
    left = folder.unfinished()
    assert [(r["task"], r["run"]) for r in left] == [("calibration", 1)]
    log = read_rawlog(root / left[0]["rawlog"])
    assert log.timestamps.size > 0
    walls = np.array([float(w) for w, _ in lines])
    stamps = np.array([float(t) for _, t in lines])
    k = int(np.searchsorted(stamps, log.timestamps[-1]))  # the write that the last kept sample came from
    assert stamps[k] == log.timestamps[-1]
    lost_s = walls[-1] - walls[k]
    assert lost_s <= 1.0, f"{lost_s:.2f} s lost"
    # `neurospell recover SESSION_DIR` converts the crash copy to BIDS; the folder then reads back
    res = _cli("recover", root)
    assert res.returncode == 0, res.stderr
    assert "1 unfinished phase converted to BIDS" in res.stdout and "task-calibration" in res.stdout, res.stdout
    assert "nothing to recover" in _cli("recover", root).stdout
    out = SessionFolder.open(root)
    assert not out.unfinished()
    raw = out.read_raw("calibration", 1)
    assert raw.n_times == log.timestamps.size


def test_log_without_task_fields_maps_phases_to_runs(session, tmp_path):
    """Phase records that name only the phase (copy/free) map to the spelling runs in order."""
    root = _copy(session[0], tmp_path)
    log = root / "derivatives" / "neurospell" / "decisions.jsonl"
    recs = []
    for r in (json.loads(ln) for ln in log.read_text().splitlines()):
        if r["type"] == "phase":
            r = {"type": "phase", "name": r["name"], "t": r["t"], "text": r["text"]}
        else:
            r.pop("task", None)
            r.pop("run", None)
        recs.append(r)
        if r["type"] == "phase" and r["name"] == "calibration":
            recs.append({"type": "phase", "name": "training", "t": r["t"]})
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    rep = replay_session(root)
    assert rep.reproduced and rep.n_decisions == 8, rep.first_difference


def test_a_gap_and_a_backspace_replay_the_same(tmp_path):
    """Samples missing mid-run: epochs over the gap are dropped live and in the replay alike.
    A backspace pressed between selections (a direct selection) is applied at the same point."""
    folder, drivers = write_session(tmp_path / "gap", max_test_phrases=1, drop=(20.0, 20.6), undo_after=2)
    assert drivers[0].epocher.n_dropped_["gap"] > 0
    assert [r["symbol"] for r in folder.read_log() if r["type"] == "select"] == ["<"]
    rep = replay_session(folder.root)
    assert rep.reproduced and rep.n_decisions == 5, rep.first_difference
    assert rep.runs[0].replayed_text == rep.runs[0].live_text == "HLLO"  # 'E' deleted after 'HE'
    # without the direct selection, the replay's text would differ: the log's select record is used
    log = folder.log_path
    log.write_text("".join(ln + "\n" for ln in log.read_text().splitlines() if '"select"' not in ln))
    rep = replay_session(folder.root)
    assert not rep.reproduced and "decision 3" in rep.first_difference
    log = read_rawlog(folder.root / folder.runs("spelling")[0]["rawlog"])
    assert np.diff(log.timestamps).max() > 0.5


def test_kill9_during_spelling_replays_the_decisions_made(tmp_path):
    """Killed mid-spelling: the logged decisions replay exactly from the crash copy."""
    root = tmp_path / "crash2"
    proc = subprocess.Popen([sys.executable, str(HELPERS / "session_writer.py"), str(root), "--speed", "2",
                             "--pace-from", "spelling"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = root / "derivatives" / "neurospell" / "decisions.jsonl"
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            n = log.read_text().count('"type": "decision"') if log.exists() else 0
            if n >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    folder = SessionFolder.open(root)
    assert [(r["task"], r["run"]) for r in folder.unfinished()] == [("spelling", 1)]
    rep = replay_session(folder)
    assert rep.runs[0].truncated and "cut short by a crash" in "\n".join(rep.lines())
    n_logged = sum(r["type"] == "decision" for r in folder.read_log())
    # the data of the last second (2 s of EEG at 2x) may be lost: at most the last decision
    assert rep.reproduced and rep.n_decisions >= max(1, n_logged - 1), rep.first_difference


def test_live_session_folder_replays_every_decision(tmp_path):
    """End to end: `neurospell spell` with the simulated participant over LSL writes a session
    folder; `neurospell replay SESSION_DIR` reproduces every live decision."""
    out = tmp_path / "live"
    cfg = tmp_path / "classic.toml"  # the classic 6x6 grid: the copy ends after two selections, right or wrong
    cfg.write_text("[speller]\nword_cells = 0\n")  # (the word grid's live replay: tests/test_wordcells.py)
    res = _cli("--config", cfg, "spell", "--source", "simulated", "--headless", "--calibrate", "AB", "--copy", "HI",
               "--out", out, "--soa", "0.05", "--inter-trial", "0.2", "--calibration-repetitions", "5",
               "--max-repetitions", "4", "--decoder", "lda", "--lm", "ngram", timeout=240)
    assert res.returncode == 0, res.stderr
    folder = SessionFolder.open(out)
    assert not folder.unfinished()
    assert [(r["task"], r["run"], r["status"]) for r in folder.runs()] == [
        ("calibration", 1, "finished"), ("spelling", 1, "finished")]
    n_live = sum(r["type"] == "decision" and r.get("task") == "spelling" for r in folder.read_log())
    assert n_live >= 2
    rep = replay_session(folder)
    assert rep.reproduced and rep.n_decisions == n_live, rep.first_difference
    assert all(len(r.live_flashes) == len(r.replayed_flashes) > 0 for r in rep.runs)
    res = _cli("replay", out)
    assert res.returncode == 0, res.stderr
    assert f"{n_live}/{n_live} decisions reproduced" in res.stdout
    raw = folder.read_raw("spelling", 1)
    assert any(d.startswith("flash/") for d in raw.annotations.description)
    # the calibration: its recorded raw log, epoched through the replay's feed step, trains the
    # very model the live session trained (the live epochs were the replay's epochs)
    _assert_calibration_replays(folder)


def _assert_calibration_replays(folder):
    from neurospell.acquisition import GapIndexer
    from neurospell.decoder import make_decoder
    from neurospell.preprocessing import OnlineEpocher
    from neurospell.rawlog import read_rawlog
    from neurospell.session.feed import EpocherSink, feed
    from neurospell.session.sessiondir import RawlogReader
    from neurospell.session.train import decoder_params
    from neurospell.types import EpochBatch

    cfg = folder.read_config()
    log = read_rawlog(folder.root / folder.runs("calibration")[0]["rawlog"])
    h = log.header
    pre = cfg.preprocessing
    epocher = OnlineEpocher(pre, float(h["sfreq"]), tuple(h["ch_names"]), tuple(h["ch_types"]),
                            buffer_seconds=max(10.0, 2 * (pre.tmax - pre.tmin) + 1.0))
    batches = []
    feed(RawlogReader(log), EpocherSink(epocher), indexer=GapIndexer(float(h["sfreq"]), 0.05, as_recorded=True),
         on_batch=batches.append, end="flush")
    batch = EpochBatch.concatenate([b for b in batches if len(b)])
    dec = make_decoder(cfg.decoder.name, **decoder_params(cfg.decoder.name, cfg.decoder)).fit(batch, pre)
    live = next(r for r in folder.read_log() if r["type"] == "training")
    assert (len(batch), float(dec.heldout_auc_)) == (live["n_epochs"], live["heldout_auc"])


def test_config_writer_round_trips(tmp_path):
    """The TOML writer: what load_config reads back equals what was written; an unset key whose
    default is set (TOML has no none) is exact through session.json."""
    from neurospell.config import write_config

    cfg = load_config(overrides={"preprocessing": {"notch": 50.0, "baseline": [-0.1, 0.0], "reject_uv": 150.0},
                                 "acquisition": {"board_params": {"serial_port": "/dev/ttyUSB0"}},
                                 "speller": {"symbols": 'AB"C\\D', "n_rows": 2, "n_cols": 3},
                                 "lm": {"alpha": 0.5, "path": "ü/x"}})
    path = write_config(cfg, tmp_path / "c.toml", header="test\nsecond line")
    assert load_config(path) == cfg
    with pytest.raises(FileExistsError):
        write_config(cfg, path)
    import dataclasses

    no_low = dataclasses.replace(cfg, preprocessing=dataclasses.replace(cfg.preprocessing, l_freq=None))
    folder = SessionFolder.create(tmp_path / "s", config=no_low)
    assert "# l_freq: unset (none)" in folder.config_path.read_text()
    assert SessionFolder.open(folder.root).read_config() == no_low


def test_a_run_that_wrote_nothing_is_marked_empty_on_recovery(tmp_path):
    """A crash between rawlog_path() and the first sample: the folder opens and recovers."""
    f = SessionFolder.create(tmp_path / "s", config=Config())
    path = f.rawlog_path("calibration")
    assert f.rawlog_path("calibration") == path and f.current_run("calibration") == 1
    g = SessionFolder.open(f.root)
    assert [r["run"] for r in g.unfinished()] == [1]
    assert g.recover() == []
    h = SessionFolder.open(f.root)
    assert [r["status"] for r in h.runs()] == ["empty"] and not h.unfinished()
    assert h.rawlog_path("calibration") != path and h.current_run("calibration") == 2  # the next run


def _unfinish(root: Path, task: str = "spelling") -> dict:
    """Mark the first run of ``task`` as still recording (as when a phase ends) and return it."""
    meta_path = root / "derivatives" / "neurospell" / "session.json"
    meta = json.loads(meta_path.read_text())
    run = next(r for r in meta["runs"] if r["task"] == task)
    run["status"] = "recording"
    meta_path.write_text(json.dumps(meta))
    return run


def test_a_phase_is_converted_in_another_process_the_same(session, tmp_path, caplog):
    """finish_phase(executor=...): the live session converts each phase's recording to BIDS in
    its training process (no GIL held in the GUI's process); the files are the same as when
    converted here, and a dead process falls back to converting here."""
    from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
    from multiprocessing import get_context

    folder = session[0]
    ref = SessionFolder.open(folder.root).runs("spelling")[0]
    bids_files = sorted(p.relative_to(folder.root) for p in (folder.root / Path(ref["bids"]).parent).iterdir()
                        if "task-spelling_run-1" in p.name)
    assert {p.suffix for p in bids_files} >= {".vhdr", ".eeg", ".vmrk", ".tsv", ".json"}
    pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    try:
        for name, executor in (("here", None), ("process", pool)):
            root = tmp_path / name
            shutil.copytree(folder.root, root)
            for p in bids_files:
                (root / p).unlink()
            _unfinish(root)
            f = SessionFolder.open(root)
            path = f.finish_phase("spelling", executor=executor)
            run = SessionFolder.open(root).runs("spelling")[0]
            assert path == root / ref["bids"] and run["status"] == "finished"
            for key in ("bids", "n_samples", "n_markers_outside_data", "truncated"):
                assert run[key] == ref[key], key
            for p in bids_files:  # byte for byte what the in-thread conversion wrote
                assert (root / p).read_bytes() == (folder.root / p).read_bytes(), p
        # the process died: the conversion runs here, with a warning; nothing is lost
        with pytest.raises(BrokenExecutor):
            pool.submit(os._exit, 1).result(timeout=60)
        root = tmp_path / "broken"
        shutil.copytree(tmp_path / "process", root)
        (root / ref["bids"]).unlink()
        _unfinish(root)
        caplog.set_level("WARNING", logger="neurospell")
        path = SessionFolder.open(root).finish_phase("spelling", executor=pool)
        assert path.is_file() and path.read_bytes() == (folder.root / ref["bids"]).read_bytes()
        assert any("conversion process is gone" in r.getMessage() for r in caplog.records)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
