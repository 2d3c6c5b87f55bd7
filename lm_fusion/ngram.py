"""Character n-gram language model with interpolated Kneser-Ney smoothing (numpy).

n-grams of up to 10 characters are packed into int64 keys (6 bits per token); longer ones
(orders 11 to 16) are hashed into 64 bits (a multiply-add polynomial finished by the
splitmix64 mixer: with ~20 M distinct n-grams a collision has a probability of ~1e-5). Keys are
kept sorted and looked up with ``searchsorted``: a next-character distribution costs one
vectorised lookup of all symbols per order. Built from ~11 M characters in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError, check_fname
from neurospell.fileio import atomic_write
from neurospell.logs import logger

from .base import DATA_DIR, LanguageModel
from .text import CHAR_TO_ID, TOKENS, VOCAB, normalise

_BITS = 6
_V = len(VOCAB)
_BOS = 0
_SYMBOLS = np.arange(1, _V + 1, dtype=np.int64)
#: Longest n-gram packed exactly into an int64 key; longer ones are hashed.
MAX_PACKED = 10
#: Highest order supported.
MAX_ORDER = 16
_MUL = np.uint64(0x9E3779B97F4A7C15)


def _hash_columns(columns, k: int) -> np.ndarray:
    """64-bit hash (as int64) of token sequences given column by column, oldest token first."""
    h = np.full(len(columns[0]), np.uint64(k), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in columns:
            h = h * _MUL + col.astype(np.uint64) + np.uint64(1)
        # splitmix64 finaliser
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h.view(np.int64)


def _keys(ids: np.ndarray, ends: np.ndarray, k: int) -> np.ndarray:
    """Keys of the k-grams ending at ``ends`` (packed for k <= MAX_PACKED, else hashed)."""
    if k > MAX_PACKED:
        return _hash_columns([ids[ends - j] for j in range(k - 1, -1, -1)], k)
    key = np.zeros(len(ends), dtype=np.int64)
    for j in range(k - 1, -1, -1):
        key = (key << _BITS) | ids[ends - j]
    return key


class NgramLM(LanguageModel):
    """Interpolated Kneser-Ney character n-gram.

    Parameters
    ----------
    order : int
        n (context of ``order - 1`` characters), 1..16 (orders above 10 hash the longest
        n-grams; building a 12-gram on 16 M characters takes about a minute and a few GB).
    min_count : int
        Drop n-grams of order >= 3 seen fewer times (pruning, to keep the model small).
    unknown_p : float
        See :class:`~neurospell.lm_fusion.base.LanguageModel`.

    Attributes
    ----------
    keys_ : list of array of int64
        Sorted packed n-grams per order (index 0 is order 1).
    counts_ : list of array of int64
        Their (continuation) counts.
    discounts_ : array, shape (order,)
    """

    name = "ngram"

    def __init__(self, order: int = 7, min_count: int = 1, unknown_p: float = 1e-3):
        super().__init__(unknown_p)
        if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= MAX_ORDER:
            raise NeurospellError(f"order must be an integer in [1, {MAX_ORDER}], got {order!r}.")
        self.order = order
        self.min_count = min_count
        self._cache: dict[str, np.ndarray] = {}

    def fit(self, lines) -> NgramLM:
        """Count n-grams of ``lines`` (each line a phrase from an empty context).

        Parameters
        ----------
        lines : iterable of str
            Raw text; each line is normalised with :func:`~neurospell.lm_fusion.text.normalise`.

        Returns
        -------
        self
        """
        n = self.order
        table = np.zeros(128, dtype=np.int64)
        for c, i in CHAR_TO_ID.items():
            table[ord(c)] = i
        chunks, ends = [], []
        pos = 0
        for line in lines:
            t = normalise(line)
            if not t:
                continue
            arr = np.frombuffer(t.encode("ascii"), dtype=np.uint8)
            chunks.append(np.zeros(n - 1, dtype=np.int64))
            chunks.append(table[arr])
            ends.append(np.arange(pos + n - 1, pos + n - 1 + len(arr)))
            pos += n - 1 + len(arr)
        if not chunks:
            raise NeurospellError("NgramLM.fit: no text to learn from (all lines were empty).")
        ids = np.concatenate(chunks)
        ends = np.concatenate(ends)
        keys, counts = [None] * n, [None] * n
        top_keys, top_counts = np.unique(_keys(ids, ends, n), return_counts=True)
        keys[n - 1], counts[n - 1] = top_keys, top_counts.astype(np.int64)
        del top_keys, top_counts
        for k in range(n - 1, 0, -1):
            # continuation count of a k-gram: number of distinct tokens preceding it
            if k + 1 <= MAX_PACKED:
                suffix = keys[k] & ((1 << (_BITS * k)) - 1)
            else:  # hashed (k+1)-grams: take the k-gram at one occurrence of each
                _, first = np.unique(_keys(ids, ends, k + 1), return_index=True)
                suffix = _keys(ids, ends[first], k)
                del first
            uk, cc = np.unique(suffix, return_counts=True)
            keys[k - 1], counts[k - 1] = uk, cc.astype(np.int64)
            del suffix
        self.discounts_ = np.empty(n)
        for k in range(n):
            n1 = int(np.sum(counts[k] == 1))
            n2 = int(np.sum(counts[k] == 2))
            self.discounts_[k] = n1 / (n1 + 2 * n2) if n1 + n2 > 0 else 0.5
            if self.min_count > 1 and k >= 2:
                keep = counts[k] >= self.min_count
                keys[k], counts[k] = keys[k][keep], counts[k][keep]
        self.keys_, self.counts_ = keys, counts
        self.n_chars_ = int(len(ends))
        self._cache = {}
        logger.info("n-gram order %d fitted on %d characters, %d entries", n, self.n_chars_,
                    sum(len(k) for k in keys))
        return self

    def _check_fitted(self):
        if not hasattr(self, "keys_"):
            raise NeurospellError("This NgramLM is not fitted yet: call fit(lines) or NgramLM.load(path).")

    def _next_logp(self, context: str) -> np.ndarray:
        self._check_fitted()
        hit = self._cache.get(context)
        if hit is not None:
            return hit
        return self._compute([context])[0]

    def _prefetch(self, contexts: list[str]) -> None:
        self._check_fitted()
        todo = [c for c in dict.fromkeys(contexts) if c not in self._cache]
        if todo:
            self._compute(todo)

    def _compute(self, contexts: list[str]) -> np.ndarray:
        """Next-character log-probabilities of several contexts (one lookup per order), cached.

        Returns
        -------
        logp : array, shape (len(contexts), len(VOCAB))
        """
        n = self.order
        rows = len(contexts)
        # bases[k - 1][r]: the last k - 1 tokens before row r's next character, packed
        bases = [[0] * rows for _ in range(n)]
        hist = np.zeros((rows, max(n - 1, 1)), dtype=np.int64)  # the last n - 1 tokens (BOS-padded)
        for r, context in enumerate(contexts):
            h = [_BOS] * (n - 1) + [CHAR_TO_ID[c] for c in context[-(n - 1):]] if n > 1 else []
            if n > 1:
                hist[r] = h[len(h) - (n - 1):]
            for k in range(2, min(n, MAX_PACKED) + 1):
                base = 0
                for t in h[len(h) - (k - 1):]:
                    base = (base << _BITS) | t
                bases[k - 1][r] = base
        p = np.full((rows, _V), 1.0 / _V)
        for k in range(1, n + 1):
            if k > MAX_PACKED:
                cols = [np.repeat(hist[:, n - k + j], _V) for j in range(k - 1)] + [np.tile(_SYMBOLS, rows)]
                q = _hash_columns(cols, k).reshape(rows, _V)
            else:
                base = np.array(bases[k - 1], dtype=np.int64)[:, None]
                q = (base << _BITS) | _SYMBOLS
            keys = self.keys_[k - 1]
            loc = np.searchsorted(keys, q)
            np.minimum(loc, len(keys) - 1, out=loc)
            c = np.where(keys[loc] == q, self.counts_[k - 1][loc], 0).astype(np.float64)
            total = c.sum(axis=1, keepdims=True)
            d = self.discounts_[k - 1]
            if rows == 1:  # the common single context, without the masking
                if total[0, 0] > 0:
                    p = np.maximum(c - d, 0.0) / total + d * np.count_nonzero(c) / total * p
                continue
            seen = total > 0
            if not seen.any():
                continue
            total = np.where(seen, total, 1.0)  # rows without the history keep their p
            new = np.maximum(c - d, 0.0) / total + d * np.count_nonzero(c, axis=1)[:, None] / total * p
            p = np.where(seen, new, p)
        out = np.log(p / p.sum(axis=1, keepdims=True))
        if len(self._cache) + rows > 4096:
            self._cache.clear()
        for context, lp in zip(contexts, out, strict=True):
            self._cache[context] = lp
        return out

    def reset(self) -> None:
        self._cache = {}

    # -- persistence -----------------------------------------------------------------------
    def save(self, fname) -> None:
        """Write the counts to a compressed ``.npz`` (keys delta-encoded)."""
        self._check_fitted()
        fname = check_fname(fname, "fname", must_exist=False)
        arrays = {"order": np.array(self.order), "discounts": self.discounts_,
                  "tokens": np.array("".join(TOKENS)), "n_chars": np.array(self.n_chars_)}
        for k in range(self.order):
            with np.errstate(over="ignore"):  # hashed keys: the deltas wrap around, cumsum undoes it
                arrays[f"dkeys{k}"] = np.diff(self.keys_[k], prepend=0).astype(np.uint64)
            arrays[f"counts{k}"] = np.minimum(self.counts_[k], 2**32 - 1).astype(np.uint32)
        if fname.suffix != ".npz":  # what np.savez_compressed does with a name
            fname = fname.with_name(fname.name + ".npz")
        with atomic_write(fname, "wb") as fid:  # complete or absent, Ctrl-C included
            np.savez_compressed(fid, **arrays)

    @classmethod
    def load(cls, fname, unknown_p: float = 1e-3) -> NgramLM:
        """Read a model written by :meth:`save`."""
        fname = check_fname(fname, "fname")
        with np.load(fname) as z:
            if str(z["tokens"]) != "".join(TOKENS):
                raise NeurospellError(f"{fname}: n-gram made for another vocabulary; rebuild it.")
            self = cls(int(z["order"]), unknown_p=unknown_p)
            self.discounts_ = z["discounts"]
            self.n_chars_ = int(z["n_chars"])
            self.keys_ = [np.cumsum(z[f"dkeys{k}"].view(np.int64)) for k in range(self.order)]
            self.counts_ = [z[f"counts{k}"].astype(np.int64) for k in range(self.order)]
        return self

    def n_bytes(self) -> int:
        return int(sum(k.nbytes + c.nbytes for k, c in zip(self.keys_, self.counts_, strict=False)))


def default_ngram_path(order: int = 7) -> Path:
    return DATA_DIR / f"ngram{order}.npz"




