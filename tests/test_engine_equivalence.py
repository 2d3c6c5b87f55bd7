"""One engine, three drivers: for the same flash scores the batch driver, the stream driver
over a recording (random chunking) and the score-level simulation give the same decisions
and texts, with posteriors equal within float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest

from neurospell.config import Config
from neurospell.decoder import make_decoder
from neurospell.lm_fusion import make_model
from neurospell.preprocessing import epochs_from_raw, load_recording
from neurospell.session.demo import SAMPLE_RECORDING, split_phrases
from neurospell.session.drivers import StreamDriver, run_trials, spell_symbol
from neurospell.session.engine import SpellerEngine
from neurospell.session.replay import RecordingReader


class RecordedFlashes:
    """A participant who answers with the recorded scores, flashing in the recorded order:
    the engine's flash-group strategy and the participant's responses, one character at a time."""

    def __init__(self, groups, scores):
        self.groups, self.scores = list(groups), list(scores)
        self.pos = 0
        self.n_groups = 12

    def next_repetition(self):
        return tuple(self.groups[self.pos:self.pos + self.n_groups])

    def respond_flashes(self, layout, symbol, groups):
        out = self.scores[self.pos:self.pos + len(groups)]
        assert list(groups) == self.groups[self.pos:self.pos + len(groups)]
        self.pos += len(groups)
        return np.array(out)


@pytest.fixture(scope="module")
def session():
    cfg = Config()
    raw = load_recording(SAMPLE_RECORDING)
    _, batch = epochs_from_raw(raw, cfg.preprocessing)
    phrases = split_phrases(raw, batch)
    cal = batch.subset(np.isin(batch.trials, phrases[0].trials))
    dec = make_decoder("lda").fit(cal, cfg.preprocessing)
    return cfg, raw, batch, phrases, dec, make_model("ngram", cfg.lm)


@pytest.mark.parametrize("seed", [0, 1])
def test_batch_stream_and_simulation_agree(session, seed):
    cfg, raw, batch, phrases, dec, lm = session
    layout = cfg.speller.layout()
    scores = dec.decision_function(batch)

    def engine(**kw):
        return SpellerEngine.from_config(layout, dec.score_model_, lm, cfg, alpha=0.8, **kw)

    # 1. batch driver: recorded scores, each phrase from an empty text
    batch_runs = []
    eng = engine()
    for ph in phrases:
        eng.reset("")
        m = np.isin(batch.trials, ph.trials)
        sub = batch.subset(m)
        batch_runs.append(run_trials(eng, sub.codes - 1, scores[m], sub.trials, sub.onsets))

    # 2. stream driver: the recording read in random chunks -> filter -> epocher -> decoder -> engine
    driver = StreamDriver.for_recording(engine(), dec, cfg.preprocessing, raw)
    driver.read_from(RecordingReader(raw, chunk_seconds=0.08, rng=seed))
    assert [p.text for p in driver.phrases] == [p.text for p in phrases]
    assert driver.n_scored == len(batch)

    # 3. score-level simulation: a participant answering the engine's flashes with the same scores
    sim_runs = []
    for ph in phrases:
        runs = []
        eng = None
        for t in np.sort(ph.trials):
            idx = np.flatnonzero(batch.trials == t)
            idx = idx[np.argsort(batch.onsets[idx], kind="stable")]
            who = RecordedFlashes(batch.codes[idx] - 1, scores[idx])
            if eng is None:
                eng = engine(flash_groups=who)
            eng.flash_groups = who
            sym = ph.text[len(runs)]
            runs.append(spell_symbol(eng, sym, who))
        sim_runs.append(runs)

    n_dec = 0
    for b_run, s_run, st in zip(batch_runs, sim_runs, driver.phrases, strict=True):
        stream_run = st.decisions[0]
        assert len(b_run) == len(s_run) == len(stream_run) == len(st.trials)
        for b, s, r in zip(b_run, s_run, stream_run, strict=True):
            assert b.decision.symbol == s.decision.symbol == r.decision.symbol
            assert b.text == s.text == r.text
            assert b.n_flashes == s.n_flashes == r.n_flashes
            # batch and simulation: the very same scores -> the very same numbers
            np.testing.assert_array_equal(b.posterior.logp, s.posterior.logp)
            # stream: epochs filtered chunk by chunk and stored as float32 -> equal within that rounding
            np.testing.assert_allclose(b.posterior.probs, r.posterior.probs, rtol=0, atol=1e-6)
            n_dec += 1
    assert n_dec == 27
    # some selections stopped early and the text is the one intended (the decoder is good)
    flashes = [d.n_flashes for run in batch_runs for d in run]
    assert min(flashes) < max(flashes)
    assert sum(b.decision.symbol == c for run, ph in zip(batch_runs, phrases, strict=True)
               for b, c in zip(run, ph.text, strict=True)) >= 25
