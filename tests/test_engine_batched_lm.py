"""The engine's batched language-model step (``LanguageModel.prefetch``: the candidate
beam's contexts and the next prior in one transformer pass) changes no result, bit for bit."""

from __future__ import annotations

import numpy as np

from neurospell.decoder import ScoreModel
from neurospell.lm_fusion import make_model
from neurospell.session import ScoreSampler, SpellerEngine
from neurospell.types import SpellerLayout

# a 6 x 6 grid with a backspace, so that the beam holds texts of different lengths
LAYOUT = SpellerLayout.row_column(tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ12345678< "))


def _run(lm, batched: bool):
    if not batched:
        lm._prefetch = lambda contexts: None  # every context computed alone, when asked
        for m in getattr(lm, "models", ()):
            m._prefetch = lambda contexts: None
    rng = np.random.default_rng(3)
    t_s, n_s = rng.normal(1.0, 1, 500), rng.normal(0, 1, 2500)
    sm = ScoreModel().fit(np.r_[t_s, n_s], np.r_[np.ones(500, bool), np.zeros(500 * 5, bool)])
    who = ScoreSampler(t_s, n_s, rng)
    engine = SpellerEngine(LAYOUT, sm, lm, seed=1, beam_width=8, stop_threshold=0.9)
    out = []
    for sym in "HOW ARE YOU<U TODAY":
        done = False
        while not done:
            groups = engine.next_flashes()
            for g, s in zip(groups, who.respond_flashes(LAYOUT, sym, groups), strict=True):
                events = engine.on_flash(g, float(s))
                if events:
                    dec, _, cands = events
                    out.append((dec.decision.symbol, dec.n_flashes, dec.text, dec.posterior.logp, dec.prior.logp,
                                [(c.text, c.score) for c in cands.candidates]))
                    done = True
                    break
    return out


def test_batched_lm_step_changes_no_result():
    a = _run(make_model("mixture"), batched=True)
    b = _run(make_model("mixture"), batched=False)
    assert len(a) == len(b) == 19
    for x, y in zip(a, b, strict=True):
        assert x[:3] == y[:3]
        np.testing.assert_array_equal(x[3], y[3])  # bit for bit (a live session and its replay)
        np.testing.assert_array_equal(x[4], y[4])
        assert x[5] == y[5]
    assert len({len(t) for t, _ in a[-1][5]}) > 1  # the beam held texts of different lengths


def _run_deferred(lm, defer: bool):
    """The same selections with the post-decision LM work deferred (a live session) or not."""
    rng = np.random.default_rng(3)
    t_s, n_s = rng.normal(1.0, 1, 500), rng.normal(0, 1, 2500)
    sm = ScoreModel().fit(np.r_[t_s, n_s], np.r_[np.ones(500, bool), np.zeros(500 * 5, bool)])
    who = ScoreSampler(t_s, n_s, rng)
    engine = SpellerEngine(LAYOUT, sm, lm, seed=1, beam_width=8, stop_threshold=0.9)
    engine.defer_lm_work = defer
    out = []
    for sym in "HOW ARE YOU<U":
        done = False
        while not done:
            groups = engine.next_flashes()
            for g, s in zip(groups, who.respond_flashes(LAYOUT, sym, groups), strict=True):
                events = engine.on_flash(g, float(s))
                if events:
                    dec = events[0]
                    # deferred: the decision and the text only, the LM work still to do
                    assert len(events) == (2 if defer else 3)
                    assert (engine._deferred is not None) == defer
                    more = engine.complete_decision()
                    assert len(more) == (1 if defer else 0)
                    out.append((dec.decision.symbol, dec.n_flashes, dec.text, dec.posterior.logp, dec.prior.logp,
                                [(c.text, c.score) for c in engine.candidates], engine._prior.logp.copy()))
                    done = True
                    break
    return out


def test_deferred_lm_work_changes_no_result():
    a = _run_deferred(make_model("mixture"), defer=True)
    b = _run_deferred(make_model("mixture"), defer=False)
    assert len(a) == len(b) == 13
    for x, y in zip(a, b, strict=True):
        assert x[:3] == y[:3]
        for i in (3, 4, 6):
            np.testing.assert_array_equal(x[i], y[i])  # bit for bit
        assert x[5] == y[5]


def _run_calls(lm, live: bool):
    """Selections with a wrong first guess, as a live session (its LM also answers the
    training process's probes and the word completions of every text) or its replay (the
    engine only) queries the language model."""
    if live:
        for context in ("", "THE ", "HELLO WOR", "I WOULD LIKE SOME W"):
            lm.next_logp(context)
    rng = np.random.default_rng(5)
    t_s, n_s = rng.normal(0.6, 1, 500), rng.normal(0, 1, 2500)
    sm = ScoreModel().fit(np.r_[t_s, n_s], np.r_[np.ones(500, bool), np.zeros(500 * 5, bool)])
    who = ScoreSampler(t_s, n_s, rng)
    engine = SpellerEngine(LAYOUT, sm, lm, seed=2, beam_width=8, stop_threshold=0.9)
    engine.defer_lm_work = live
    out = []
    for sym in "HELLO WORLD":
        done = False
        while not done:
            groups = engine.next_flashes()
            for g, s in zip(groups, who.respond_flashes(LAYOUT, sym, groups), strict=True):
                events = engine.on_flash(g, float(s))
                if events:
                    dec = events[0]
                    engine.complete_decision()
                    if live:
                        engine.completions()
                    out.append((dec.decision.symbol, dec.decision.posterior, dec.n_flashes, dec.text,
                                dec.prior.logp, [(c.text, c.score) for c in engine.candidates]))
                    done = True
                    break
    return out


def test_live_lm_calls_change_no_decision_bit_for_bit():
    """The contexts a live session asks its LM for besides the engine's (probes, word
    completions: a different call order, other cache contents and batches) change no
    posterior, prior or candidate score in the last bit: its replay reproduces it."""
    live = _run_calls(make_model("everyday"), live=True)
    replay = _run_calls(make_model("everyday"), live=False)
    assert len(live) == len(replay) == 11
    for x, y in zip(live, replay, strict=True):
        assert x[:4] == y[:4]
        np.testing.assert_array_equal(x[4], y[4])
        assert x[5] == y[5]
    assert live[-1][3] != "HELLO WORLD"  # some wrong decisions: texts off the phrase
