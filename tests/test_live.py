"""The live closed loop over real LSL on loopback with a real simulated-participant process.

A headless display flashes, the markers go out on an LSL outlet with the display's onsets,
the participant process answers them with EEG over LSL, an LslSource reads it back, and
the LiveSession calibrates, trains, and spells. No mocks, no fixed sleeps (deadlines).
"""

import dataclasses
import time
import uuid

import pytest

from neurospell.acquisition import LslMarkerOutlet, LslSource
from neurospell.cli import main
from neurospell.config import Config
from neurospell.lsl import get_pylsl
from neurospell.markers import copy_selection_limit
from neurospell.session.headless import HeadlessDisplay
from neurospell.session.live import (
    LiveSession,
    Pause,
    Resume,
    Select,
    SetPhase,
    Start,
    Stop,
)
from neurospell.session.sessiondir import SessionFolder, replay_session
from neurospell.session.simulator import ParticipantProcess

DEADLINE = 120.0


def _config(decoder="xdawncov-ts-lr", **speller):
    base = Config()
    sp = dict(soa=0.08, flash_duration=0.05, inter_trial=0.2, calibration_repetitions=2, max_repetitions=4,
              pause_after=0.5, max_minutes=3.0)
    sp.update(speller)
    return dataclasses.replace(base, speller=dataclasses.replace(base.speller, **sp),
                               decoder=dataclasses.replace(base.decoder, name=decoder))


class Loop:
    """Marker outlet + participant process + LslSource reading both, torn down in order."""

    def __init__(self, phrase, *participant_args):
        get_pylsl()
        self.markers = f"neurospell-test-markers-{uuid.uuid4().hex[:8]}"
        self.outlet = LslMarkerOutlet(self.markers)
        self.args = ("--seed", 3, *participant_args)
        self.phrase = phrase
        self.participant = ParticipantProcess(phrase, self.markers, args=self.args)
        self.source = LslSource(self.participant.name, marker_name=self.markers, timeout=30.0)
        self.source.start()
        assert self.participant.wait_connected(60.0), self.participant.lines

    def restart_participant(self):
        self.participant = ParticipantProcess(self.phrase, self.markers, name=self.participant.name,
                                              args=self.args)

    def close(self):
        self.source.stop()
        self.participant.close()
        self.outlet.close()


@pytest.fixture
def loop_factory():
    made = []

    def make(*args):
        lp = Loop(*args)
        made.append(lp)
        return lp

    yield make
    for lp in made:
        lp.close()


def _wait(predicate, session, timeout=DEADLINE, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if not session.running:
            break
        if time.monotonic() > deadline:
            session.submit(Stop())
            pytest.fail(f"timed out after {timeout} s waiting for {what}; last snapshot {session.snapshot()}")
        time.sleep(0.02)


def test_calibrate_train_copy_spell_high_snr(loop_factory, tmp_path):
    """High SNR: calibration, training, copy spelling >= 90 % correct, in time; the folder replays exactly."""
    # shrinkage LDA: steady on a short calibration; responses overlap less than at 0.08 s
    # at least 2 repetitions: one missed P300 (hit probability 0.95) cannot decide alone
    # 3 calibration repetitions: 4 characters give 24 target epochs, so a held-out AUC is not at the
    # mercy of one or two of them
    cfg = _config("lda", soa=0.15, min_repetitions=2, calibration_repetitions=3)
    lp = loop_factory("NO", "--amplitude", 40)
    folder = SessionFolder.create(tmp_path / "sess", config=cfg)
    display = HeadlessDisplay.from_config(cfg.speller)
    s = LiveSession(cfg, lp.source, display, marker_outlet=lp.outlet, calibration_text="BCIX",
                    copy_text="NO", folder=folder, seed=1)
    phases = []
    t0 = time.monotonic()
    s.start()
    assert s.snapshot().phase == "idle"
    s.submit(Start())
    _wait(lambda: (phases.append(s.snapshot().phase) or s.snapshot().phase in ("stopped", "error")), s,
          what="the session to end")
    res = s.join(10.0)
    elapsed = time.monotonic() - t0
    display.close()
    assert {"calibration", "training", "copy"} <= set(phases)
    # each target epoch is without a P300 with probability 0.05 (the participant's hit rate)
    assert res.training_report["heldout_auc"] > 0.8, (res.pauses, lp.participant.lines[-3:])
    assert res.training_report["erp_target"].shape == res.training_report["erp_nontarget"].shape
    assert res.accuracy >= 0.9, (res.text, res.decisions)
    assert res.text == "NO"
    assert res.stop_reason == "all phases complete"
    assert res.n_discarded == 0 and res.n_scored == res.n_flashes
    assert 0 < res.flashes_per_char <= cfg.speller.max_repetitions * 12
    assert res.itr > 0 and res.chars_per_minute > 0
    assert elapsed < DEADLINE
    snap = s.snapshot()
    assert snap.phase == "stopped" and snap.text == "NO" and snap.n_decisions == 2
    # the session folder: the model, the runs, the decision log; a replay reproduces every decision
    report = replay_session(tmp_path / "sess")
    assert report.reproduced, "\n".join(report.lines())
    log = SessionFolder.open(tmp_path / "sess").read_log()
    assert sum(r["type"] == "decision" for r in log) == 2
    assert sum(r["type"] == "flash" for r in log) == res.n_scored


def test_no_p300_stays_near_chance_and_stops(loop_factory):
    """Amplitude 0: calibration finds nothing, copy spelling ends on its stop conditions."""
    # 3 repetitions (18 targets, 90 non-targets): a chance AUC's SD is then 0.075, so < 0.75 is
    # > 3 SD (with 1 repetition, 6 targets, it was 0.13: 0.756 was seen)
    cfg = _config(soa=0.06, calibration_repetitions=3, max_repetitions=2, max_consecutive_errors=2,
                  max_selections=4)
    lp = loop_factory("HELLO", "--amplitude", 0)
    display = HeadlessDisplay.from_config(cfg.speller)
    s = LiveSession(cfg, lp.source, display, marker_outlet=lp.outlet, calibration_text="ABC",
                    copy_text="HELLO", seed=2)
    s.start()
    s.submit(Start())
    _wait(lambda: s.snapshot().phase in ("stopped", "error"), s, what="the stop condition")
    res = s.join(10.0)
    display.close()
    assert res.training_report["heldout_auc"] < 0.75
    assert res.stop_reason.startswith(("max_consecutive_errors", "max_selections")), res.stop_reason
    assert res.accuracy <= 0.5, res.decisions
    assert res.n_selections <= 4


def test_copy_without_stop_rules_ends_at_the_copy_limit(loop_factory):
    """No P300 and no stop rule set: copy spelling does not type on forever, it ends after
    ``copy_selection_limit`` selections and says why (a headless run once never ended)."""
    phrase = "QXZ"
    cfg = _config(soa=0.05, calibration_repetitions=2, max_repetitions=1, max_minutes=0.0,
                  symbols="ABCDEFGHIJKLMNOPQRSTUVWXYZ <.?", n_rows=5)  # (backspace: corrections)
    assert cfg.speller.max_selections == 0 and cfg.speller.max_consecutive_errors == 0
    lp = loop_factory(phrase, "--amplitude", 0)
    display = HeadlessDisplay.from_config(cfg.speller)
    s = LiveSession(cfg, lp.source, display, marker_outlet=lp.outlet, calibration_text="AB",
                    copy_text=phrase, seed=2)
    s.start()
    s.submit(Start())
    _wait(lambda: s.snapshot().phase in ("stopped", "error"), s, timeout=240.0, what="the copy limit")
    res = s.join(10.0)
    display.close()
    limit = copy_selection_limit(phrase)
    assert res.n_selections == limit, (res.stop_reason, res.decisions)
    assert res.stop_reason.startswith(f"copy phrase {phrase!r} not typed after {limit} selections"), res.stop_reason


def test_participant_killed_and_restarted_mid_phrase(loop_factory, tmp_path):
    """The EEG stream vanishes mid-phrase: the session pauses and says why, reports the gap,
    resumes when the stream is back, and scores no flash over the missing stretch."""
    cfg = _config(soa=0.06, calibration_repetitions=1, max_repetitions=2, max_selections=3)
    lp = loop_factory("HELLO", "--amplitude", 20)
    folder = SessionFolder.create(tmp_path / "sess", config=cfg)
    display = HeadlessDisplay.from_config(cfg.speller)
    s = LiveSession(cfg, lp.source, display, marker_outlet=lp.outlet, calibration_text="AB",
                    folder=folder, seed=3)
    s.start()
    s.submit(Start())
    _wait(lambda: s.snapshot().phase == "free" and s.snapshot().n_flashes > 24 + 6, s, what="free spelling")
    lp.participant.kill()
    _wait(lambda: not s.snapshot().source_ok, s, 30.0, "the session to notice the lost stream")
    snap = s.snapshot()
    assert snap.phase == "paused" and "no samples" in snap.source_problem
    n_paused = snap.n_flashes
    lp.restart_participant()
    _wait(lambda: s.snapshot().source_ok, s, 60.0, "the session to resume")
    _wait(lambda: s.snapshot().phase in ("stopped", "error"), s, what="the session to end")
    res = s.join(10.0)
    display.close()
    assert res.stop_reason.startswith("max_selections")
    assert len(res.pauses) >= 1 and res.pauses[0]["duration"] > 0
    assert len(res.gaps) >= 1
    assert s.snapshot().n_flashes > n_paused  # flashing went on after the pause
    gap = res.gaps[0]
    tmax = cfg.preprocessing.tmax
    scored = [r["t"] for r in SessionFolder.open(tmp_path / "sess").read_log() if r["type"] == "flash"]
    assert scored
    over_gap = [t for t in scored if gap["t"] - tmax < t <= gap["t"] + gap["duration"]]
    assert not over_gap, f"flashes scored over the missing stretch {gap}: {over_gap}"
    gaps_logged = [r for r in SessionFolder.open(tmp_path / "sess").read_log() if r["type"] == "gap"]
    assert gaps_logged


def test_pause_resume_intents(loop_factory):
    """A user's Pause stops the flashing (phase "paused"); Resume goes on; a direct Select types;
    Stop ends the session."""
    cfg = _config(soa=0.06, calibration_repetitions=1, max_repetitions=2)
    lp = loop_factory("HELLO", "--amplitude", 20)
    display = HeadlessDisplay.from_config(cfg.speller)
    s = LiveSession(cfg, lp.source, display, marker_outlet=lp.outlet, calibration_text="AB", seed=4)
    s.start()
    s.submit(Start())
    _wait(lambda: s.snapshot().phase == "free", s, what="free spelling")
    s.submit(Pause())
    _wait(lambda: s.snapshot().phase == "paused", s, 10.0, "the pause")
    n = s.snapshot().n_flashes
    t_end = time.monotonic() + 0.5
    while time.monotonic() < t_end:  # observe the paused session for a while: no new flash
        assert s.snapshot().phase == "paused"
        time.sleep(0.02)
    assert s.snapshot().n_flashes <= n + 1  # at most the flash being shown when the pause came
    s.submit(Resume())
    _wait(lambda: s.snapshot().n_flashes > n + 12, s, 20.0, "flashing to go on")
    s.submit(Select("Z"))  # a symbol chosen directly (a key, a click) goes into the text
    _wait(lambda: "Z" in s.snapshot().text, s, 20.0, "the selected symbol")
    s.submit(Stop())
    res = s.join(20.0)
    display.close()
    assert res.stop_reason == "stopped by the user"
    assert s.snapshot().phase == "stopped"


def test_spell_command_synthetic_board(capsys, tmp_path):
    """`neurospell spell --source synthetic` runs the loop end to end on BrainFlow's synthetic board."""
    cfg = tmp_path / "classic.toml"  # the classic 6x6 grid: no backspace, one selection per character
    cfg.write_text("[speller]\nword_cells = 0\n")
    rc = main(["--config", str(cfg), "spell", "--source", "synthetic", "--headless", "--copy", "HI", "--calibrate", "AB",
               "--decoder", "xdawncov-ts-lr", "--lm", "uniform", "--soa", "0.05", "--inter-trial", "0.1",
               "--calibration-repetitions", "1", "--max-repetitions", "2", "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.count("selected ") == 2
    assert "accuracy" in out and "chars/min" in out and "ITR" in out and "flashes/char" in out
    assert SessionFolder.open(tmp_path / "s").read_log()


@pytest.mark.parametrize("argv, flag", [
    (["spell", "--source", "bogus", "--headless"], "--source"),
    (["spell", "--headless", "--copy", "hello"], "--copy"),
    (["spell", "--copy", "HI"], "--headless"),
    (["spell", "--headless", "--decoder", "nope"], "--decoder"),
    (["spell", "--source", "synthetic", "--headless", "--amplitude", "3"], "--amplitude"),
    (["spell", "--headless", "--soa", "0"], "--soa"),
])
def test_spell_command_bad_input(capsys, argv, flag):
    assert main(argv) == 2
    assert flag in capsys.readouterr().err


def test_worker_error_is_in_the_snapshot_and_reraised_by_join():
    """A failure in the worker ends in phase "error" with the reason, and join() re-raises it.

    Here the markers go out on an LSL outlet that the recording side (BrainFlow's synthetic
    board) never reads: the session pauses the calibration because its markers are not
    recorded; the user asks for training anyway, and there is no labelled epoch to train on.
    """
    from neurospell.acquisition import open_source
    from neurospell.check import NeurospellError

    pylsl = get_pylsl()
    cfg = _config(soa=0.05, calibration_repetitions=1)
    source = open_source("synthetic", cfg.acquisition)
    source.start()
    outlet = LslMarkerOutlet(f"neurospell-test-markers-{uuid.uuid4().hex[:8]}")
    inlet = pylsl.StreamInlet(pylsl.resolve_byprop("name", outlet.name, 1, 10.0)[0])
    inlet.open_stream(10.0)
    display = HeadlessDisplay.from_config(cfg.speller)
    try:
        with pytest.raises(NeurospellError, match="decoder_name"):
            LiveSession(cfg, source, display, calibration_text="AB", decoder_name="no-such-decoder")
        s = LiveSession(cfg, source, display, calibration_text="AB", marker_outlet=outlet, seed=5)
        s.start()
        s.submit(Start())
        _wait(lambda: s.snapshot().marker_problem is not None, s, 60.0, "the markers to be missed")
        snap = s.snapshot()
        assert snap.phase == "paused" and outlet.name in snap.marker_problem
        assert 0 < snap.n_flashes < 24  # the calibration flashed, then paused
        s.submit(SetPhase("training"))
        _wait(lambda: s.snapshot().phase in ("error", "stopped"), s, 60.0, "the error")
        with pytest.raises(NeurospellError, match="no labelled epochs"):
            s.join(10.0)
        snap = s.snapshot()
        assert snap.phase == "error" and "no labelled epochs" in snap.error
        assert snap.n_discarded >= 1  # the flashes whose markers were not recorded
        assert display.n_subscribers == 0  # the ended session no longer gets the display's onsets
    finally:
        display.close()
        inlet.close_stream()
        outlet.close()
        source.stop()


def _labelled_batch(rng):
    """Six calibration characters of 3 repetitions (codes 2 and 9 are the targets)."""
    import numpy as np

    from neurospell.types import EpochBatch

    n_chars, n_reps, n_groups, n_times = 6, 3, 12, 52
    n = n_chars * n_reps * n_groups
    codes = np.tile(np.arange(1, n_groups + 1), n_chars * n_reps)
    trials = np.repeat(np.arange(n_chars), n_reps * n_groups)
    targets = np.isin(codes, [2, 9])
    data = rng.normal(0, 1e-5, (n, 4, n_times)).astype(np.float32)
    data[targets, :, 15:25] += 2e-5
    return EpochBatch(data, codes, np.arange(n) * 0.2, 0.0, 64.0, ("C3", "Cz", "C4", "Pz"),
                      targets=targets, trials=trials)


def test_training_process_gives_the_same_model():
    """The decoder fitted in the training process (spawned, so that a GUI in this process
    keeps the GIL) is the model a fit in this process gives: same scores, bit for bit."""
    import numpy as np

    from neurospell.decoder import make_decoder
    from neurospell.session.live import fit_in_process
    from neurospell.session.train import decoder_params

    batch = _labelled_batch(np.random.default_rng(0))
    config = Config()
    name = "xdawncov-ts-lr"
    params = decoder_params(name, config.decoder)
    here = make_decoder(name, **params).fit(batch, config.preprocessing)
    there = fit_in_process(name, params, batch, config.preprocessing)
    assert type(there) is type(here)
    np.testing.assert_array_equal(there.decision_function(batch), here.decision_function(batch))
    assert there.heldout_auc_ == here.heldout_auc_


def test_training_process_gives_the_same_model_weight_and_report(tmp_path):
    """The whole training phase in the training process (fit, LM weight with an LM rebuilt
    there by name, model file, ERP averages, accuracy vs repetitions) gives what it gives
    here, bit for bit; an LM that is not the registry's is pickled there."""
    import numpy as np

    from neurospell.decoder import load_decoder
    from neurospell.lm_fusion import make_model
    from neurospell.session.live import train_decoder, train_in_process
    from neurospell.session.train import decoder_params

    batch = _labelled_batch(np.random.default_rng(1))
    config = Config()
    layout = config.speller.layout()
    name = "xdawncov-ts-lr"
    params = decoder_params(name, config.decoder)
    lm = make_model("ngram", config.lm)
    prov = {"calibration_text": "ABCDEF"}
    steps_here, steps_there = [], []
    here, rep_here = train_decoder(name, params, batch, config, layout, lm=lm, lm_name="ngram", seed=4,
                                   provenance=prov, model_path=tmp_path / "here.pkl",
                                   progress=lambda f, s: steps_here.append((f, s)))
    there, rep_there, lm_done = train_in_process(name, params, batch, config, layout, lm=lm, lm_name="ngram",
                                                 seed=4, provenance=prov, model_path=tmp_path / "there.pkl",
                                                 progress=lambda f, s: steps_there.append((f, s)))
    # the training process reports its stages as it goes (a GUI's progress bar): the same
    # stages as here, after loading the LM, in order, ending at 1
    assert [s for _, s in steps_here] == [f"fitting {name} on {len(batch)} epochs", "choosing the LM weight",
                                          "saving the model", "ERP averages and accuracy by repetitions", "done"]
    assert steps_there == [(0.0, "loading the language model ngram"), *steps_here]
    fractions = [f for f, _ in steps_there]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(set(fractions)) == len(fractions)
    assert lm_done and rep_there["lm_alpha"] == rep_here["lm_alpha"] is not None
    assert there.provenance_["lm_alpha"] == here.provenance_["lm_alpha"]
    assert there.provenance_["live_session"] == prov
    for key in ("erp_target", "erp_nontarget", "times"):
        np.testing.assert_array_equal(rep_there[key], rep_here[key])
    assert rep_there["erp_target"].shape == (4, batch.data.shape[2])
    for key in ("heldout_auc", "n_epochs", "n_targets", "accuracy_vs_repetitions", "ch_names", "decoder"):
        assert rep_there[key] == rep_here[key], key
    assert rep_there["model_path"] == str(tmp_path / "there.pkl")
    saved = load_decoder(tmp_path / "there.pkl")
    np.testing.assert_array_equal(saved.decision_function(batch), here.decision_function(batch))
    assert saved.provenance_["lm_alpha"] == here.provenance_["lm_alpha"]
    # an LM the registry does not build (trained here on a few lines): pickled there, same weight
    from neurospell.lm_fusion.ngram import NgramLM

    small = NgramLM(order=3).fit(["HOW ARE YOU", "I WOULD LIKE SOME WATER", "CAN YOU CALL ME"])
    for lm_name in ("my-ngram", "ngram"):  # (named "ngram": the rebuilt one differs, the weight is left to us)
        _, rep_mine = train_decoder(name, params, batch, config, layout, lm=small, lm_name=lm_name, seed=4)
        _, rep_other, done = train_in_process(name, params, batch, config, layout, lm=small, lm_name=lm_name,
                                              seed=4)
        if lm_name == "ngram":
            assert not done and rep_other["lm_alpha"] is None
            continue
        assert done and rep_other["lm_alpha"] == rep_mine["lm_alpha"] is not None


def test_accuracy_vs_repetitions_of_the_calibration():
    """Held-out character accuracy per repetition from the calibration flashes' scores."""
    import numpy as np

    from neurospell.session.repetitions import accuracy_vs_repetitions
    from neurospell.types import EpochBatch

    layout = Config().speller.layout()
    n_g, n_rep, chars = layout.n_groups, 3, [0, 7, 14, 20]
    codes, trials, targets = [], [], []
    for t, sym in enumerate(chars):
        for _ in range(n_rep):
            for g in range(n_g):
                codes.append(g + 1)
                trials.append(t)
                targets.append(sym in layout.flash_groups[g])
    codes, trials, targets = np.array(codes), np.array(trials), np.array(targets)
    n = codes.size
    batch = EpochBatch(np.zeros((n, 1, 4)), codes, np.arange(n) * 0.1, 0.0, 100.0, ("Cz",),
                       targets=targets, trials=trials)
    # the engine's score model: one variance for both classes, so its log-likelihood ratio
    # grows linearly with the score and a symbol's evidence ranks as its summed scores
    from neurospell.decoder import ScoreModel

    rng = np.random.default_rng(0)
    model = ScoreModel().fit(np.r_[rng.normal(0.0, 0.3, 300), rng.normal(1.0, 0.3, 300)],
                             np.r_[np.zeros(300), np.ones(300)].astype(bool))
    # perfect scores: every character right from the first repetition
    assert accuracy_vs_repetitions(batch, targets.astype(float), layout, model) == [1.0] * n_rep
    # the first repetition of character 0 points at another symbol; the third outweighs it
    scores = targets.astype(float)
    other = next(s for s in range(len(layout.symbols)) if s != chars[0] and
                 not any(s in g and chars[0] in g for g in layout.flash_groups))
    first = slice(0, n_g)
    scores[first] = [1.5 if other in layout.flash_groups[g] else 0.0 for g in range(n_g)]
    assert accuracy_vs_repetitions(batch, scores, layout, model) == [0.75, 0.75, 1.0]
    # no trial markers: no curve
    assert accuracy_vs_repetitions(dataclasses.replace(batch, trials=None), scores, layout, model) is None
