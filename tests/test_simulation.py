"""The score-level simulator: a ScoreSampler answering flashes with real/synthetic scores."""

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.decoder import ScoreModel
from neurospell.lm_fusion import NgramLM
from neurospell.session.drivers import copy_spell, spell_symbol
from neurospell.session.engine import SpellerEngine
from neurospell.session.simulator import (
    ScoreSampler,
    flash_sequence,
    simulate_accuracy,
    synthetic_erp_epochs,
)
from neurospell.types import SpellerLayout

LAYOUT = SpellerLayout.row_column()


def _model(d):
    rng = np.random.default_rng(0)
    s = np.r_[rng.normal(0, 1, 2000), rng.normal(d, 1, 400)]
    return ScoreModel().fit(s, np.r_[np.zeros(2000), np.ones(400)]), s[:2000], s[2000:]


def test_score_sampler_answers_with_the_right_pool():
    who = ScoreSampler([10.0, 11.0], [0.0, 1.0, 2.0], rng=0)
    groups = flash_sequence(LAYOUT, 1)
    assert sorted(groups) == list(range(12))
    scores = who.respond_flashes(LAYOUT, "H", groups)  # H: row 1, column 1 -> groups 1 and 7
    hit = np.isin(groups, [1, 7])
    assert np.all(np.isin(scores[hit], [10.0, 11.0])) and np.all(np.isin(scores[~hit], [0, 1, 2]))
    once = ScoreSampler([5.0], [0.0, 1.0], rng=0, replace=False)
    assert sorted([once.respond(False), once.respond(False)]) == [0.0, 1.0]
    with pytest.raises(NeurospellError, match="ran out of non-target"):
        once.respond(False)
    once.refill()
    assert once.respond(True) == 5.0


def test_accuracy_follows_separability():
    # perfectly separated scores: every selection right after one repetition
    model, s0, s1 = _model(8.0)
    acc = simulate_accuracy(ScoreSampler(s1, s0, 0), LAYOUT, model, max_repetitions=2,
                            n_selections=100, rng=0)
    np.testing.assert_array_equal(acc, [1.0, 1.0])
    # no information: chance (1/36); 300 selections -> sd 0.01, bound at 0.08 is > 5 sd
    model0, s0, _ = _model(1.0)
    acc = simulate_accuracy(ScoreSampler(s0, s0, 0), LAYOUT, model0, max_repetitions=3,
                            n_selections=300, rng=0)
    assert np.all(acc < 0.08)
    # d' = 1.5: accuracy grows with repetitions, from well below to well above one half
    model, s0, s1 = _model(1.5)
    acc = simulate_accuracy(ScoreSampler(s1, s0, 0), LAYOUT, model, max_repetitions=10,
                            n_selections=200, rng=0)
    assert acc[0] < 0.5 < acc[-1] and acc[-1] > 0.9 and acc[-1] > acc[2] > acc[0]


def test_selection_with_prior_and_dynamic_stopping():
    model, s0, s1 = _model(3.0)
    who = ScoreSampler(s1, s0, 0)
    reps = []
    eng = SpellerEngine(LAYOUT, model, None, stop_threshold=1.0, max_repetitions=2, beam_width=0, seed=1)
    res = spell_symbol(eng, "Q", who, on_repetition=lambda r, post: reps.append((r, post)))
    assert res.decision.n_repetitions == 2 and [r for r, _ in reps] == [1, 2]
    assert res.n_flashes == 24
    assert res.decision.posterior == pytest.approx(np.exp(reps[-1][1].logp.max()))
    # stop when the posterior is confident: fewer repetitions than the maximum, correct
    eng = SpellerEngine(LAYOUT, model, None, stop_threshold=0.99, max_repetitions=10, seed=2)
    res = spell_symbol(eng, "Q", who)
    assert res.decision.symbol == "Q" and res.decision.n_repetitions < 10
    # an overwhelming prior wins over uninformative scores
    flat = ScoreSampler(s0, s0, 0)

    zlm = NgramLM(3).fit(["Z" * 200] * 20 + [" ".join(LAYOUT.symbols)])  # a real n-gram of Z-heavy text
    eng = SpellerEngine(LAYOUT, model, zlm, floor=1e-6, max_repetitions=1, beam_width=0, seed=0,
                        text="ZZZZZZ")
    res = spell_symbol(eng, "A", flat)
    assert res.decision.symbol == "Z" and res.prior.argmax() == "Z"
    with pytest.raises(NeurospellError, match="not on the speller layout"):
        spell_symbol(eng, "a", who)
    with pytest.raises(NeurospellError, match="min_repetitions"):
        SpellerEngine(LAYOUT, model, None, min_repetitions=3, max_repetitions=2)
    # copy-spelling a phrase: one decision per symbol, the text made of them
    eng = SpellerEngine(LAYOUT, model, None, seed=3)
    decs = copy_spell(eng, "HI YOU", who)
    assert len(decs) == 6 and eng.text == "".join(d.decision.symbol for d in decs) == decs[-1].text


def test_synthetic_epochs_structure():
    b = synthetic_erp_epochs(3, 2, sfreq=100.0, rng=0)
    assert b.data.shape == (3 * 2 * 12, 8, 81)
    assert b.targets.sum() == 3 * 2 * 2  # a row and a column per repetition
    assert sorted(set(b.trials.tolist())) == [0, 1, 2]
    assert set(b.codes.tolist()) == set(range(1, 13))
    # the ERP: target minus non-target average peaks near 300 ms on the middle channels
    diff = b.data[b.targets].mean(0) - b.data[~b.targets].mean(0)
    assert abs(b.times[np.argmax(diff[3])] - 0.3) < 0.08


def test_reliability_of_decided_posteriors():
    from neurospell.config import Config
    from neurospell.session.evaluation import reliability

    model, s0, s1 = _model(2.0)
    scores = np.r_[s1, s0]
    y = np.r_[np.ones(len(s1), bool), np.zeros(len(s0), bool)]
    rel = reliability(scores, y, model, Config(), n_selections=200, seed=0)
    assert rel["count"].sum() == 200 and len(rel["edges"]) == 11
    ok = rel["count"] > 0
    assert np.all(rel["mean_posterior"][ok] >= rel["edges"][:-1][ok] - 1e-12)
    assert np.all(rel["mean_posterior"][ok] <= rel["edges"][1:][ok] + 1e-12)
    # dynamic stopping at 0.95: most decisions sit in the top bin, and a score model fitted
    # on the very scores the sampler answers with is calibrated there
    assert rel["count"][-1] > 150
    assert abs(rel["accuracy"][-1] - rel["mean_posterior"][-1]) < 0.05
    assert rel["ece"] < 0.1
