"""Flash -> character log-likelihoods on cases with a known answer."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from neurospell.check import NeurospellError
from neurospell.decoder import CharacterEvidence, ScoreModel, symbol_log_likelihood
from neurospell.types import CharDistribution, SpellerLayout


def _unit_model():
    # p(s | non-target) = N(0, 1), p(s | target) = N(1, 1): LLR(s) = s - 1/2
    return ScoreModel.from_dict({"kind": "gaussian", "mean": [0.0, 1.0], "var": [1.0, 1.0],
                                 "prior": 0.25, "n": [30, 10]})


def test_row_column_known_answer():
    layout = SpellerLayout.row_column("ABCD", 2, 2)  # groups: row AB, row CD, col AC, col BD
    ev = CharacterEvidence(layout, _unit_model())
    ev.add_flashes([0, 1, 2, 3], [2.0, 0.0, 1.0, -1.0])
    # log L(c) = sum_f log N(s_f; 1 if c in f else 0, 1)
    s = {0: 2.0, 1: 0.0, 2: 1.0, 3: -1.0}
    members = {"A": (0, 2), "B": (0, 3), "C": (1, 2), "D": (1, 3)}
    expected = [sum(norm.logpdf(s[f], loc=1.0 if f in members[c] else 0.0) for f in s) for c in "ABCD"]
    np.testing.assert_allclose(ev.loglik, expected, rtol=1e-12)
    # relative: LLRs 1.5, -0.5, 0.5, -1.5 -> A: 2, B: 0, C: 0, D: -2
    dist = ev.distribution()
    np.testing.assert_allclose(dist.probs, np.exp([2, 0, 0, -2]) / np.exp([2, 0, 0, -2]).sum(), rtol=1e-12)
    assert dist.argmax() == "A"
    assert ev.n_flashes == 4 and ev.n_repetitions == 1


def test_arbitrary_groups_match_brute_force_and_incremental():
    rng = np.random.default_rng(3)
    layout = SpellerLayout(tuple("ABCDEFGHI"), ((0, 4, 8), (1, 5), (2, 3, 6, 7), (0, 1, 2), (8,)), 3, 3)
    model = ScoreModel("gaussian-separate").fit(
        np.r_[rng.normal(0, 1, 200), rng.normal(2, 1.5, 60)], np.r_[np.zeros(200), np.ones(60)]
    )
    groups = rng.integers(0, layout.n_groups, 40)
    scores = rng.normal(0.5, 1.5, 40)
    brute = np.zeros(9)
    for c in range(9):
        for g, sc in zip(groups, scores, strict=True):
            k = 1 if c in layout.flash_groups[g] else 0
            brute[c] += norm.logpdf(sc, model.mean_[k], math.sqrt(model.var_[k]))
    np.testing.assert_allclose(symbol_log_likelihood(layout, groups, scores, model), brute, rtol=1e-10)
    ev = CharacterEvidence(layout, model)
    for g, sc in zip(groups, scores, strict=True):
        ev.add_flash(int(g), float(sc))
    np.testing.assert_allclose(ev.loglik, brute, rtol=1e-10)
    ev2 = CharacterEvidence(layout, model)
    ev2.add_codes(groups + 1, scores)  # stimulus codes are group index + 1
    np.testing.assert_allclose(ev2.loglik, brute, rtol=1e-10)
    ev.reset()
    assert ev.n_flashes == 0 and np.all(ev.loglik == 0)


def test_score_model_fit_and_prior():
    rng = np.random.default_rng(0)
    s0, s1 = rng.normal(-1, 2, 500), rng.normal(3, 2, 100)
    m = ScoreModel().fit(np.r_[s0, s1], np.r_[np.zeros(500), np.ones(100)].astype(bool))
    np.testing.assert_allclose(m.mean_, [s0.mean(), s1.mean()])
    pooled = (499 * s0.var(ddof=1) + 99 * s1.var(ddof=1)) / 598
    np.testing.assert_allclose(m.var_, [pooled, pooled])
    assert m.prior_ == pytest.approx(1 / 6)
    # pooled variance: the LLR is linear in the score
    x = np.linspace(-10, 10, 5)
    assert np.allclose(np.diff(m.llr(x), 2), 0, atol=1e-9)
    # prior adds in log space
    layout = SpellerLayout.row_column("ABCD", 2, 2)
    ev = CharacterEvidence(layout, m)
    ev.add_flashes([0, 2], [3.0, 3.0])
    prior = CharDistribution("ABCD", np.log([0.1, 0.2, 0.3, 0.4]))
    np.testing.assert_allclose(ev.distribution(prior).logp,
                               CharDistribution.from_scores("ABCD", ev.loglik + prior.logp).logp)


def test_kde_model_is_finite_and_normalised():
    rng = np.random.default_rng(1)
    m = ScoreModel("kde").fit(np.r_[rng.normal(0, 1, 300), rng.normal(2, 1, 60)],
                              np.r_[np.zeros(300), np.ones(60)])
    x = np.linspace(-12, 14, 4001)
    lt, ln = m.log_likelihoods(x)
    assert np.all(np.isfinite(lt)) and np.all(np.isfinite(ln))
    # densities integrate to ~1 (the tail floor adds 1e-3 of mass; the grid is fine)
    for logp in (lt, ln):
        assert np.trapezoid(np.exp(logp), x) == pytest.approx(1.0, abs=5e-3)
    assert m.llr([4.0])[0] > 0 > m.llr([-2.0])[0]
    m2 = ScoreModel.from_dict(m.to_dict())
    np.testing.assert_array_equal(m2.llr(x), m.llr(x))


def test_bad_input_is_refused():
    layout = SpellerLayout.row_column("ABCD", 2, 2)
    ev = CharacterEvidence(layout, _unit_model())
    with pytest.raises(NeurospellError, match=r"indices in \[0, 3\]"):
        ev.add_flash(4, 1.0)
    with pytest.raises(NeurospellError, match="same length"):
        ev.add_flashes([0, 1], [1.0])
    with pytest.raises(NeurospellError, match="code 0 means"):
        ev.add_codes([0], [1.0])
    with pytest.raises(NeurospellError, match="finite"):
        ev.add_flash(0, float("nan"))
    with pytest.raises(NeurospellError, match="alphabet"):
        ev.distribution(CharDistribution.uniform("ABCE"))
    with pytest.raises(NeurospellError, match="not fitted"):
        CharacterEvidence(layout, ScoreModel())
    with pytest.raises(NeurospellError, match="at least 2 target"):
        ScoreModel().fit([0.0, 1.0, 2.0], [False, False, True])
    with pytest.raises(NeurospellError, match="Allowed values"):
        ScoreModel("beta").fit([0.0, 1, 2, 3], [0, 0, 1, 1])
