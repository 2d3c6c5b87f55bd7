"""The language-model protocol and the model registry.

A :class:`LanguageModel` predicts the next character of upper-case text over the
vocabulary :data:`~neurospell.lm_fusion.text.VOCAB` (method :meth:`LanguageModel.next_logp`)
and exposes it on any speller alphabet as a core :class:`~neurospell.types.CharDistribution`
(:meth:`LanguageModel.distribution`). Symbols the model cannot produce (backspace ``"<"``,
punctuation it does not know) receive a small fixed share of the mass (``unknown_p``);
fusion decides what to do with backspace.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.types import CharDistribution

from .text import CHAR_TO_ID, VOCAB

#: The shipped language models' folder (trained by the project's scripts; see docs/lm_results.md).
DATA_DIR = Path(__file__).parent / "data"

__all__ = ["LanguageModel", "register_model", "context_key"]

_CTX_BAD = re.compile(r"[^A-Z0-9 .,?!]")
_CTX_SPACES = re.compile(r" {2,}")
_V = len(VOCAB)


def context_key(text: str) -> str:
    """Normalise a typed context: upper case, apostrophes dropped, other characters -> space.

    Unlike :func:`~neurospell.lm_fusion.text.normalise`, the trailing space is kept (it
    matters: after ``"HELLO "`` a new word starts) and leading spaces are dropped.
    """
    t = str(text).upper().replace("'", "").replace("\u2019", "")
    t = _CTX_BAD.sub(" ", t)
    return _CTX_SPACES.sub(" ", t).lstrip(" ")


class LanguageModel:
    """Base class of the language models.

    Subclasses implement :meth:`_next_logp` (natural-log probabilities over ``VOCAB`` of the
    character after a normalised context) and may override :meth:`_score` for batched string
    scoring.

    Parameters
    ----------
    unknown_p : float
        Probability given to each alphabet symbol the model cannot produce (``"<"``...).
    """

    #: Registry name (set by :func:`register_model`).
    name = "base"

    def __init__(self, unknown_p: float = 1e-3):
        self.unknown_p = unknown_p

    # -- to implement ------------------------------------------------------------------
    def _next_logp(self, context: str) -> np.ndarray:
        raise NotImplementedError

    # -- public ------------------------------------------------------------------------
    def next_logp(self, context: str = "") -> np.ndarray:
        """Log-probabilities of the next character over ``VOCAB``.

        Parameters
        ----------
        context : str
            The text typed so far (any case; normalised with :func:`context_key`).

        Returns
        -------
        logp : array, shape (len(VOCAB),)
            Natural-log probabilities, normalised.
        """
        if not isinstance(context, str):
            raise TypeError(f"context must be a str, got {type(context).__name__}.")
        return self._next_logp(context_key(context))

    def prefetch(self, contexts: Sequence[str]) -> None:
        """Prepare the next-character distributions of several contexts at once.

        A speed-up only, with no effect on results: a model with a cache computes the
        contexts it lacks together (the character transformer: one batched network step for
        all contexts one character past a cached one, such as the candidate beam's texts),
        so that the following :meth:`next_logp` / :meth:`distribution` calls are cache hits.
        The default does nothing.

        Parameters
        ----------
        contexts : sequence of str
            Texts typed so far (any case; normalised with :func:`context_key`).
        """
        if isinstance(contexts, str):
            raise TypeError("contexts must be a sequence of strings, not a single str; wrap it in a list.")
        self._prefetch([context_key(c) for c in contexts])

    def _prefetch(self, contexts: list[str]) -> None:
        """Cache the distributions of normalised contexts (default: nothing)."""

    def distribution(self, context: str, alphabet: Sequence[str]) -> CharDistribution:
        """The next-symbol distribution on a speller alphabet.

        Case-insensitive: ``"a"`` and ``"A"`` map to the same character (and share its
        probability if both are on the grid). Symbols outside the model's vocabulary (such
        as backspace ``"<"``) get ``unknown_p`` each.

        Parameters
        ----------
        context : str
        alphabet : sequence of str
            Symbols of the grid (single characters).

        Returns
        -------
        CharDistribution
        """
        alphabet = tuple(alphabet)
        idx = _alphabet_index(alphabet)
        lp = self.next_logp(context)
        return CharDistribution.from_scores(alphabet, _map_to_alphabet(lp, idx, self.unknown_p))

    def score(self, texts: Sequence[str], context: str = "") -> np.ndarray:
        """Log-probability (natural log) of each whole string after ``context``.

        Characters outside ``VOCAB`` are normalised away (see :func:`context_key`).

        Parameters
        ----------
        texts : sequence of str
        context : str

        Returns
        -------
        logp : array, shape (len(texts),)
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not a single str; wrap it in a list.")
        ctx = context_key(context)
        full = [context_key(context + t) for t in texts]
        return np.array(self._score(ctx, full), dtype=np.float64)

    def _score(self, ctx: str, full: list[str]) -> list[float]:
        out = []
        for f, lps in zip(full, self._position_logps(ctx, full), strict=True):
            ids = [CHAR_TO_ID[c] - 1 for c in f[len(ctx):]]
            out.append(float(lps[np.arange(len(ids)), ids].sum()) if ids else 0.0)
        return out

    def _position_logps(self, ctx: str, full: list[str]) -> list[np.ndarray]:
        """For each text, the next-character log-probabilities at positions ``len(ctx)..``,
        arrays of shape (len(text) - len(ctx), len(VOCAB))."""
        return [np.array([self._next_logp(f[:i]) for i in range(len(ctx), len(f))]).reshape(-1, _V)
                for f in full]

    def reset(self) -> None:
        """Forget caches (no effect on results)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _alphabet_index(alphabet: tuple[str, ...]) -> np.ndarray:
    idx = np.full(len(alphabet), -1, dtype=np.int64)
    for i, s in enumerate(alphabet):
        if len(s) != 1:
            raise NeurospellError(f"alphabet symbols must be single characters, got {s!r}.")
        u = s.upper()
        if u == "_":  # some grids display the space as "_"
            u = " "
        if u in CHAR_TO_ID and CHAR_TO_ID[u] > 0:
            idx[i] = CHAR_TO_ID[u] - 1
    return idx


def _map_to_alphabet(lp: np.ndarray, idx: np.ndarray, unknown_p: float) -> np.ndarray:
    known = idx >= 0
    out = np.full(len(idx), math.log(unknown_p))
    if known.any():
        # share a character's mass among duplicate symbols ("a" and "A")
        counts = np.bincount(idx[known], minlength=_V)
        sub = lp[idx[known]] - np.log(counts[idx[known]])
        # renormalise over the characters the grid can type, keeping unknown_p for the rest
        m = sub.max()
        z = m + math.log(np.exp(sub - m).sum())
        n_unknown = int((~known).sum())
        rest = max(1.0 - n_unknown * unknown_p, 1e-6)
        out[known] = sub - z + math.log(rest)
    return out


# -- registry ------------------------------------------------------------------------------
_REGISTRY: dict[str, Callable] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_model(name: str, description: str = ""):
    """Decorator registering a factory ``f(config=None, **kwargs) -> LanguageModel``."""

    def deco(factory):
        _REGISTRY[name] = factory
        _DESCRIPTIONS[name] = description or (factory.__doc__ or "").strip().split("\n")[0]
        return factory

    return deco
