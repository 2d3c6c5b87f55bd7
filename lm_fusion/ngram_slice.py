"""An exact slice of a character n-gram for a fixed set of texts.

:func:`restrict_ngram` keeps, of a fitted :class:`~neurospell.lm_fusion.ngram.NgramLM`,
only the entries that scoring the given lines (each from an empty context) looks up: at
every order, the n-grams made of a history that occurs in the lines and any symbol. Every
next-character distribution along those lines is then identical to the full model's, for a
file a thousand times smaller. The tests use it to ship a real 12-gram baseline (built on
the full training text) for the held-out samples in ``tests/data``.
"""

from __future__ import annotations

import numpy as np

from .ngram import _BITS, _BOS, _SYMBOLS, MAX_PACKED, NgramLM, _hash_columns
from .text import CHAR_TO_ID, VOCAB

__all__ = ["restrict_ngram"]

_V = len(VOCAB)


def _queries(order: int, contexts: list[str]) -> list[np.ndarray]:
    """Per order k (index k - 1): the keys looked up for the contexts (history + each symbol)."""
    n = order
    rows = len(contexts)
    hist = np.zeros((rows, max(n - 1, 1)), dtype=np.int64)
    for r, context in enumerate(contexts):
        if n > 1:
            h = [_BOS] * (n - 1) + [CHAR_TO_ID[c] for c in context[-(n - 1):]]
            hist[r] = h[len(h) - (n - 1):]
    out = []
    for k in range(1, n + 1):
        if k > MAX_PACKED:
            cols = [np.repeat(hist[:, n - k + j], _V) for j in range(k - 1)] + [np.tile(_SYMBOLS, rows)]
            q = _hash_columns(cols, k)
        else:
            base = np.zeros(rows, dtype=np.int64)
            for j in range(k - 1):
                base = (base << _BITS) | hist[:, n - k + j]
            q = ((base[:, None] << _BITS) | _SYMBOLS).ravel()
        out.append(np.unique(q))
    return out


def restrict_ngram(lm: NgramLM, lines) -> NgramLM:
    """A copy of ``lm`` with only the entries needed to score ``lines``.

    Parameters
    ----------
    lm : NgramLM
        A fitted (or loaded) model.
    lines : sequence of str
        Normalised texts (over the model vocabulary), each scored from an empty context.

    Returns
    -------
    NgramLM
        Same order, discounts and character count; its next-character distributions after
        every prefix of every line equal ``lm``'s.
    """
    lm._check_fitted()
    contexts = sorted({line[max(0, i - (lm.order - 1)):i] if len(line[:i]) >= lm.order - 1 else line[:i]
                       for line in lines for i in range(len(line) + 1)})
    out = NgramLM(lm.order, min_count=lm.min_count, unknown_p=lm.unknown_p)
    out.discounts_ = np.array(lm.discounts_, copy=True)
    out.n_chars_ = lm.n_chars_
    out.keys_, out.counts_ = [], []
    for k, q in enumerate(_queries(lm.order, contexts)):
        keep = np.isin(lm.keys_[k], q, assume_unique=True)
        out.keys_.append(lm.keys_[k][keep])
        out.counts_.append(lm.counts_[k][keep])
    return out
