"""Fusion of EEG evidence with the LM prior: floor, weight, backspace, stopping, alpha choice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.lm_fusion import (
    choose_alpha,
    eeg_agrees,
    floor_prior,
    fuse,
    lm_prior,
    make_model,
    should_stop,
)
from neurospell.types import DEFAULT_SYMBOLS, CharDistribution

ALPHA = DEFAULT_SYMBOLS


def _impossible_q_prior():
    logp = np.full(len(ALPHA), 0.0)
    logp[ALPHA.index("Q")] = -np.inf  # the LM says "Q" cannot come next
    return CharDistribution.from_scores(ALPHA, logp)


def test_floor_keeps_impossible_symbol_typable():
    prior = _impossible_q_prior()
    ll = np.zeros(len(ALPHA))
    ll[ALPHA.index("Q")] = 12.0  # strong EEG evidence for Q (e.g. several clear repetitions)
    post = fuse(ll, prior, alpha=1.0, floor=1e-3)
    assert post.argmax() == "Q"
    # the floor is what makes it possible: without it Q has probability 0
    assert fuse(ll, prior, alpha=1.0, floor=0.0)["Q"] == -np.inf
    # every symbol keeps at least the floor in the prior
    assert np.all(np.exp(floor_prior(prior, 1e-3)) >= 1e-3 - 1e-12)
    assert abs(np.logaddexp.reduce(floor_prior(prior, 1e-3))) < 1e-12


def test_fuse_is_bayes_in_log_space():
    rng = np.random.default_rng(0)
    ll = rng.normal(size=len(ALPHA))
    prior = CharDistribution.from_scores(ALPHA, rng.normal(size=len(ALPHA)))
    for alpha in (0.0, 0.5, 1.0, 2.0):
        post = fuse(ll, prior, alpha=alpha, floor=1e-4)
        expect = ll + alpha * floor_prior(prior, 1e-4)
        np.testing.assert_allclose(post.logp, expect - np.logaddexp.reduce(expect), atol=1e-12)
    np.testing.assert_allclose(fuse(ll, None, alphabet=ALPHA).logp, ll - np.logaddexp.reduce(ll))


def test_fuse_errors():
    prior = CharDistribution.uniform(ALPHA)
    with pytest.raises(NeurospellError, match=r"floor must be in \[0, 1/36\)"):
        fuse(np.zeros(36), prior, floor=0.05)
    with pytest.raises(NeurospellError, match="alphabet"):
        fuse(np.zeros(3), CharDistribution.uniform("ABC"), alphabet="ABD")
    with pytest.raises(NeurospellError, match=r"loglik must have shape \(36,\)"):
        fuse(np.zeros(5), prior)
    with pytest.raises(NeurospellError, match="alpha must be a finite number"):
        fuse(np.zeros(36), prior, alpha=-1)


def test_lm_prior_backspace_handled_by_fusion():
    lm = make_model("ngram")
    grid = ALPHA[:-1] + ("<",)  # space replaced by backspace
    d = lm_prior(lm, "HELLO", grid, backspace_p=0.05)
    assert math.isclose(np.exp(d["<"]), 0.05, rel_tol=1e-9)
    assert abs(np.logaddexp.reduce(d.logp)) < 1e-12
    # nothing to delete at the start
    assert np.exp(lm_prior(lm, "", grid)["<"]) < 1e-5
    assert lm_prior(None, "HELLO", grid).logp.std() == 0  # no LM: uniform


def test_should_stop_rules():
    confident = CharDistribution.from_scores(ALPHA, np.r_[10.0, np.zeros(35)])
    unsure = CharDistribution.uniform(ALPHA)
    assert should_stop(confident, 1, threshold=0.95)
    assert not should_stop(confident, 1, threshold=0.95, min_repetitions=2)
    assert not should_stop(unsure, 3, threshold=0.95, max_repetitions=10)
    assert should_stop(unsure, 10, threshold=0.95, max_repetitions=10)
    assert not should_stop(confident, 5, threshold=1.0, max_repetitions=10)  # 1.0 disables


def test_choose_alpha_follows_prior_quality():
    rng = np.random.default_rng(1)
    n, k = 200, len(ALPHA)
    targets = rng.integers(0, k, n)
    ll = rng.normal(size=(n, k))
    ll[np.arange(n), targets] += 1.0  # weak EEG evidence
    good, bad = [], []
    for t in targets:
        g = np.full(k, -3.0)
        g[t] = 0.0
        good.append(CharDistribution.from_scores(ALPHA, g))
        b = np.zeros(k)
        b[(t + 1) % k] = 4.0  # confidently wrong
        bad.append(CharDistribution.from_scores(ALPHA, b))
    a_good, s_good = choose_alpha(ll, good, targets)
    a_bad, _ = choose_alpha(ll, bad, targets)
    assert a_good >= 1.0 and a_bad == 0.0
    assert s_good.shape == (21,)
    with pytest.raises(NeurospellError, match="must agree"):
        choose_alpha(ll, good[:3], targets)


def test_eeg_agrees_only_when_the_eeg_ranks_the_choice_first():
    """The EEG backs the posterior's choice only when its log-likelihood beats every other
    symbol's: a prior that overturns the EEG, or flat evidence, backs nothing."""
    ab = tuple("ABCD")
    prior = CharDistribution.from_scores(ab, np.log([0.97, 0.01, 0.01, 0.01]))
    ll = np.array([0.0, 0.4, 0.0, 0.0])  # the EEG prefers B a little
    post = fuse(ll, prior, alpha=1.0, floor=0.0)
    assert post.argmax() == "A" and not eeg_agrees(post, ll)
    assert eeg_agrees(fuse(ll, None, alpha=1.0, floor=0.0, alphabet=ab), ll)  # no prior: the EEG's own choice
    flat = np.zeros(4)
    assert not eeg_agrees(fuse(flat, prior, alpha=1.0, floor=0.0), flat)
    ll2 = np.array([0.5, 0.4, 0.0, 0.0])
    assert eeg_agrees(fuse(ll2, prior, alpha=1.0, floor=0.0), ll2)
