"""Interpolation of language models, per character (linear or log-linear)."""

from __future__ import annotations

import math

import numpy as np

from neurospell.check import NeurospellError

from .base import LanguageModel

__all__ = ["MixtureLM"]


class MixtureLM(LanguageModel):
    """Interpolation of language models, per character.

    Parameters
    ----------
    models : list of LanguageModel
    weights : sequence of float | None
        Non-negative, normalised internally (default: equal).
    mode : "linear" | "loglinear"
        ``linear``: p = sum_i w_i p_i; ``loglinear``: p proportional to prod_i p_i^w_i.
    unknown_p : float
    """

    name = "mixture"

    def __init__(self, models, weights=None, mode: str = "linear", unknown_p: float = 1e-3):
        super().__init__(unknown_p)
        models = list(models)
        if not models or not all(isinstance(m, LanguageModel) for m in models):
            raise NeurospellError("MixtureLM needs a non-empty list of LanguageModel objects.")
        w = np.ones(len(models)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(models),) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise NeurospellError(
                f"MixtureLM weights must be {len(models)} non-negative numbers with a positive sum, got {weights!r}."
            )
        if mode not in ("linear", "loglinear"):
            raise NeurospellError(f"MixtureLM mode must be 'linear' or 'loglinear', got {mode!r}.")
        self.models, self.weights, self.mode = models, w / w.sum(), mode

    def _next_logp(self, context: str) -> np.ndarray:
        lps = np.stack([m._next_logp(context) for m in self.models])
        if self.mode == "linear":
            with np.errstate(divide="ignore"):
                a = lps + np.log(self.weights)[:, None]
            m = a.max(axis=0)
            out = m + np.log(np.exp(a - m).sum(axis=0))
        else:
            out = (self.weights[:, None] * lps).sum(axis=0)
        m = out.max()
        return out - (m + math.log(np.exp(out - m).sum()))

    def _prefetch(self, contexts: list[str]) -> None:
        for m in self.models:
            m._prefetch(contexts)

    def _position_logps(self, ctx: str, full: list[str]) -> list[np.ndarray]:
        parts = [m._position_logps(ctx, full) for m in self.models]
        out = []
        for k in range(len(full)):
            lps = np.stack([p[k] for p in parts])  # (n_models, n_pos, V)
            if self.mode == "linear":
                with np.errstate(divide="ignore"):
                    mixed = np.logaddexp.reduce(lps + np.log(self.weights)[:, None, None], axis=0)
            else:
                mixed = np.tensordot(self.weights, lps, axes=1)
                mixed = mixed - np.logaddexp.reduce(mixed, axis=-1, keepdims=True)
            out.append(mixed)
        return out

    def reset(self) -> None:
        for m in self.models:
            m.reset()
