"""Adaptive cache: what the user typed earlier in the session makes it more probable again.

:class:`CacheLM` wraps a language model. Its counts come from the text it has been told to
:meth:`~CacheLM.remember` (the messages finished earlier in the session) followed by the
current context; the next-character distribution is a Dirichlet-smoothed character n-gram of
that text with the wrapped model as prior, from order ``min_order`` up to ``order`` (each
order's estimate is the prior of the next):

    p_k(c) = (n_k(c) + beta * p_(k-1)(c)) / (n_k + beta),   p_(min_order - 1) = the wrapped model,

where ``n_k(c)`` counts how often the last ``k`` characters were followed by ``c`` in that
text. A context whose recent characters never occurred before gets exactly the wrapped
model's distribution.

Privacy: the remembered text lives in this object's memory only. It never leaves the
machine, is never written to disk, and :meth:`~CacheLM.forget` (or a new object) clears it.
"""

from __future__ import annotations

import numpy as np

from neurospell.check import NeurospellError

from .base import LanguageModel, context_key
from .text import CHAR_TO_ID, VOCAB

__all__ = ["CacheLM"]

_V = len(VOCAB)


class CacheLM(LanguageModel):
    """A session cache over a language model.

    Parameters
    ----------
    base : LanguageModel
        The model whose predictions the cache adapts.
    order : int
        Longest history of the cache's n-grams (characters).
    min_order : int
        Shortest history used (short histories say little the wrapped model does not know).
    beta : float
        Strength of the prior (the wrapped model): larger -> the cache matters less.
    max_history : int
        Characters of remembered text kept (the most recent).
    unknown_p : float
    """

    name = "cache"

    def __init__(self, base: LanguageModel, order: int = 6, beta: float = 8.0, min_order: int = 3,
                 max_history: int = 2000, unknown_p: float | None = None):
        if not isinstance(base, LanguageModel):
            raise NeurospellError(f"CacheLM needs a LanguageModel to wrap, got {type(base).__name__}.")
        super().__init__(base.unknown_p if unknown_p is None else unknown_p)
        if not isinstance(order, int) or order < 1:
            raise NeurospellError(f"CacheLM order must be a positive integer, got {order!r}.")
        if not isinstance(min_order, int) or not 1 <= min_order <= order:
            raise NeurospellError(f"CacheLM min_order must be an integer in [1, order={order}], got {min_order!r}.")
        if not beta > 0:
            raise NeurospellError(f"CacheLM beta must be positive, got {beta!r}.")
        self.base, self.order, self.beta, self.max_history = base, order, float(beta), int(max_history)
        self.min_order = min_order
        self._history = ""

    def remember(self, text: str) -> None:
        """Add a finished message to the session's memory (kept in RAM only)."""
        t = context_key(text).strip()
        if t:
            self._history = (self._history + "\x02" + t)[-self.max_history:]

    def forget(self) -> None:
        """Clear the session's memory."""
        self._history = ""

    def _next_logp(self, context: str) -> np.ndarray:
        return self._adapt(context, self.base._next_logp(context))

    def _position_logps(self, ctx: str, full: list[str]) -> list[np.ndarray]:
        # the wrapped model's batched path, then the cache at every position
        out = []
        for f, lps in zip(full, self.base._position_logps(ctx, full), strict=True):
            rows = [self._adapt(f[:i], lps[j]) for j, i in enumerate(range(len(ctx), len(f)))]
            out.append(np.array(rows).reshape(-1, _V))
        return out

    def _adapt(self, context: str, lp: np.ndarray) -> np.ndarray:
        text = self._history + "\x02" + context
        p = None
        for k in range(self.min_order, self.order + 1):
            if k > len(context) + 1:
                break  # the history would reach into the previous message
            s = text[-k:]  # may start with the start-of-message mark
            counts = np.zeros(_V)
            i = text.find(s)
            while 0 <= i < len(text) - k:
                nxt = text[i + k]
                if nxt != "\x02":
                    counts[CHAR_TO_ID[nxt] - 1] += 1
                i = text.find(s, i + 1)
            n = counts.sum()
            if n == 0:
                break  # longer histories cannot have occurred either
            if p is None:
                p = np.exp(lp)
            p = (counts + self.beta * p) / (n + self.beta)
        return lp if p is None else np.log(p)

    def _prefetch(self, contexts: list[str]) -> None:
        self.base._prefetch(contexts)

    def reset(self) -> None:
        self.base.reset()
