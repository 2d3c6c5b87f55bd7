"""Online adaptation of a live session: self-labelling, refits in the training process, models
swapped in between selections, and the exact replay of the swaps.

The end-to-end test runs a real live session over LSL loopback with the real simulated
participant process (parametric P300), starting with no calibration from the model a
recorded session trained (tests/data/sessions), on a grid with a backspace so the
participant corrects its errors.
"""

import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neurospell.config import Config
from neurospell.decoder import load_decoder, make_decoder
from neurospell.session.headless import HeadlessDisplay
from neurospell.session.live import LiveSession, Start, Stop
from neurospell.session.live.adaptation import label_selection
from neurospell.session.modelswitch import SwitchingDecoder
from neurospell.session.sessiondir import SessionFolder, replay_session
from neurospell.types import EpochBatch, SpellerLayout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_live import Loop  # noqa: E402

SESSIONS = Path(__file__).resolve().parent / "data" / "sessions"
START_MODEL = SESSIONS / "parametric-18uv-hello" / "derivatives" / "neurospell" / "model.pkl"
GRID = "ABCDEFGHIJKLMNOPQRSTUVWXYZ12345678 <"


def _batch(codes, rng, n_ch=3, n_t=20, trials=None):
    codes = np.asarray(codes)
    return EpochBatch(rng.normal(size=(len(codes), n_ch, n_t)) * 1e-6, codes, np.arange(len(codes)) * 0.1, 0.0,
                      100.0, tuple(f"C{i}" for i in range(n_ch)), trials=trials)


def test_label_selection_marks_the_flashes_of_the_kept_symbol():
    rng = np.random.default_rng(0)
    layout = SpellerLayout.row_column(tuple(GRID), 6, 6)
    codes = [1, 2, 7, 8, 9, 0, 12]  # rows 0, 1; columns 0, 1, 2; an unknown code; column 5
    b = label_selection(_batch(codes, rng, trials=np.zeros(len(codes), int)), layout, "H")  # row 1, column 1
    assert list(b.codes) == [1, 2, 7, 8, 9, 12]  # the flash of unknown group is left out
    assert list(b.targets) == [False, True, False, True, False, False]
    b = label_selection(_batch(codes, rng), layout, "<")  # row 5, column 5
    assert list(b.targets) == [False, False, False, False, False, True]


def _fitted(seed):
    rng = np.random.default_rng(seed)
    codes = np.tile(np.arange(1, 13), 10)
    b = _batch(codes, rng, trials=np.repeat(np.arange(10), 12))
    y = rng.random(len(codes)) < 0.3
    data = b.data.copy()
    data[y, :, 5:10] += 2e-6 * (1 + seed)
    b = EpochBatch(data, b.codes, b.onsets, b.tmin, b.sfreq, b.ch_names, targets=y, trials=b.trials)
    return make_decoder("lda").fit(b), b


class _Counter:  # what SwitchingDecoder reads of a driver: the flashes it handed on
    n_flashes = 0


def test_switching_decoder_scores_each_flash_with_the_model_in_force():
    a, batch = _fitted(0)
    b, _ = _fitted(1)
    sw = SwitchingDecoder(a, [(1, 5, b)])
    drv = _Counter()
    sw.bind(drv, 1)
    one = [sw.decision_function(batch.subset([i]))[0] for i in range(3)]
    rest = sw.decision_function(batch.subset(list(range(3, 9))))  # straddles the switch at flash 5
    # (the same batches as the calls: a decoder's last bits depend on the batch size)
    want = np.r_[[a.decision_function(batch.subset([i]))[0] for i in range(3)],
                 a.decision_function(batch.subset([3, 4])), b.decision_function(batch.subset([5, 6, 7, 8]))]
    np.testing.assert_array_equal(np.r_[one, rest], want)
    # the engine's likelihoods: the model in force at the flash being added (the driver's count)
    drv.n_flashes = 5  # adding flash index 4: still a's
    np.testing.assert_array_equal(sw.score_model_.log_likelihoods([0.3])[0], a.score_model_.log_likelihoods([0.3])[0])
    drv.n_flashes = 6
    np.testing.assert_array_equal(sw.score_model_.log_likelihoods([0.3])[0], b.score_model_.log_likelihoods([0.3])[0])
    sw.bind(drv, 2)  # a later run starts with the last model
    drv.n_flashes = 1
    assert sw.model_at_flash() is b and sw.current is b and sw.name == a.name
    with pytest.raises(Exception, match="before the last one"):
        sw.add(1, 0, a)


def _config(**speller):
    base = Config()
    sp = dict(symbols=GRID, soa=0.1, flash_duration=0.05, inter_trial=0.2, max_repetitions=4, pause_after=0.5,
              max_minutes=3.0, max_selections=14, adapt=True, adapt_min_selections=2, adapt_every=1,
              adapt_require_better=False)
    sp.update(speller)
    return dataclasses.replace(base, speller=dataclasses.replace(base.speller, **sp))


def test_live_session_adapts_between_selections_and_replays_exactly(tmp_path):
    cfg = _config()
    lp = Loop("HELLO", "--amplitude", 18)
    try:
        folder = SessionFolder.create(tmp_path / "sess", config=cfg)
        display = HeadlessDisplay.from_config(cfg.speller)
        start = load_decoder(START_MODEL, preprocess=cfg.preprocessing)
        s = LiveSession(cfg, lp.source, display, marker_outlet=lp.outlet, decoder=start, copy_text="HELLO",
                        folder=folder, seed=2)
        s.start()
        s.submit(Start())
        deadline = time.monotonic() + 150.0
        while s.running and time.monotonic() < deadline:
            time.sleep(0.05)
        if s.running:
            s.submit(Stop())
        res = s.join(30.0)
        display.close()
    finally:
        lp.close()
    assert res.decisions, res.stop_reason
    adapt = s._adapt
    log = SessionFolder.open(tmp_path / "sess").read_log()
    refits = [r for r in log if r["type"] == "refit"]
    applied = [r for r in refits if r.get("applied")]
    assert applied, (refits, [d.symbol for d in res.decisions])
    assert s.model is adapt.wrapper.current and adapt.wrapper.n_switches == len(applied)
    decisions = [r for r in log if r["type"] == "decision"]
    symbols = [d["symbol"] for d in decisions]
    for r in applied:
        path = tmp_path / "sess" / r["model"]
        assert path.is_file() and r["model"].startswith("derivatives/neurospell/models/refit-")
        # the selections it used were kept: the next decision was not a backspace, and it came after them
        for sel in r["selections"]:
            assert sel["trial"] < len(symbols) and symbols[sel["trial"]] != "<"
            assert sel["symbol"] == symbols[sel["trial"] - 1]
        assert 0 < r["from_selection"] <= len(decisions) and r["after_flash"] > 0
    # each selection labels its flashes once, in order
    trials = [sel["trial"] for sel in refits[-1]["selections"]]
    assert trials == sorted(set(trials))
    # the session's starting model is the folder's model; the replay switches where the session did
    rep = replay_session(tmp_path / "sess")
    assert rep.reproduced, "\n".join(rep.lines())
    assert rep.n_decisions == len(decisions)
    # without the refit records the replay scores with the starting model: it differs at the first
    # flash after the first switch
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "sess", copy)
    logf = copy / "derivatives" / "neurospell" / "decisions.jsonl"
    logf.write_text("".join(json.dumps(r) + "\n" for r in log if r["type"] != "refit"))
    rep2 = replay_session(copy)
    assert not rep2.reproduced
    assert f"flash {applied[0]['after_flash'] + 1}:" in rep2.first_difference, rep2.first_difference
    # a refit model changed after the session: a clear error names it
    (tmp_path / "sess" / applied[0]["model"]).write_bytes(b"not a model")
    with pytest.raises(Exception, match="SHA-256 differs"):
        replay_session(tmp_path / "sess")


def test_zero_calibration_with_the_generic_model_aligns_online_and_replays(gtec_files, tmp_path):
    """`spell --model generic --no-calibration`: the shipped cross-subject model spells at once for
    a participant (real epochs of S1), aligned on the session's own unlabelled epochs as they come;
    the folder replays every decision."""
    import subprocess

    from neurospell.decoder.generic import generic_model_path

    out = tmp_path / "sess"
    run = subprocess.run([sys.executable, "-m", "neurospell", "spell", "--headless", "--source", "simulated",
                          "--participant-data", str(gtec_files[0]), "--copy", "SEE", "--model", "generic",
                          "--no-calibration", "--max-selections", "3", "--out", str(out)],
                         capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "calibration" not in [p["task"] for p in SessionFolder.open(out).runs()]
    start = load_decoder(out / "derivatives" / "neurospell" / "model.pkl")
    shipped = load_decoder(generic_model_path())
    assert start.aligns and start.alignment_target_ is None and not start.aligns_online
    assert start.provenance_["training"] == shipped.provenance_["training"]
    decisions = [r for r in SessionFolder.open(out).read_log() if r["type"] == "decision"]
    assert decisions
    rep = replay_session(out)
    assert rep.reproduced, "\n".join(rep.lines())
