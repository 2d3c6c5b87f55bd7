"""The stream driver on a live source: BrainFlow's synthetic board, flash markers inserted
as a live session would, every epoch scored and given to the engine as soon as it is complete."""

import time

import numpy as np

from neurospell.acquisition import open_source
from neurospell.config import Config
from neurospell.decoder import make_decoder
from neurospell.markers import flash_to_str
from neurospell.preprocessing import OnlineEpocher
from neurospell.session import SelectionDecided, SpellerEngine, StreamDriver
from neurospell.session.simulator import synthetic_erp_epochs
from neurospell.types import EpochBatch


def test_stream_driver_decides_on_a_live_source():
    cfg = Config()
    layout = cfg.speller.layout()
    src = open_source("synthetic", cfg.acquisition)
    # a real LDA trained on synthetic P300 epochs shaped like this source's epochs
    names = OnlineEpocher(cfg.preprocessing, src.sfreq, src.ch_names, src.ch_types).ch_names_
    b = synthetic_erp_epochs(6, 3, n_channels=len(names), sfreq=src.sfreq, tmax=cfg.preprocessing.tmax, rng=0)
    b = EpochBatch(b.data, b.codes, b.onsets, b.tmin, b.sfreq, tuple(names), b.targets, b.trials)
    dec = make_decoder("lda").fit(b, cfg.preprocessing)
    eng = SpellerEngine.from_config(layout, dec.score_model_, None, cfg, stop_threshold=1.0,
                                    max_repetitions=1, seed=0)
    events = []
    src.start()
    try:
        rd = src.reader(from_start=True)
        driver = StreamDriver(eng, dec, cfg.preprocessing, src.sfreq, src.ch_names, src.ch_types,
                              on_events=lambda k, ev: events.append(ev))
        groups = list(eng.next_flashes())
        sent, last = 0, -1.0
        deadline = time.monotonic() + 30.0
        while not events and time.monotonic() < deadline:
            now = time.monotonic()
            if sent < len(groups) and now - last >= cfg.speller.soa:
                src.insert_marker(flash_to_str(groups[sent] + 1))
                sent, last = sent + 1, now
            rd.wait(0.02)
            chunk, markers = rd.read()
            driver.push(chunk, markers)
    finally:
        src.stop()
    assert events, "no decision within 30 s"
    decided = events[0][0]
    assert isinstance(decided, SelectionDecided) and decided.n_flashes == 12
    assert driver.n_scored == 12 and eng.text == decided.decision.symbol
    assert abs(np.logaddexp.reduce(decided.posterior.logp)) < 1e-9

