"""The adaptive session cache (CacheLM)."""

from __future__ import annotations

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.lm_fusion import NgramLM
from neurospell.lm_fusion.cache import CacheLM
from neurospell.lm_fusion.text import VOCAB

TEXT = ["how are you", "i am fine thanks", "where is the door", "can you help me", "the weather is nice"] * 4


@pytest.fixture(scope="module")
def base():
    return NgramLM(order=4).fit(TEXT)


def test_without_history_the_cache_is_the_base(base):
    c = CacheLM(base, order=4, beta=5.0, min_order=1)
    # a context whose recent characters never occurred before: exactly the wrapped model
    np.testing.assert_array_equal(c.next_logp(""), base.next_logp(""))
    np.testing.assert_array_equal(c.next_logp("Q"), base.next_logp("Q"))


def test_cache_formula_and_session_memory(base):
    c = CacheLM(base, order=1, beta=4.0, min_order=1)
    c.remember("xylophone zebra")
    c.remember("xylophone")
    # order 1 after an empty context: the history is the start-of-message mark, followed by
    # "X" twice in the remembered messages
    p0 = np.exp(base.next_logp(""))
    counts = np.zeros(len(VOCAB))
    counts[VOCAB.index("X")] = 2
    np.testing.assert_allclose(np.exp(c.next_logp("")), (counts + 4.0 * p0) / (2 + 4.0), rtol=1e-12)
    # within the context too: after "ZEBRA Z", "E" followed "Z" once in the memory and once in the context
    p = np.exp(c.next_logp("ZEBRA Z"))
    assert p[VOCAB.index("E")] > np.exp(base.next_logp("ZEBRA Z"))[VOCAB.index("E")]
    # higher orders remember whole words typed earlier
    c4 = CacheLM(base, order=5, beta=2.0)
    before = np.exp(c4.next_logp("I LIKE THE XYLOP"))[VOCAB.index("H")]
    c4.remember("my xylophone is red")
    after = np.exp(c4.next_logp("I LIKE THE XYLOP"))[VOCAB.index("H")]
    assert after > 2 * before
    c4.forget()
    np.testing.assert_allclose(np.exp(c4.next_logp("I LIKE THE XYLOP"))[VOCAB.index("H")], before)


def test_cache_is_a_distribution_and_deterministic(base):
    c = CacheLM(base, order=5, beta=3.0)
    c.remember("where is the door")
    for ctx in ("", "W", "WHERE IS THE D", "THE THE THE ", "HOW ARE YOU HOW ARE Y"):
        lp = c.next_logp(ctx)
        assert abs(np.logaddexp.reduce(lp)) < 1e-9 and np.all(np.isfinite(lp))
        c.next_logp("SOMETHING ELSE")
        np.testing.assert_array_equal(c.next_logp(ctx), lp)  # no hidden state besides remember()
    s = c.score(["DOOR"], context="WHERE IS THE ")
    lp = sum(c.next_logp("WHERE IS THE " + "DOOR"[:i])[VOCAB.index("DOOR"[i])] for i in range(4))
    assert s[0] == pytest.approx(lp, rel=1e-12)


def test_cache_errors(base):
    with pytest.raises(NeurospellError, match="LanguageModel to wrap"):
        CacheLM("ngram")
    with pytest.raises(NeurospellError, match="order must be a positive integer"):
        CacheLM(base, order=0)
    with pytest.raises(NeurospellError, match="min_order must be an integer in"):
        CacheLM(base, order=3, min_order=4)
    with pytest.raises(NeurospellError, match="beta must be positive"):
        CacheLM(base, beta=0)
