"""GapIndexer: samples re-indexed on the stream's clock, so no epoch spans missing samples."""

import numpy as np

from neurospell.config import PreprocessConfig
from neurospell.preprocessing import OnlineEpocher
from neurospell.session.drivers import GapIndexer
from neurospell.types import MarkerEvent, SampleChunk

SF = 100.0
NAMES = ("Pz", "Cz")


def _chunk(t0, n, first, rng):
    ts = t0 + np.arange(n) / SF
    return SampleChunk(rng.standard_normal((2, n)) * 1e-5, ts, NAMES, ("eeg", "eeg"), SF, first_index=first)


def test_a_stretch_missing_from_the_timestamps_advances_the_index_and_splits_the_chunk():
    rng = np.random.default_rng(0)
    ix = GapIndexer(SF, 0.05)
    a = ix.split(_chunk(10.0, 50, 0, rng))
    assert [(p.first_index, p.n_samples) for p in a] == [(0, 50)]
    # the source's count goes on at 50, but 2 s (200 samples) are missing before the next chunk
    c = _chunk(10.0 + 2.5, 30, 50, rng)
    ts = np.r_[10.0 + np.arange(50, 60) / SF, c.timestamps[10:]]  # 10 contiguous, then the jump
    c = SampleChunk(c.data, ts, NAMES, ("eeg", "eeg"), SF, first_index=50)
    b = ix.split(c)
    assert [(p.first_index, p.n_samples) for p in b] == [(50, 10), (60 + ix.gaps[0]["n_samples"], 20)]
    assert ix.gaps[0]["n_samples"] == int(round((ts[10] - ts[9]) * SF)) - 1
    assert np.array_equal(np.concatenate([p.data for p in b], axis=1), c.data)  # values untouched


def test_as_recorded_rounds_to_float32_and_epochs_over_the_gap_are_dropped():
    rng = np.random.default_rng(1)
    ix = GapIndexer(SF, 0.05, as_recorded=True)
    ep = OnlineEpocher(PreprocessConfig(tmin=0.0, tmax=0.5), SF, NAMES, ("eeg", "eeg"))
    first = _chunk(0.0, 300, 0, rng)
    (p,) = ix.split(first)
    assert np.array_equal(p.data, first.data.astype(np.float32).astype(np.float64))
    # flashes: one well inside, one whose window spans the missing stretch, one after it
    ep.push_markers([MarkerEvent(1.0, 1, "flash:1"), MarkerEvent(2.8, 2, "flash:2"), MarkerEvent(6.0, 3, "flash:3")])
    ep.push_samples(p)
    later = _chunk(5.0, 300, 300, rng)  # received right after sample 299, but 2 s later on the clock
    for piece in ix.split(later):
        ep.push_samples(piece)
    batch = ep.pop_epochs()
    assert sorted(batch.codes.tolist()) == [1, 3]
    assert ep.n_dropped_["gap"] == 1
