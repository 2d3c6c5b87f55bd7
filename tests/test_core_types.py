"""Core data types: validated once, frozen, clear errors."""

import dataclasses

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.types import (
    Candidate,
    CandidateList,
    CharDistribution,
    Decision,
    EpochBatch,
    MarkerEvent,
    SampleChunk,
    SpellerLayout,
)


def _chunk(n_ch=3, n=10, t0=0.0):
    return SampleChunk(np.arange(n_ch * n, dtype=float).reshape(n_ch, n), t0 + np.arange(n) / 250.0,
                       [f"C{i}" for i in range(n_ch)], ["eeg"] * n_ch, 250)


def test_sample_chunk_valid_and_frozen():
    c = _chunk()
    assert c.n_channels == 3 and c.n_samples == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.sfreq = 100
    with pytest.raises(ValueError):
        c.data[0, 0] = 1.0  # read-only array


def test_sample_chunk_does_not_freeze_callers_buffer():
    buf = np.zeros((2, 4))
    SampleChunk(buf, np.arange(4.0), ["a", "b"], ["eeg", "eeg"], 100)
    buf[0, 0] = 1.0  # the caller's buffer stays writable


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(data=np.zeros(5)), "2-D"),
        (dict(timestamps=np.arange(9.0)), "timestamps must have shape"),
        (dict(timestamps=np.arange(10.0)[::-1]), "non-decreasing"),
        (dict(ch_names=["a"]), "ch_names must have 3 entries"),
        (dict(sfreq=0), "sfreq"),
    ],
)
def test_sample_chunk_errors_name_the_field(kwargs, match):
    base = dict(data=np.zeros((3, 10)), timestamps=np.arange(10.0), ch_names=["a", "b", "c"],
                ch_types=["eeg"] * 3, sfreq=250.0)
    base.update(kwargs)
    with pytest.raises(NeurospellError, match=match):
        SampleChunk(**base)


def test_sample_chunk_concatenate():
    a, b = _chunk(n=5), _chunk(n=7, t0=1.0)
    c = SampleChunk.concatenate([a, b])
    assert c.n_samples == 12
    np.testing.assert_array_equal(c.data[:, 5:], b.data)


def test_marker_event():
    m = MarkerEvent(1.5, "3", "flash:3")
    assert m.code == 3
    with pytest.raises(NeurospellError, match="code must be an integer"):
        MarkerEvent(1.0, "x")
    with pytest.raises(NeurospellError, match="finite"):
        MarkerEvent(float("nan"), 1)


def test_epoch_batch_subset_concat():
    rng = np.random.default_rng(0)
    eb = EpochBatch(rng.normal(size=(6, 2, 5)), np.arange(1, 7), np.arange(6.0), 0.0, 100, ["a", "b"],
                    targets=[0, 1, 0, 0, 1, 0], trials=[0, 0, 0, 1, 1, 1])
    assert eb.data.dtype == np.float32 and eb.targets.dtype == bool
    sub = eb.subset(eb.trials == 1)
    assert len(sub) == 3 and sub.targets.tolist() == [False, True, False]
    both = EpochBatch.concatenate([sub, sub])
    assert len(both) == 6
    np.testing.assert_allclose(eb.times, np.arange(5) / 100)
    with pytest.raises(NeurospellError, match="targets"):
        EpochBatch(np.zeros((2, 1, 3)), [1, 2], [0.0, 1.0], 0.0, 100, ["a"], targets=[0, 2])


def test_layout_row_column():
    lay = SpellerLayout.row_column()
    assert lay.n_groups == 12 and len(lay.symbols) == 36
    m = lay.membership()
    assert m.shape == (12, 36) and m.sum(axis=0).tolist() == [2] * 36
    assert lay.groups_containing("A") == (0, 6)
    assert lay.groups_containing("H") == (1, 7)
    with pytest.raises(NeurospellError, match="not on the speller grid"):
        lay.groups_containing("!")


def test_char_distribution_invariant():
    d = CharDistribution.from_scores("ABC", [0.0, 1.0, 2.0])
    assert d.argmax() == "C"
    assert abs(d.probs.sum() - 1) < 1e-12
    assert d.top(1)[0][0] == "C"
    with pytest.raises(NeurospellError, match="normalised"):
        CharDistribution(("A", "B"), np.log([0.5, 0.6]))
    u = CharDistribution.uniform("AB")
    assert u["A"] == pytest.approx(np.log(0.5))


def test_candidates_sorted():
    cl = CandidateList((Candidate("a", -3.0), Candidate("b", -1.0), Candidate("c", -2.0)))
    assert cl.texts == ["b", "c", "a"] and cl.best.text == "b"
    with pytest.raises(NeurospellError):
        Candidate("x", float("nan"))


def test_decision():
    d = Decision("A", 0.97, 3, 12.0)
    assert d.n_repetitions == 3
    with pytest.raises(NeurospellError, match="posterior"):
        Decision("A", 1.5, 1)
