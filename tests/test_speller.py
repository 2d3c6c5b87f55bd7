"""The speller engine's selection loop (dynamic stopping, LM prior, candidate correction)
and decoding a recording into text."""

from __future__ import annotations

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.config import Config
from neurospell.decoder import ScoreModel
from neurospell.lm_fusion import CandidateBeam, make_model
from neurospell.session.drivers import run_trials
from neurospell.session.engine import Completion, SpellerEngine, apply_symbol
from neurospell.session.spelling import decode_batch, decode_recording, itr_bits, levenshtein
from neurospell.types import EpochBatch, SpellerLayout

LAYOUT = SpellerLayout.row_column()


@pytest.fixture(scope="module")
def score_model():
    rng = np.random.default_rng(0)
    s = np.r_[rng.normal(1.0, 1.0, 400), rng.normal(-1.0, 1.0, 400)]  # d' = 2
    return ScoreModel().fit(s, np.r_[np.ones(400, bool), np.zeros(400, bool)])


@pytest.fixture(scope="module")
def ngram():
    return make_model("ngram")


def _scores_for(symbol, level):
    """One repetition's groups and scores: +level for flashes containing symbol, -level else."""
    groups = np.arange(LAYOUT.n_groups)
    hit = set(LAYOUT.groups_containing(symbol))
    return groups, np.array([level if g in hit else -level for g in groups])


def _selection(engine, source):
    """Feed repetitions from ``source(r) -> (groups, scores) | None`` until a decision
    (forced when the source runs out), as the batch driver does."""
    r = 0
    while True:
        got = source(r)
        if got is None:
            return engine.decide()[0]
        events, _ = engine.on_flashes(*got)
        if events:
            return events[0]
        r += 1


def test_dynamic_stopping_known_case(score_model):
    eng = SpellerEngine(LAYOUT, score_model, None, stop_threshold=0.95, max_repetitions=8)
    out = _selection(eng, lambda r: _scores_for("K", 3.0))  # clear evidence: one repetition
    assert out.decision.symbol == "K" and out.decision.n_repetitions == 1
    assert out.n_flashes == 12 and out.decision.posterior > 0.95 and not out.forced
    # no information at all: flashes until max_repetitions
    out = _selection(eng, lambda r: (np.arange(12), np.zeros(12)))
    assert out.decision.n_repetitions == 8 and out.n_flashes == 96
    # stopping disabled: always max_repetitions even with clear evidence
    fixed = SpellerEngine(LAYOUT, score_model, None, stop_threshold=1.0, max_repetitions=5)
    assert _selection(fixed, lambda r: _scores_for("K", 3.0)).decision.n_repetitions == 5
    # a recording that runs out of flashes forces the decision
    short = SpellerEngine(LAYOUT, score_model, None, stop_threshold=1.0, max_repetitions=5)
    out = _selection(short, lambda r: _scores_for("B", 0.5) if r < 2 else None)
    assert out.decision.n_repetitions == 2 and out.decision.symbol == "B" and out.forced
    with pytest.raises(NeurospellError, match="no flashes yet"):
        short.decide()


def test_lm_prior_resolves_ambiguous_evidence(score_model, ngram):
    # evidence that cannot tell E (row 0, col 4) from Q (row 2, col 4): column 4 only
    def ambiguous(r):
        groups = np.arange(12)
        return groups, np.where(groups == 6 + 4, 2.0, -0.2)

    with_lm = SpellerEngine(LAYOUT, score_model, ngram, text="HELLO HOW AR", max_repetitions=1)
    no_lm = SpellerEngine(LAYOUT, score_model, None, text="HELLO HOW AR", max_repetitions=1)
    assert _selection(with_lm, ambiguous).decision.symbol == "E"
    plain = _selection(no_lm, ambiguous).posterior
    assert plain["E"] == pytest.approx(plain["Q"], abs=1e-9)  # the EEG alone cannot tell them apart
    assert with_lm.text == "HELLO HOW ARE"
    # LM + dynamic stopping needs fewer flashes for a likely symbol than no LM
    lm_eng = SpellerEngine(LAYOUT, score_model, ngram, text="HELLO HOW AR", max_repetitions=10)
    plain = SpellerEngine(LAYOUT, score_model, None, text="HELLO HOW AR", max_repetitions=10)
    assert (_selection(lm_eng, lambda r: _scores_for("E", 0.8)).n_flashes
            < _selection(plain, lambda r: _scores_for("E", 0.8)).n_flashes)


def test_candidate_beam_corrects_earlier_decision(ngram):
    alphabet = LAYOUT.symbols
    beam = CandidateBeam(alphabet, ngram, alpha=1.0, beam_width=8)

    def ev(weights):
        ll = np.full(len(alphabet), -8.0)
        for s, v in weights.items():
            ll[alphabet.index(s)] = v
        return ll

    typed = ""
    for step in (ev({"Q": 0.0, "T": -2.5}), ev({"H": 0.0}), ev({"E": 0.0}), ev({" ": 0.0})):
        beam.update(step)
        typed += alphabet[int(np.argmax(step))]
    assert typed == "QHE "  # greedy EEG decisions
    assert beam.candidates.best.text == "THE "  # the LM + later evidence correct the first one
    assert "QHE " in beam.candidates.texts
    best = beam.candidates.best
    assert best.score == pytest.approx(best.eeg_score + best.lm_score)


def test_apply_symbol_and_backspace():
    assert apply_symbol("AB", "<") == "A"
    assert apply_symbol("", "<") == ""
    assert apply_symbol("AB", "C") == "ABC"


def test_itr_and_levenshtein():
    assert itr_bits(36, 1.0) == pytest.approx(np.log2(36))
    assert itr_bits(36, 1 / 36) == 0.0
    assert itr_bits(2, 0.9) == pytest.approx(1 + 0.9 * np.log2(0.9) + 0.1 * np.log2(0.1))
    assert levenshtein("KITTEN", "SITTING") == 3


def _speller_session(text, layout, rng, n_rep=6, sfreq=128.0, amp=6e-6, noise=8e-6):
    """Continuous EEG of a copy-spelling session with a known P300 and speller annotations."""
    import mne

    soa, pause = 0.175, 2.0
    onsets, descr, trial_on = [], [], []
    t = 1.0
    for i, sym in enumerate(text):
        trial_on.append((t - 0.5, f"trial/{i}/{sym if sym != ' ' else '_'}"))
        hit = set(layout.groups_containing(sym))
        for _ in range(n_rep):
            for g in rng.permutation(layout.n_groups):
                onsets.append(t)
                descr.append(f"flash/{g + 1}/{'target' if g in hit else 'nontarget'}")
                t += soa
        t += pause
    n = int((t + 1.0) * sfreq)
    data = noise * rng.standard_normal((8, n))
    tt = np.arange(int(0.8 * sfreq)) / sfreq
    erp = amp * np.exp(-0.5 * ((tt - 0.3) / 0.06) ** 2)
    for on, d in zip(onsets, descr, strict=True):
        if d.endswith("/target"):
            s = int(round(on * sfreq))
            data[:, s:s + len(tt)] += erp
    info = mne.create_info([f"EEG{i + 1:02d}" for i in range(8)], sfreq, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    ann_on = [o for o, _ in trial_on] + onsets
    ann_d = [d for _, d in trial_on] + descr
    raw.set_annotations(mne.Annotations(ann_on, 0.0, ann_d))
    return raw


def test_decode_recording_end_to_end():
    """A recorded session with row/column codes and trial/<i>/<symbol> annotations -> text."""
    from neurospell.decoder import make_decoder
    from neurospell.preprocessing import epochs_from_raw

    cfg = Config()
    layout = cfg.speller.layout()
    rng = np.random.default_rng(3)
    calib = _speller_session("CALIBRATE", layout, rng, n_rep=5)
    _, cal_batch = epochs_from_raw(calib, cfg.preprocessing)
    dec = make_decoder("lda").fit(cal_batch, cfg.preprocessing)
    session = _speller_session("HELLO WORLD", layout, rng, n_rep=6, amp=3e-6)
    seen = []
    rep = decode_recording(session, dec, layout, "ngram", cfg, on_decision=seen.append)
    assert rep.with_lm.intended == "HELLO WORLD"
    assert len(seen) == 11 and rep.with_lm.n_selections == 11
    assert rep.with_lm.accuracy >= 0.9, rep.with_lm.summary()
    assert rep.with_lm.cer <= 0.1
    # dynamic stopping saves flashes, more with the language model than without
    assert rep.with_lm.flashes_per_char < 6 * 12
    assert rep.with_lm.flashes_per_char <= rep.without_lm.flashes_per_char
    assert rep.with_lm.chars_per_minute > 0 and rep.with_lm.itr > 0
    # the EpochBatch path and a recording without row/column codes
    _, batch = epochs_from_raw(session, cfg.preprocessing)
    scores = dec.decision_function(batch)
    res = decode_batch(batch, scores, dec.score_model_, layout, None, cfg,
                       intended="HELLO WORLD", dynamic_stopping=False)
    assert res.flashes_per_char == 6 * 12
    # the batch driver on the same scores gives the same decisions
    eng = SpellerEngine.from_config(layout, dec.score_model_, None, cfg, stop_threshold=1.0)
    decs = run_trials(eng, batch.codes - 1, scores, batch.trials, batch.onsets)
    assert [d.decision.symbol for d in decs] == [d.symbol for d in res.decisions]
    nocode = EpochBatch(batch.data, np.zeros(len(batch), int), batch.onsets, batch.tmin, batch.sfreq,
                        batch.ch_names, None, batch.trials)
    with pytest.raises(NeurospellError, match="cannot be decoded into text"):
        decode_batch(nocode, np.zeros(len(batch)), dec.score_model_, layout, None, cfg)


def test_stop_checked_after_every_flash(score_model):
    """Weak first repetition, then K's row and column flash first with clear responses."""
    order = np.r_[1, 10, [g for g in range(12) if g not in (1, 10)]]

    def source(r):
        hit = {1, 10}
        level = 0.3 if r == 0 else 3.0
        return order, np.array([level if g in hit else -level for g in order])

    per_flash = SpellerEngine(LAYOUT, score_model, None, stop_threshold=0.95)
    out = _selection(per_flash, source)
    assert out.decision.symbol == "K" and out.n_flashes == 14
    per_rep = SpellerEngine(LAYOUT, score_model, None, stop_threshold=0.95, stop_each_flash=False)
    out = _selection(per_rep, source)
    assert out.n_flashes == 24 and out.decision.n_repetitions == 2


def test_word_completion_as_one_selection(score_model, ngram):
    eng = SpellerEngine(LAYOUT, score_model, ngram, text="SEE YOU TOMOR")
    words = eng.snapshot().completions
    assert words.best.text == "TOMORROW"
    events = eng.select(Completion(words.best.text))
    assert eng.text == "SEE YOU TOMORROW " and events[0].text == "SEE YOU TOMORROW "
    assert events[0].previous == "SEE YOU TOMOR"
    assert eng.candidates.best.text == "SEE YOU TOMORROW "
    with pytest.raises(NeurospellError, match="one non-empty word"):
        Completion("TWO WORDS")
    assert len(SpellerEngine(LAYOUT, score_model, None).snapshot().completions) == 0


def test_calibrate_alpha_on_calibration_scores(score_model, ngram):
    from neurospell.session.spelling import calibrate_alpha

    rng = np.random.default_rng(5)
    tgt, non = rng.normal(1.0, 1.0, 100), rng.normal(-1.0, 1.0, 500)
    alpha, scores = calibrate_alpha(ngram, LAYOUT, score_model, tgt, non, phrases=["HOW ARE YOU", "I AM FINE"])
    assert alpha > 0.3  # an English LM helps on English text
    assert scores.max() > scores[0]  # better than alpha = 0
    with pytest.raises(NeurospellError, match="not on the grid"):
        calibrate_alpha(ngram, LAYOUT, score_model, tgt, non, phrases=["HI!"])
