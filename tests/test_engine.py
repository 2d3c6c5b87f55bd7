"""The speller engine's contract: normalised posteriors, the one stopping rule, the one
fusion, backspace and completions as symbols, immutable snapshots; property tests over
random score sequences."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurospell.check import NeurospellError
from neurospell.config import Config, load_config
from neurospell.decoder import CharacterEvidence, ScoreModel, load_decoder, make_decoder
from neurospell.lm_fusion import fuse, lm_prior, make_model
from neurospell.session.calibration import calibrate_model_alpha
from neurospell.session.engine import (
    CandidatesChanged,
    Completion,
    SelectionDecided,
    SpellerEngine,
    TextChanged,
    model_alpha,
)
from neurospell.session.simulator import synthetic_erp_epochs
from neurospell.types import SpellerLayout

LAYOUT = SpellerLayout.row_column()
# a 6 x 6 grid with a backspace in place of "9"
BS_LAYOUT = SpellerLayout.row_column(tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ12345678< "))


@pytest.fixture(scope="module")
def score_model():
    rng = np.random.default_rng(0)
    s = np.r_[rng.normal(1.0, 1.0, 400), rng.normal(-1.0, 1.0, 400)]
    return ScoreModel().fit(s, np.r_[np.ones(400, bool), np.zeros(400, bool)])


@pytest.fixture(scope="module")
def ngram():
    return make_model("ngram")


def _reference_stop(layout, score_model, lm, text, flashes, *, threshold, min_rep, max_rep, alpha,
                    floor=1e-3, each_flash=True, agree=False):
    """The stopping rule written out independently: index of the deciding flash + posterior."""
    ev = CharacterEvidence(layout, score_model)
    prior = lm_prior(lm, text, layout.symbols)
    n_g = layout.n_groups
    for i, (g, s) in enumerate(flashes):
        ev.add_flash(g, s)
        n = i + 1
        post = fuse(ev.loglik, prior if lm is not None else None, alpha=alpha, floor=floor,
                    alphabet=layout.symbols)
        if n >= max_rep * n_g:
            return i, post
        if n >= min_rep * n_g and threshold < 1.0 and (each_flash or n % n_g == 0) \
                and post.probs.max() >= threshold:
            ll = np.asarray(ev.loglik)
            k = int(np.argmax(post.probs))
            if not agree or all(ll[k] > ll[j] for j in range(len(ll)) if j != k):
                return i, post
    return None, post


scores_st = st.lists(st.floats(-4.0, 4.0, allow_nan=False), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scores=scores_st, seed=st.integers(0, 2**16), threshold=st.sampled_from([0.5, 0.9, 0.95, 1.0]),
       min_rep=st.integers(1, 3), extra=st.integers(0, 4), each=st.booleans())
def test_stops_exactly_when_the_rule_says(score_model, scores, seed, threshold, min_rep, extra, each):
    max_rep = min_rep + extra
    eng = SpellerEngine(LAYOUT, score_model, None, alpha=0.0, stop_threshold=threshold,
                        min_repetitions=min_rep, max_repetitions=max_rep, stop_each_flash=each,
                        beam_width=0, seed=seed)
    flashes = []
    decided = None
    for s in scores:
        g = eng.next_flashes()[0]
        flashes.append((g, s))
        post = eng.posterior()
        assert abs(np.logaddexp.reduce(post.logp)) < 1e-9  # normalised before every flash
        events = eng.on_flash(g, s)
        if events:
            decided = events
            break
        assert abs(np.logaddexp.reduce(eng.posterior().logp)) < 1e-9
    ref_i, ref_post = _reference_stop(LAYOUT, score_model, None, "", flashes, threshold=threshold,
                                      min_rep=min_rep, max_rep=max_rep, alpha=0.0, each_flash=each)
    if decided is None:
        assert ref_i is None
        return
    assert ref_i == len(flashes) - 1
    dec, text_ev, cand_ev = decided
    assert isinstance(dec, SelectionDecided) and isinstance(text_ev, TextChanged)
    assert isinstance(cand_ev, CandidatesChanged)
    np.testing.assert_allclose(dec.posterior.logp, ref_post.logp, rtol=0, atol=1e-9)
    assert dec.decision.symbol == ref_post.argmax() and dec.n_flashes == len(flashes)
    assert dec.decision.n_repetitions == math.ceil(len(flashes) / LAYOUT.n_groups)
    assert text_ev.text == dec.decision.symbol and eng.text == dec.decision.symbol
    assert eng.n_flashes == 0  # a new selection


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scores=st.lists(st.floats(-3.0, 3.0, allow_nan=False), min_size=1, max_size=80),
       seed=st.integers(0, 1000), alpha=st.sampled_from([1.0, 2.0]), agree=st.booleans())
def test_eeg_must_agree_stops_exactly_when_the_rule_says(score_model, ngram, scores, seed, alpha, agree):
    """With a confident prior ("HELLO WOR" -> L), an early stop needs the EEG to rank the chosen
    symbol first (``eeg_must_agree``); forced decisions at the maximum are unchanged."""
    text = "HELLO WOR"
    eng = SpellerEngine(LAYOUT, score_model, ngram, alpha=alpha, stop_threshold=0.9, min_repetitions=1,
                        max_repetitions=5, beam_width=0, seed=seed, text=text, eeg_must_agree=agree)
    ev = CharacterEvidence(LAYOUT, score_model)
    flashes, decided = [], None
    for s in scores:
        g = eng.next_flashes()[0]
        flashes.append((g, s))
        ev.add_flash(g, s)
        decided = eng.on_flash(g, s)
        if decided:
            break
    ref_i, ref_post = _reference_stop(LAYOUT, score_model, ngram, text, flashes, threshold=0.9, min_rep=1,
                                      max_rep=5, alpha=alpha, agree=agree)
    if not decided:
        assert ref_i is None
        return
    assert ref_i == len(flashes) - 1
    dec = decided[0]
    if agree and dec.n_flashes < 5 * LAYOUT.n_groups:  # an early stop: the EEG ranks it first
        ll = np.asarray(ev.loglik)
        k = LAYOUT.symbols.index(dec.decision.symbol)
        assert ll[k] == ll.max() and np.sum(ll == ll.max()) == 1


def test_eeg_must_agree_keeps_a_confident_prior_from_deciding_alone(score_model, ngram):
    """The EEG points at one symbol while the prior is sure of another: with the rule no early
    stop on the prior's symbol; without it, the prior decides after one repetition."""
    text = "HELLO WOR"
    layout = LAYOUT
    want = "Q"  # the EEG's symbol; the prior after "HELLO WOR" wants "L"
    k = layout.symbols.index(want)

    def run(agree):
        eng = SpellerEngine(layout, score_model, ngram, alpha=2.0, stop_threshold=0.9, min_repetitions=1,
                            max_repetitions=4, beam_width=0, seed=1, text=text, eeg_must_agree=agree)
        for _ in range(4 * layout.n_groups):
            g = eng.next_flashes()[0]
            hit = k in layout.flash_groups[g]
            events = eng.on_flash(g, 0.3 if hit else -0.3)  # weak evidence for Q
            if events:
                return events[0]
        raise AssertionError("no decision at the maximum")

    assert lm_prior(ngram, text, layout.symbols).argmax() == "L"
    off, on = run(False), run(True)
    assert off.decision.symbol == "L" and off.n_flashes < 4 * layout.n_groups
    assert on.decision.symbol != "L" or on.n_flashes == 4 * layout.n_groups
    assert on.n_flashes > off.n_flashes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scores=st.lists(st.floats(-3.0, 3.0, allow_nan=False), min_size=12, max_size=60),
       seed=st.integers(0, 1000), alpha=st.sampled_from([0.0, 0.5, 1.0, 1.7]))
def test_one_fusion_floored_weighted_prior(score_model, ngram, scores, seed, alpha):
    """The engine's posterior is lm_fusion.fuse of the evidence and the floored prior."""
    text = "HELLO WOR"
    eng = SpellerEngine(LAYOUT, score_model, ngram, alpha=alpha, stop_threshold=1.0,
                        max_repetitions=10, beam_width=0, seed=seed, text=text)
    ev = CharacterEvidence(LAYOUT, score_model)
    prior = lm_prior(ngram, text, LAYOUT.symbols)
    for s in scores:
        g = eng.next_flashes()[0]
        eng.on_flash(g, s)
        ev.add_flash(g, s)
        ref = fuse(ev.loglik, prior, alpha=alpha, floor=1e-3)
        np.testing.assert_allclose(eng.posterior().logp, ref.logp, rtol=0, atol=1e-9)
        assert abs(np.logaddexp.reduce(eng.posterior().logp)) < 1e-9


def test_next_flashes_is_a_seeded_permutation_per_repetition(score_model):
    a = SpellerEngine(LAYOUT, score_model, None, seed=7)
    b = SpellerEngine(LAYOUT, score_model, None, seed=7)
    first = a.next_flashes()
    assert sorted(first) == list(range(12)) and first == b.next_flashes()
    assert a.next_flashes() == first  # asking again does not advance
    a.on_flash(first[0], 0.0)
    assert a.next_flashes() == first[1:]
    for g in first[1:]:
        a.on_flash(g, 0.0)
    second = a.next_flashes()
    assert sorted(second) == list(range(12))


def test_backspace_is_a_symbol_like_any_other(score_model):
    eng = SpellerEngine(BS_LAYOUT, score_model, None, text="AB", stop_threshold=0.95, beam_width=4)
    hit = set(BS_LAYOUT.groups_containing("<"))
    for _ in range(3):
        for g in range(12):
            events = eng.on_flash(g, 3.0 if g in hit else -3.0)
            if events:
                break
        if events:
            break
    dec, changed, cands = events
    assert dec.decision.symbol == "<" and eng.text == "A"
    assert (changed.previous, changed.text) == ("AB", "A")
    assert "A" in cands.candidates.texts
    # chosen directly (a key): the same path, evidence of the current selection dropped
    eng.on_flash(0, 1.0)
    events = eng.select("<")
    assert eng.text == "" and eng.n_flashes == 0 and events[0] == TextChanged("", "A")
    eng.select("Q")
    assert eng.text == "Q" and eng.candidates.best.text == "Q"
    with pytest.raises(NeurospellError, match="grid's symbols"):
        eng.select("!")


def test_completion_is_a_symbol(score_model, ngram):
    eng = SpellerEngine(LAYOUT, score_model, ngram, text="I WOULD LIKE SOME WAT")
    snap = eng.snapshot()
    assert "WATER" in snap.completions.texts
    events = eng.select(Completion("WATER"))
    assert eng.text == "I WOULD LIKE SOME WATER " and events[0].previous == "I WOULD LIKE SOME WAT"
    assert isinstance(events[1], CandidatesChanged)
    # the prior of the next selection is in the new context
    np.testing.assert_allclose(eng.snapshot(completions=False).prior.logp,
                               lm_prior(ngram, "I WOULD LIKE SOME WATER ", LAYOUT.symbols).logp)


def test_snapshots_are_immutable_values(score_model, ngram):
    eng = SpellerEngine(LAYOUT, score_model, ngram, text="HELL", seed=0)
    before = eng.snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.text = "X"
    with pytest.raises(ValueError):
        before.posterior.logp[0] = 0.0
    logp0 = before.posterior.logp.copy()
    for g in eng.next_flashes()[:5]:
        eng.on_flash(g, 1.0)
    np.testing.assert_array_equal(before.posterior.logp, logp0)  # unaffected by later flashes
    assert before.n_flashes == 0 and before.last is None
    after = eng.snapshot(completions=False)
    assert after.n_flashes == 5 and after.repetitions == pytest.approx(5 / 12)
    # the prior before any flash is the posterior
    np.testing.assert_allclose(before.posterior.logp, fuse(np.zeros(36), before.prior, alpha=1.0).logp)


def test_from_config_alpha_override_and_model_alpha(score_model, tmp_path):
    cfg = Config()
    assert cfg.lm.alpha is None  # unset: the model's weight is used
    assert SpellerEngine.from_config(LAYOUT, score_model, None, cfg).alpha == 1.0
    assert SpellerEngine.from_config(LAYOUT, score_model, None, cfg, model_alpha=0.4).alpha == 0.4
    p = tmp_path / "c.toml"
    p.write_text("[lm]\nalpha = 0.7\n[speller]\nstop_threshold = 0.9\nmax_repetitions = 4\n"
                 "stop_each_flash = false\n")
    over = load_config(p)
    eng = SpellerEngine.from_config(LAYOUT, score_model, None, over, model_alpha=0.4)
    assert eng.alpha == 0.7 and eng.stop_threshold == 0.9 and eng.max_repetitions == 4
    assert not eng.stop_each_flash and SpellerEngine.from_config(LAYOUT, score_model, None, cfg).stop_each_flash



def test_alpha_chosen_on_calibration_and_stored_with_the_model(ngram, tmp_path):
    cfg = Config()
    dec = make_decoder("lda").fit(synthetic_erp_epochs(8, 4, sfreq=64.0, rng=0))
    alpha = calibrate_model_alpha(dec, ngram, cfg, lm_name="ngram",
                                  phrases=["HOW ARE YOU", "THANK YOU VERY MUCH"])
    assert alpha > 0  # an English model helps on English text
    dec.save(tmp_path / "m.pt")
    loaded = load_decoder(tmp_path / "m.pt")
    assert model_alpha(loaded, "ngram") == alpha == model_alpha(loaded)
    assert model_alpha(loaded, "mixture") is None  # chosen for another language model
    eng = SpellerEngine.from_config(LAYOUT, loaded.score_model_, ngram, cfg,
                                    model_alpha=model_alpha(loaded, "ngram"))
    assert eng.alpha == alpha
    with pytest.raises(NeurospellError, match="held-out calibration scores"):
        calibrate_model_alpha(loaded, ngram, cfg)


def test_engine_rejects_bad_input(score_model):
    eng = SpellerEngine(LAYOUT, score_model, None)
    with pytest.raises(NeurospellError, match="flash-group indices"):
        eng.on_flash(12, 0.0)
    with pytest.raises(NeurospellError, match="finite"):
        eng.on_flash(0, float("nan"))
    with pytest.raises(NeurospellError, match="min_repetitions"):
        SpellerEngine(LAYOUT, score_model, None, min_repetitions=0)
