"""Word-level language model turned into a character model.

Words are the runs of letters and digits of the normalised text; everything else (space,
punctuation) ends a word. The model holds word n-grams (unigram to ``order``) with interpolated absolute
discounting, the history padded with the start of the message, counted on training text,
and gives the next character after a context by summing the probabilities
of the words consistent with the word being typed:

- a letter or digit ``c``: the mass of the known words that start with ``prefix + c``;
- a word end (space or punctuation): the mass of the word ``prefix`` itself, shared among the
  separators by how often each follows a word in the training text;
- unknown words: the unigram's out-of-vocabulary mass, spelled by a character unigram.

Sums over the words with a prefix are range sums of cumulative probabilities over the
sorted vocabulary (one ``searchsorted`` for all next characters), so a distribution costs
tens of microseconds.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from neurospell.check import NeurospellError, check_fname
from neurospell.fileio import atomic_write
from neurospell.logs import logger

from .base import LanguageModel
from .text import PUNCTUATION, TOKENS, VOCAB, normalise

__all__ = ["WordLM"]

_V = len(VOCAB)
_WORD = re.compile(r"[A-Z0-9]+")
_ALNUM = [i for i, c in enumerate(VOCAB) if c.isalnum()]
_ALNUM_CHARS = [VOCAB[i] for i in _ALNUM]
_SEPS = [i for i, c in enumerate(VOCAB) if not c.isalnum()]  # space + punctuation
_SEP_CHARS = set(" " + PUNCTUATION)
_HIGH = "~"  # sorts after every character of a word
_SMOOTH = 1e-4


class WordLM(LanguageModel):
    """Word n-gram model giving next-character probabilities.

    Parameters
    ----------
    order : int
        1 (unigram), 2 (bigram), 3 (trigram)...; histories are padded with the start of the
        message.
    discount : float
        Absolute discount of the counts of orders >= 2 (interpolated with the order below).
    min_count : int
        Words seen fewer times are out of vocabulary.
    min_ngram : int
        Word n-grams (orders >= 2) seen fewer times are dropped (their mass goes to the order
        below).
    max_vocab : int
        At most this many words (the most frequent).
    max_word_len : int
        Longer words are out of vocabulary.
    kneser_ney : bool
        Lower orders (the unigram included) from continuation counts (how many different words
        precede), as in interpolated Kneser-Ney; else from plain counts.
    unknown_p : float
        See :class:`~neurospell.lm_fusion.base.LanguageModel`.

    Attributes
    ----------
    words_ : array of str, shape (n_words,)
        The vocabulary, sorted (word ids are indices into it; ``n_words`` is <unk>,
        ``n_words + 1`` the start of a message).
    unigram_ : array, shape (n_words,)
        Unigram probabilities (they sum to ``1 - oov_p_``).
    oov_p_ : float
    hist_keys_, hist_total_ : list of arrays
        Per order >= 2: the histories (packed word ids, sorted) and their counts.
    ng_word_, ng_count_ : list of arrays
        Per order >= 2: kept n-grams (word id, count), sorted by (history, word); the
        n-grams of history ``h`` are ``_offsets[k][h]:_offsets[k][h + 1]``.
    sep_p_ : array, shape (len(VOCAB),)
        What follows the end of a word (space, punctuation).
    after_punct_p_ : array, shape (len(VOCAB),)
        What follows a punctuation mark.
    char_p_ : array, shape (len(VOCAB),)
        Characters of words, plus the word end (at the space's index): spells unknown words.
    """

    name = "word"

    def __init__(self, order: int = 3, discount: float = 0.75, min_count: int = 1, min_ngram: int = 1,
                 max_vocab: int = 200_000, max_word_len: int = 20, kneser_ney: bool = True,
                 unknown_p: float = 1e-3):
        super().__init__(unknown_p)
        if not isinstance(order, int) or not 1 <= order <= 4:
            raise NeurospellError(f"order must be an integer in [1, 4], got {order!r}.")
        self.order, self.discount, self.min_count, self.min_ngram = order, discount, min_count, min_ngram
        self.max_vocab, self.max_word_len, self.kneser_ney = max_vocab, max_word_len, bool(kneser_ney)
        self._cache: dict[str, np.ndarray] = {}

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, lines) -> WordLM:
        """Count words, word n-grams and separators of ``lines`` (one message per line).

        Parameters
        ----------
        lines : iterable of str
            Raw text; each line passes through :func:`~neurospell.lm_fusion.text.normalise`.

        Returns
        -------
        self
        """
        msgs = [t for t in (normalise(x) for x in lines) if t]
        if not msgs:
            raise NeurospellError("WordLM.fit: no text to learn from (all lines were empty).")
        per_msg = [_WORD.findall(m) for m in msgs]
        counts = Counter(w for ws in per_msg for w in ws)
        vocab = [w for w, c in counts.most_common(self.max_vocab) if c >= self.min_count and len(w) <= self.max_word_len]
        vocab.sort()
        index = {w: i for i, w in enumerate(vocab)}
        n_words = len(vocab)
        unk, bos = n_words, n_words + 1
        base = n_words + 2
        ids = np.fromiter((index.get(w, unk) for ws in per_msg for w in ws), dtype=np.int64)
        lens = np.fromiter((len(ws) for ws in per_msg), dtype=np.int64)
        pos_in_msg = np.arange(len(ids)) - np.repeat(np.r_[0, np.cumsum(lens)[:-1]], lens)
        total = len(ids)
        uni = np.bincount(ids, minlength=n_words + 1).astype(np.float64)
        self.words_ = np.array(vocab, dtype=f"U{max(self.max_word_len, 1)}")
        # out-of-vocabulary mass: the pruned words, and at least the Good-Turing estimate of
        # the unseen ones (the share of words seen once)
        n1 = sum(1 for c in counts.values() if c == 1)
        self.oov_p_ = float(max(uni[unk], n1) / total)
        self.unigram_ = uni[:n_words] / max(uni[:n_words].sum(), 1.0) * (1.0 - self.oov_p_)
        self.hist_keys_, self.hist_total_, self.ng_hist_, self.ng_word_, self.ng_count_ = [], [], [], [], []
        hist = np.zeros(len(ids), dtype=np.int64)
        raw = []  # per order >= 2: histories, their counts, n-grams (history index, word, count)
        for k in range(2, self.order + 1):
            # history of order k: the k - 1 previous words, <s> before the message start
            back = k - 1
            prev = np.where(pos_in_msg >= back, np.r_[np.full(back, bos), ids][:len(ids)], bos)
            hist = hist * base + prev
            hkeys, hinv, htot = np.unique(hist, return_inverse=True, return_counts=True)
            keys, kc = np.unique(hinv.astype(np.int64) * base + ids, return_counts=True)
            raw.append([hkeys, keys // base, keys % base, kc, htot.astype(np.float64)])
        if self.kneser_ney and raw:
            # lower orders count the distinct words before an n-gram (its continuations), except
            # after the start-of-message padding, which has no word before it
            cont = np.bincount(raw[0][2], minlength=n_words + 1)[:n_words].astype(np.float64)
            self.unigram_ = cont / max(cont.sum(), 1.0) * (1.0 - self.oov_p_)
            for k in range(2, self.order):
                hk1, kh1, kw1 = raw[k - 1][:3]
                ck, cc = np.unique((hk1[kh1] // base) * base + kw1, return_counts=True)
                ch, cw = ck // base, ck % base
                hkeys, kh, kw, kc, _ = raw[k - 2]
                padded = hkeys[kh] % base == bos
                other = ch % base != bos
                nh = np.r_[kh[padded], np.searchsorted(hkeys, ch[other])]
                nw = np.r_[kw[padded], cw[other]]
                nc = np.r_[kc[padded], cc[other]]
                order = np.lexsort((nw, nh))
                nh, nw, nc = nh[order], nw[order], nc[order]
                raw[k - 2] = [hkeys, nh, nw, nc, np.bincount(nh, weights=nc, minlength=len(hkeys))]
        for hkeys, kh, kw, kc, htot in raw:
            keep = (kc >= self.min_ngram) & (kw < n_words)
            self.hist_keys_.append(hkeys)
            self.hist_total_.append(np.asarray(htot, dtype=np.float64))
            self.ng_hist_.append(kh[keep].astype(np.int32))
            self.ng_word_.append(kw[keep].astype(np.int32))
            self.ng_count_.append(np.minimum(kc[keep], 2**32 - 1).astype(np.uint32))
        # separators after a word end, characters after punctuation, characters of words
        sep, after_p, chars = np.zeros(_V), np.zeros(_V), np.zeros(_V)
        for m in msgs:
            for a, b in zip(m[:-1], m[1:], strict=True):
                if a.isalnum() and not b.isalnum():
                    sep[VOCAB.index(b)] += 1
                elif a in PUNCTUATION:
                    after_p[VOCAB.index(b)] += 1
        for w, c in counts.items():
            for ch in w:
                chars[VOCAB.index(ch)] += c
        chars[VOCAB.index(" ")] = sum(counts.values())  # one end per word
        self.sep_p_ = (sep + 0.5 * np.isin(np.arange(_V), _SEPS)) / (sep.sum() + 0.5 * len(_SEPS))
        self.after_punct_p_ = (after_p + 0.5) / (after_p.sum() + 0.5 * _V)
        self.char_p_ = (chars + 0.5) / (chars.sum() + 0.5 * _V)
        self.n_words_seen_ = int(total)
        self._prepare()
        logger.info("word %d-gram: %d words (oov %.3f), %s n-grams from %d words of text", self.order, n_words,
                    self.oov_p_, "/".join(str(len(c)) for c in self.ng_count_), total)
        return self

    def _prepare(self) -> None:
        self._cum_uni = np.r_[0.0, np.cumsum(self.unigram_)]
        self._cum, self._lam, self._offsets = [], [], []
        for htot, nh, nc in zip(self.hist_total_, self.ng_hist_, self.ng_count_, strict=True):
            disc = np.maximum(nc.astype(np.float64) - self.discount, 0.0) / htot[nh]
            self._cum.append(np.r_[0.0, np.cumsum(disc)])
            # interpolation weight of the order below after each history
            self._lam.append(1.0 - np.bincount(nh, weights=disc, minlength=len(htot)))
            self._offsets.append(np.searchsorted(nh, np.arange(len(htot) + 1)).astype(np.int32))
        # the n-grams' history indices are implied by the offsets: free them (memory)
        self.ng_hist_ = None
        self._log_char = np.log(self.char_p_)
        self._index = {w: i for i, w in enumerate(self.words_.tolist())}
        self._cache = {}

    def _check_fitted(self):
        if not hasattr(self, "words_"):
            raise NeurospellError("This WordLM is not fitted yet: call fit(lines) or WordLM.load(path).")

    # -- prediction --------------------------------------------------------------------------
    def _next_logp(self, context: str) -> np.ndarray:
        self._check_fitted()
        hit = self._cache.get(context)
        if hit is not None:
            return hit
        out = np.log(self._next_p(context))
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[context] = out
        return out

    def _next_p(self, context: str) -> np.ndarray:
        if context and context[-1] in PUNCTUATION:
            return (1.0 - _SMOOTH) * self.after_punct_p_ + _SMOOTH / _V
        cut = len(context)
        while cut > 0 and context[cut - 1].isalnum():
            cut -= 1
        prefix = context[cut:]
        n_words = len(self.words_)
        base = n_words + 2
        prev_ids = [self._index.get(w, n_words) for w in _WORD.findall(context[:cut])]
        words = self.words_
        queries = [prefix + c for c in _ALNUM_CHARS]
        lo = np.searchsorted(words, queries, side="left")
        hi = np.searchsorted(words, [q + _HIGH for q in queries], side="left")
        exact = self._index.get(prefix) if prefix else None
        # interpolation from the unigram up: mass = disc_k + lam_k * mass_(k-1)
        p_alnum = self._cum_uni[hi] - self._cum_uni[lo]
        end = self.unigram_[exact] if exact is not None else 0.0
        lam_all = 1.0  # product of the interpolation weights (for the unknown-word mass)
        hist = 0
        for k in range(2, self.order + 1):
            back = k - 1
            hist = hist * base + (prev_ids[-back] if len(prev_ids) >= back else n_words + 1)
            keys = self.hist_keys_[k - 2]
            h = int(np.searchsorted(keys, hist))
            if h >= len(keys) or keys[h] != hist:
                continue  # unseen history: this order adds nothing (weight 1 on the order below)
            lam = self._lam[k - 2][h]
            a, b = self._offsets[k - 2][h], self._offsets[k - 2][h + 1]
            follow = self.ng_word_[k - 2][a:b]
            cum = self._cum[k - 2]
            blo = np.searchsorted(follow, lo) + a
            bhi = np.searchsorted(follow, hi) + a
            p_alnum = cum[bhi] - cum[blo] + lam * p_alnum
            end_k = 0.0
            if exact is not None:
                j = int(np.searchsorted(follow, exact)) + a
                if j < b and self.ng_word_[k - 2][j] == exact:
                    end_k = cum[j + 1] - cum[j]
            end = end_k + lam * end
            lam_all *= lam
        p = np.zeros(_V)
        p[_ALNUM] = p_alnum
        lam = lam_all
        # unknown words, spelled by the character unigram (prefix probability times next)
        unk = lam * self.oov_p_ * float(np.exp(self._log_char[[VOCAB.index(c) for c in prefix]].sum()))
        p[_ALNUM] += unk * self.char_p_[_ALNUM]
        if prefix:
            end += unk * self.char_p_[VOCAB.index(" ")]
        p += end * self.sep_p_
        s = p.sum()
        if s <= 0:
            return self.char_p_
        # a small share for every character (a space after a space...): finite log-probabilities
        return (1.0 - _SMOOTH) * p / s + _SMOOTH / _V

    def _prefetch(self, contexts: list[str]) -> None:
        for c in contexts:
            self._next_logp(c)

    def reset(self) -> None:
        self._cache = {}

    # -- persistence -------------------------------------------------------------------------
    def save(self, fname) -> None:
        """Write the model to a compressed ``.npz`` (sorted arrays delta-encoded)."""
        self._check_fitted()
        fname = check_fname(fname, "fname", must_exist=False)
        arrays = dict(tokens=np.array("".join(TOKENS)), words=np.frombuffer("\n".join(self.words_.tolist()).encode(
            "ascii"), dtype=np.uint8), unigram=self.unigram_.astype(np.float32), oov_p=np.array(self.oov_p_),
            sep_p=self.sep_p_, after_punct_p=self.after_punct_p_, char_p=self.char_p_,
            params=np.array([self.order, self.discount, self.min_count, self.min_ngram, self.max_vocab,
                             self.max_word_len, self.n_words_seen_, self.kneser_ney], dtype=np.float64))
        for k in range(len(self.hist_keys_)):
            arrays[f"hkeys{k}"] = np.diff(self.hist_keys_[k], prepend=0)
            arrays[f"htotal{k}"] = np.minimum(self.hist_total_[k], 2**32 - 1).astype(np.uint32)
            nhist = np.repeat(np.arange(len(self._offsets[k]) - 1), np.diff(self._offsets[k]))
            arrays[f"nhist{k}"] = np.diff(nhist, prepend=0).astype(np.int32)
            arrays[f"nword{k}"] = np.diff(self.ng_word_[k].astype(np.int64), prepend=0).astype(np.int32)
            arrays[f"ncount{k}"] = np.minimum(self.ng_count_[k], 2**32 - 1).astype(np.uint32)
        if fname.suffix != ".npz":
            fname = fname.with_name(fname.name + ".npz")
        with atomic_write(fname, "wb") as fid:
            np.savez_compressed(fid, **arrays)

    @classmethod
    def load(cls, fname, unknown_p: float = 1e-3) -> WordLM:
        """Read a model written by :meth:`save`."""
        fname = check_fname(fname, "fname")
        with np.load(fname) as z:
            if str(z["tokens"]) != "".join(TOKENS):
                raise NeurospellError(f"{fname}: word model made for another vocabulary; rebuild it.")
            order, disc, mc, mn, mv, mwl, seen, kn = (z["params"].tolist() + [0.0])[:8]
            self = cls(int(order), disc, int(mc), int(mn), int(mv), int(mwl), bool(kn), unknown_p=unknown_p)
            words = z["words"].tobytes().decode("ascii")
            self.words_ = np.array(words.split("\n") if words else [], dtype=f"U{max(int(mwl), 1)}")
            self.unigram_ = z["unigram"].astype(np.float64)
            self.oov_p_ = float(z["oov_p"])
            self.hist_keys_ = [np.cumsum(z[f"hkeys{k}"]) for k in range(self.order - 1)]
            self.hist_total_ = [z[f"htotal{k}"].astype(np.float64) for k in range(self.order - 1)]
            self.ng_hist_ = [np.cumsum(z[f"nhist{k}"].astype(np.int64)).astype(np.int32) for k in range(self.order - 1)]
            self.ng_word_ = [np.cumsum(z[f"nword{k}"].astype(np.int64)).astype(np.int32) for k in range(self.order - 1)]
            self.ng_count_ = [z[f"ncount{k}"] for k in range(self.order - 1)]
            self.sep_p_, self.after_punct_p_, self.char_p_ = z["sep_p"], z["after_punct_p"], z["char_p"]
            self.n_words_seen_ = int(seen)
        self._prepare()
        return self
