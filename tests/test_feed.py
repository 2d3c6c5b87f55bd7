"""The one feed loop (session/feed.py) and the driver's direct selections."""

from __future__ import annotations

import numpy as np
import pytest

from neurospell.acquisition import GapIndexer
from neurospell.check import NeurospellError
from neurospell.config import Config
from neurospell.decoder import make_decoder
from neurospell.preprocessing import OnlineEpocher, epochs_from_raw, load_recording
from neurospell.session.demo import SAMPLE_RECORDING, split_phrases
from neurospell.session.drivers import StreamDriver
from neurospell.session.engine import Completion, SpellerEngine
from neurospell.session.feed import EpocherSink, feed, feed_chunk
from neurospell.session.replay import RecordingReader, iter_recording


@pytest.fixture(scope="module")
def setup():
    cfg = Config()
    raw = load_recording(SAMPLE_RECORDING)
    _, batch = epochs_from_raw(raw, cfg.preprocessing)
    phrases = split_phrases(raw, batch)
    cal = batch.subset(np.isin(batch.trials, phrases[0].trials))
    dec = make_decoder("lda").fit(cal, cfg.preprocessing)
    # three characters of the first test phrase
    on = batch.onsets[np.isin(batch.trials, np.sort(phrases[1].trials)[:3])]
    return cfg, raw.copy().crop(float(on.min()) - 1.0, float(on.max()) + 2.0), dec


def _driver(cfg, raw, dec, **kw):
    layout = cfg.speller.layout()
    # no stopping rule: a character is decided when the next one starts (or the stream ends)
    engine = SpellerEngine.from_config(layout, dec.score_model_, None, cfg, stop_threshold=1.0,
                                       max_repetitions=50, seed=0)
    return StreamDriver.for_recording(engine, dec, cfg.preprocessing, raw, **kw)


def _decisions(driver):
    return [(d.decision.symbol, d.n_flashes, d.text) for ph in driver.phrases for d in ph.decisions[0]]


def test_finish_decides_the_open_selection_and_flush_does_not(setup):
    cfg, raw, dec = setup
    done = _driver(cfg, raw, dec)
    cut = _driver(cfg, raw, dec)
    feed(RecordingReader(raw, chunk_seconds=0.1), done)
    feed(RecordingReader(raw, chunk_seconds=0.1), cut, end="flush")
    assert len(_decisions(done)) >= 2
    # the stream cut short (a crash): every selection the stream closed, not the open one
    assert _decisions(cut) == _decisions(done)[:-1]
    assert cut.n_flashes == done.n_flashes


def test_feed_with_an_indexer_equals_indexing_by_hand(setup):
    """What a live session does with each read (index, then push) is what feed does."""
    cfg, raw, dec = setup
    t0 = 1000.0
    chunks = list(iter_recording(raw, chunk_seconds=0.07, t0=t0))
    # 0.5 s of samples never arrive (a stream lost and back): its markers still do
    lost = [i for i, (c, _) in enumerate(chunks) if 20.0 <= c.timestamps[0] - t0 < 20.5]
    assert lost

    class Reader:
        def __init__(self):
            self.items, self.exhausted = list(chunks), False

        def read(self):
            if not self.items:
                self.exhausted = True
                return None, []
            i = len(chunks) - len(self.items)
            chunk, markers = self.items.pop(0)
            return (None if i in lost else chunk), markers

    by_feed = _driver(cfg, raw, dec)
    feed(Reader(), by_feed, indexer=GapIndexer(raw.info["sfreq"], 0.05))
    by_hand = _driver(cfg, raw, dec)
    ix = GapIndexer(raw.info["sfreq"], 0.05)
    for i, (chunk, markers) in enumerate(chunks):
        if i in lost:
            by_hand.push(None, markers)
            continue
        pieces = ix.split(chunk)
        for p in pieces[:-1]:
            by_hand.push(p)
        by_hand.push(pieces[-1], markers)
    by_hand.finish()
    # one read at a time, as a live session's pump: feed_chunk, each piece recorded
    by_step, recorded = _driver(cfg, raw, dec), []
    ix2 = GapIndexer(raw.info["sfreq"], 0.05)
    for i, (chunk, markers) in enumerate(chunks):
        feed_chunk(by_step, None if i in lost else chunk, markers, indexer=ix2, on_piece=recorded.append)
    by_step.finish()
    assert sum(p.n_samples for p in recorded) == sum(c.n_samples for i, (c, _) in enumerate(chunks) if i not in lost)
    assert _decisions(by_step) == _decisions(by_hand)
    assert len(ix.gaps) == 1 and ix.gaps[0]["n_samples"] >= 0.5 * raw.info["sfreq"] - 1
    assert _decisions(by_feed) == _decisions(by_hand)
    assert by_feed.n_flashes == by_hand.n_flashes
    assert by_feed.epocher.n_dropped_ == by_hand.epocher.n_dropped_ and sum(by_hand.epocher.n_dropped_.values())


def test_a_logged_selection_is_applied_where_it_was_live(setup):
    cfg, raw, dec = setup
    at = 40  # flashes handed on before the backspace key was pressed
    live = _driver(cfg, raw, dec)
    seen = []

    def on_score(onset, group, score, trial):
        if len(seen) == at:
            seen.append(live.select("<"))  # what the live session does at that moment
        seen.append(onset)

    live.on_score = on_score
    feed(RecordingReader(raw, chunk_seconds=0.1), live)
    text_after = seen[at]
    replay = _driver(cfg, raw, dec)
    replay.select_logged("<", text_after, after=at)
    feed(RecordingReader(raw, chunk_seconds=0.1), replay)
    assert replay.select_mismatch is None
    assert _decisions(replay) == _decisions(live)
    # a text the replay does not reproduce is reported, not ignored
    wrong = _driver(cfg, raw, dec)
    wrong.select_logged("<", text_after + "X", after=at)
    feed(RecordingReader(raw, chunk_seconds=0.1), wrong)
    assert "the live text was" in wrong.select_mismatch


def test_a_logged_word_is_read_as_a_completion(setup):
    cfg, raw, dec = setup
    d = _driver(cfg, raw, dec)
    d.engines[0].reset("HEL")
    d.select_logged("HELLO", "HELLO ")
    assert d.engines[0].text == "HELLO " and d.select_mismatch is None
    assert d.select(Completion("WORLD")) == "HELLO WORLD "


def test_feed_refuses_a_reader_that_never_ends_without_stop(setup):
    cfg, raw, dec = setup

    class Live:
        def read(self):
            return None, []

    with pytest.raises(NeurospellError, match="stop"):
        feed(Live(), _driver(cfg, raw, dec))
    with pytest.raises(NeurospellError, match="end"):
        feed(RecordingReader(raw), _driver(cfg, raw, dec), end="later")


def test_epochs_alone(setup):
    cfg, raw, _ = setup
    sink = EpocherSink(OnlineEpocher(cfg.preprocessing, raw.info["sfreq"], raw.ch_names, raw.get_channel_types()))
    seen = []
    batches = feed(RecordingReader(raw, chunk_seconds=0.2), sink, on_batch=seen.append)
    assert batches == seen and sum(map(len, batches)) > 0
    # the epocher read the trial markers' symbols
    assert any(s is not None for s in sink.epocher.trial_symbols_.values())
