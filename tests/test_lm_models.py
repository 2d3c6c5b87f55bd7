"""Model-specific tests: KV cache, n-gram smoothing, training smoke test, held-out quality."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.lm_fusion import NgramLM, TransformerLM, complete_words, make_model
from neurospell.lm_fusion.text import VOCAB, normalise


def _need_corpus():
    try:
        import chitchat_dataset  # noqa: F401
    except ImportError:
        pytest.fail("The corpus package is a test dependency: pip install chitchat-dataset (MIT licence).")


def test_normalise():
    assert normalise("Don't  stop,  me now!") == "DONT STOP, ME NOW!"
    assert normalise("héllo\twörld ") == "H LLO W RLD"
    assert normalise("a.b?c", keep_punctuation=False) == "A B C"


def test_transformer_kv_cache_matches_full_recompute():
    lm = TransformerLM()
    text = "I WOULD LIKE SOME COFFEE"
    inc = [lm.next_logp(text[:i]) for i in range(len(text) + 1)]  # one step per character
    fresh = TransformerLM()
    for i in (0, 5, len(text)):
        fresh.reset()
        np.testing.assert_allclose(fresh.next_logp(text[:i]), inc[i], atol=1e-5)
    # a branch off a cached prefix and a context longer than the window
    np.testing.assert_allclose(lm.next_logp("I WOULD LOVE"), TransformerLM().next_logp("I WOULD LOVE"), atol=1e-5)
    long = ("HELLO THERE " * 30).strip()
    assert len(long) > lm.context_len
    assert abs(np.logaddexp.reduce(lm.next_logp(long))) < 1e-9


def test_transformer_context_same_bit_for_bit_whatever_the_calls_before():
    """A context's distribution does not depend on the cache, the call order or the batch a
    prefetch computes it in (a live session and its replay query the model differently)."""
    contexts = ["", "H", "HE", "HELLO WOR", "HELLO WORL", "HELLO WORLD", "HELLO WORK", "THE QUICK B", "I WOULD "]
    alone = TransformerLM()
    ref = {}
    for c in contexts:  # each computed from an empty cache
        alone.reset()
        ref[c] = alone.next_logp(c).copy()
    lm = TransformerLM(cache_size=6)  # small: contexts are evicted and computed again
    lm.prefetch(["HELLO WOR", "THE QUICK "])
    lm.prefetch(["HELLO WORL", "HELLO WORK", "HELLO WORX", "THE QUICK B", "THE QUICK C"])  # one batch of 5
    complete_words(lm, "HELLO WOR", 5)  # batches of up to 20 contexts
    lm.prefetch(["HELLO WORK"])  # a batch of 1
    for c in contexts[::-1]:
        np.testing.assert_array_equal(lm.next_logp(c), ref[c], err_msg=repr(c))
    # each row of a batched network step is the row's step alone, bit for bit
    import torch

    with torch.inference_mode():
        past = lm._run("HELLO WOR")[0]
        one = lm.net.step([5], [past])[0]
        for n in (2, 3, 9, 20):
            many = lm.net.step([5] * n, [past] * n)[0]
            for r in range(n):
                assert torch.equal(many[r], one[0]), (n, r)


def test_transformer_missing_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TransformerLM(tmp_path / "nope.pt")


def test_ngram_counts_and_smoothing():
    lm = NgramLM(order=3).fit(["ABAB", "ABAB", "ABC"])
    lp = lm.next_logp("AB")
    p = np.exp(lp)
    assert abs(p.sum() - 1) < 1e-12
    assert p[VOCAB.index("A")] > p[VOCAB.index("C")] > p[VOCAB.index("Z")] > 0  # seen 2x > 1x > never
    # order-1 continuation counts: "B" follows only "A" -> 1; "A" follows BOS and B -> 2
    assert lm.counts_[0][np.searchsorted(lm.keys_[0], VOCAB.index("A") + 1)] == 2
    with pytest.raises(NeurospellError, match="order must be an integer"):
        NgramLM(order=17)  # 1..16 (orders above 10 hash their keys)
    with pytest.raises(NeurospellError, match="not fitted"):
        NgramLM().next_logp("A")
    with pytest.raises(NeurospellError, match="no text"):
        NgramLM().fit(["", "~~"])


def test_ngram_save_load_roundtrip(tmp_path):
    lm = NgramLM(order=4).fit(["HELLO WORLD", "HELLO THERE", "WORLD PEACE"])
    lm.save(tmp_path / "ng.npz")
    back = NgramLM.load(tmp_path / "ng.npz")
    for ctx in ("", "HEL", "WORLD P", "XYZ"):
        np.testing.assert_allclose(back.next_logp(ctx), lm.next_logp(ctx), atol=1e-12)


def test_word_completion():
    lm = make_model("ngram")
    assert complete_words(lm, "HOW ARE Y", 3).best.text == "YOU"
    words = complete_words(lm, "I AM GOING TO THE STO", 3)
    assert "STORE" in words.texts
    assert len(words) == 3
    assert all(c.text.startswith("STO") for c in words)
    assert complete_words(lm, "HI", 0).texts == []


def test_training_smoke(tmp_path):
    """Two tiny training steps write weights that load and a report with held-out bits/char."""
    _need_corpus()
    from neurospell.lm_fusion.training import train_char_transformer

    rep = train_char_transformer(tmp_path, max_minutes=1.0, steps=4, checkpoint_every=2, n_layer=1,
                                 d_model=32, n_head=2, seq_len=32, batch_size=4)
    assert rep["steps"] == 4 and rep["valid_bits_per_char_windows"] > 0
    lm = TransformerLM(tmp_path / "char_transformer.pt")
    assert abs(np.logaddexp.reduce(lm.next_logp("HI"))) < 1e-9


def test_shipped_models_beat_ngram_on_heldout_text():
    """The shipped transformer and the default mixture beat the 7-gram on held-out chat."""
    _need_corpus()
    from neurospell.lm_fusion.text import heldout_lines

    lines = [t for t in heldout_lines("test", alphabet=tuple(VOCAB), max_lines=150) if len(t) <= 120]
    n = sum(len(t) for t in lines)
    bpc = {}
    for name in ("ngram", "transformer", "mixture"):
        lm = make_model(name)
        bpc[name] = -sum(lm.score(lines)) / n / math.log(2)
    assert bpc["mixture"] < bpc["ngram"] - 0.02, bpc
    assert bpc["transformer"] < bpc["ngram"], bpc
