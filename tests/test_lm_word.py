"""The word model (word n-grams as a character model) and the exact n-gram slice."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.cli import main
from neurospell.lm_fusion import NgramLM, complete_words
from neurospell.lm_fusion.ngram_slice import restrict_ngram
from neurospell.lm_fusion.text import VOCAB
from neurospell.lm_fusion.wordlm import WordLM

DATA = Path(__file__).parent / "data"
TEXT = ["where are my keys", "where are my glasses?", "where is the door", "can you open the door",
        "can you open the window, please", "open the door", "my keys are on the table", "the door is open"] * 3


def _p(lm, ctx):
    return np.exp(lm.next_logp(ctx))


def test_word_probabilities_are_sums_over_words():
    """Next-character probabilities equal the mass of the consistent words, computed by hand."""
    lm = WordLM(order=1, discount=0.75).fit(TEXT)
    words = dict(zip(lm.words_.tolist(), lm.unigram_, strict=True))
    # after "THE D": only DOOR starts with D -> "O" takes almost everything
    p = _p(lm, "THE D")
    assert p[VOCAB.index("O")] > 0.95
    # from a word start, P(first letter) is the unigram mass of the words with that letter
    # (plus the unknown-word share, spelled by the character unigram), renormalised
    p = _p(lm, "")
    unk = lm.oov_p_ * lm.char_p_
    mass = {c: sum(v for w, v in words.items() if w[0] == c) + unk[VOCAB.index(c)] for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    mass.update({c: unk[VOCAB.index(c)] for c in "0123456789"})
    z = sum(mass.values())
    for c in "WOTMCK":
        assert p[VOCAB.index(c)] == pytest.approx((1 - 1e-4) * mass[c] / z + 1e-4 / len(VOCAB), rel=1e-6)
    # a complete word: the word end goes to the separators (space, punctuation)
    p = _p(lm, "WHERE ARE MY KEYS")
    assert p[VOCAB.index(" ")] + p[VOCAB.index("?")] > 0.9
    # after punctuation: a space (what followed the comma in the text) is the most probable
    assert np.argmax(_p(lm, "THE WINDOW,")) == VOCAB.index(" ")


def test_word_bigram_trigram_context_and_start_of_message():
    lm = WordLM(order=3).fit(TEXT)
    # "OPEN THE " is followed by DOOR or WINDOW; after "CAN YOU OPEN THE " the trigram knows more
    p = _p(lm, "OPEN THE ")
    assert p[VOCAB.index("D")] > p[VOCAB.index("W")] > p[VOCAB.index("T")]
    # the start of a message: W (WHERE), C (CAN), O (OPEN), M (MY), T (THE) start messages
    p0 = _p(lm, "")
    assert p0[VOCAB.index("W")] > p0[VOCAB.index("D")]
    # a distribution everywhere, finite, normalised; unknown words do not break it
    for ctx in ("", "XQZ", "XQZ ", "WHERE ARE MY KEYS ", "THE DOOR, ", "12 "):
        lp = lm.next_logp(ctx)
        assert np.all(np.isfinite(lp)) and abs(np.logaddexp.reduce(lp)) < 1e-9


def test_word_chain_rule_gives_word_probability():
    """The product of the character probabilities of a word and its end = P(word | history) (up to the
    separator split and the smoothing)."""
    lm = WordLM(order=2, discount=0.5).fit(TEXT)
    ctx = "CAN YOU OPEN THE "
    total = 0.0
    for w in lm.words_.tolist():
        lp = sum(lm.next_logp(ctx + w[:i])[VOCAB.index(w[i])] for i in range(len(w)))
        end = np.exp(lm.next_logp(ctx + w))
        total += math.exp(lp) * end[[VOCAB.index(c) for c in " .,?!"]].sum()
    assert 0.95 < total <= 1.0 + 1e-9  # the rest: unknown words and the smoothing


def test_word_save_load_and_errors(tmp_path):
    lm = WordLM(order=3).fit(TEXT)
    lm.save(tmp_path / "w.npz")
    back = WordLM.load(tmp_path / "w.npz")
    for ctx in ("", "WHERE ARE M", "CAN YOU OPEN THE W", "QQ "):
        np.testing.assert_allclose(back.next_logp(ctx), lm.next_logp(ctx), atol=1e-6)
    with pytest.raises(NeurospellError, match="order must be an integer in"):
        WordLM(order=7)
    with pytest.raises(NeurospellError, match="not fitted"):
        WordLM().next_logp("A")
    with pytest.raises(NeurospellError, match="no text"):
        WordLM().fit(["", "~~"])


def test_word_model_completes_words():
    lm = WordLM(order=3).fit(TEXT)
    assert complete_words(lm, "WHERE ARE MY K", 2).best.text == "KEYS"
    assert complete_words(lm, "CAN YOU OPEN THE WI", 1).best.text == "WINDOW"


def test_ngram_slice_is_exact():
    """The slice of a 12-gram (hashed orders 11-12 included) scores the lines exactly as the full model."""
    lines = [ln.strip() for ln in (DATA / "lm_heldout_requests.txt").read_text().splitlines() if ln.strip()][:40]
    train = [ln.strip() for ln in (DATA / "lm_heldout_chitchat.txt").read_text().splitlines()] + lines[::2]
    full = NgramLM(12).fit(train)
    small = restrict_ngram(full, lines)
    assert sum(map(len, small.keys_)) < sum(map(len, full.keys_))
    np.testing.assert_array_equal(small.score(lines), full.score(lines))
    np.testing.assert_array_equal(small.discounts_, full.discounts_)


def test_cli_build_word(tmp_path, capsys):
    text = tmp_path / "train.txt"
    text.write_text("\n".join(TEXT) + "\n")
    out = tmp_path / "word.npz"
    assert main(["lm", "build-word", "--text", str(text), "--order", "2", "--out", str(out)]) == 0
    assert "word 2-gram" in capsys.readouterr().out
    lm = WordLM.load(out)
    assert lm.order == 2 and "DOOR" in lm.words_.tolist()
    assert main(["lm", "build-word", "--text", str(text), "--out", str(tmp_path / "word.txt")]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["lm", "build-word", "--text", str(tmp_path / "missing.txt"), "--out", str(out)]) == 2
