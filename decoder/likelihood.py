"""From per-flash decoder scores to per-symbol log-likelihoods, for any flash layout.

A flash lights up a group of symbols (a row, a column, a checkerboard group...). If the
attended symbol is ``c``, a flash containing ``c`` is a target flash and its score ``s``
is drawn from ``p(s | target)``; otherwise from ``p(s | non-target)``. Assuming flashes are
independent given ``c``,

    log L(c) = sum over flashes f of  log p(s_f | target)      if c is in group(f)
                                      log p(s_f | non-target)  otherwise.

The two densities come from :class:`ScoreModel`, fitted on held-out (cross-validated)
decision scores of the training data, never on raw softmax outputs. :class:`CharacterEvidence`
accumulates flashes one at a time (or a repetition at a time) and returns a normalised
:class:`~neurospell.types.CharDistribution`, ready for language-model fusion and dynamic
stopping.
"""

from __future__ import annotations

import math

import numpy as np

from neurospell.check import NeurospellError, check_option, validate_type
from neurospell.types import CharDistribution, SpellerLayout

__all__ = ["ScoreModel", "CharacterEvidence", "symbol_log_likelihood"]

_LOG2PI = math.log(2 * math.pi)


class ScoreModel:
    """Class-conditional densities of decision scores, ``p(s | target)`` and ``p(s | non-target)``.

    Parameters
    ----------
    kind : ``"gaussian"`` | ``"gaussian-separate"`` | ``"kde"``
        ``"gaussian"``: one normal per class with a pooled variance, so the log-likelihood
        ratio is linear in the score and well behaved at the extremes (default).
        ``"gaussian-separate"``: a variance per class. ``"kde"``: Gaussian kernel density
        estimates (Silverman bandwidth) with a Gaussian tail floor.
    """

    def __init__(self, kind: str = "gaussian"):
        self.kind = kind

    def fit(self, scores, targets) -> ScoreModel:
        """Fit both densities.

        Parameters
        ----------
        scores : array, shape (n_epochs,)
            Held-out decision scores (higher means more target-like).
        targets : array of bool, shape (n_epochs,)

        Returns
        -------
        self : ScoreModel
        """
        check_option("kind", self.kind, ("gaussian", "gaussian-separate", "kde"))
        scores = np.asarray(scores, dtype=np.float64).ravel()
        targets = np.asarray(targets).astype(bool).ravel()
        if scores.shape != targets.shape:
            raise NeurospellError(
                f"ScoreModel.fit: scores ({scores.shape}) and targets ({targets.shape}) must "
                "have the same length."
            )
        if not np.all(np.isfinite(scores)):
            raise NeurospellError("ScoreModel.fit: scores must be finite.")
        n1, n0 = int(targets.sum()), int((~targets).sum())
        if n1 < 2 or n0 < 2:
            raise NeurospellError(
                f"ScoreModel.fit needs at least 2 target and 2 non-target scores, got {n1} and {n0}."
            )
        s1, s0 = scores[targets], scores[~targets]
        self.mean_ = np.array([s0.mean(), s1.mean()])
        var = np.array([s0.var(ddof=1), s1.var(ddof=1)])
        pooled = ((n0 - 1) * var[0] + (n1 - 1) * var[1]) / (n0 + n1 - 2)
        floor = max(1e-12, 1e-6 * float(np.var(scores)))
        if self.kind == "gaussian":
            var = np.array([pooled, pooled])
        self.var_ = np.maximum(var, floor)
        self.prior_ = n1 / (n0 + n1)
        self.n_ = np.array([n0, n1])
        if self.kind == "kde":
            self.samples_ = [s0.copy(), s1.copy()]
            self.bandwidth_ = np.array(
                [1.06 * math.sqrt(v) * n ** -0.2 for v, n in zip(self.var_, (n0, n1), strict=True)]
            )
        return self

    # --- densities -----------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "mean_"):
            raise NeurospellError("This ScoreModel is not fitted yet; call fit(scores, targets) first.")

    def _gauss(self, s, k):
        return -0.5 * (_LOG2PI + math.log(self.var_[k]) + (s - self.mean_[k]) ** 2 / self.var_[k])

    def _kde(self, s, k):
        x = self.samples_[k]
        h = self.bandwidth_[k]
        z = (s[:, None] - x[None, :]) / h
        lk = -0.5 * z**2 - 0.5 * _LOG2PI - math.log(h)
        m = lk.max(axis=1, keepdims=True)
        kde = (m + np.log(np.exp(lk - m).mean(axis=1, keepdims=True)))[:, 0]
        # never below the parametric tail, so far-out scores stay finite and ordered
        return np.logaddexp(kde, self._gauss(s, k) + math.log(1e-3))

    def log_likelihoods(self, scores) -> tuple[np.ndarray, np.ndarray]:
        """``(log p(s | target), log p(s | non-target))``, each of shape (n,)."""
        self._check_fitted()
        s = np.asarray(scores, dtype=np.float64).ravel()
        if self.kind == "kde":
            return self._kde(s, 1), self._kde(s, 0)
        return self._gauss(s, 1), self._gauss(s, 0)

    def llr(self, scores) -> np.ndarray:
        """Log-likelihood ratio ``log p(s|target) - log p(s|non-target)``, shape (n,)."""
        lt, ln = self.log_likelihoods(scores)
        return lt - ln

    def separation(self) -> float:
        """d': the distance of the class means in pooled standard deviations."""
        self._check_fitted()
        return float((self.mean_[1] - self.mean_[0]) / math.sqrt(self.var_.mean()))

    # --- persistence ---------------------------------------------------------------
    def to_dict(self) -> dict:
        self._check_fitted()
        d = {"kind": self.kind, "mean": self.mean_.tolist(), "var": self.var_.tolist(),
             "prior": self.prior_, "n": self.n_.tolist()}
        if self.kind == "kde":
            d["samples"] = [x.tolist() for x in self.samples_]
            d["bandwidth"] = self.bandwidth_.tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ScoreModel:
        self = cls(d["kind"])
        self.mean_ = np.asarray(d["mean"], float)
        self.var_ = np.asarray(d["var"], float)
        self.prior_ = float(d["prior"])
        self.n_ = np.asarray(d["n"], int)
        if self.kind == "kde":
            self.samples_ = [np.asarray(x, float) for x in d["samples"]]
            self.bandwidth_ = np.asarray(d["bandwidth"], float)
        return self

    def __repr__(self):
        if not hasattr(self, "mean_"):
            return f"ScoreModel(kind={self.kind!r}, unfitted)"
        return (f"ScoreModel(kind={self.kind!r}, mean={self.mean_.round(3).tolist()}, "
                f"sd={np.sqrt(self.var_).round(3).tolist()}, d'={self.separation():.2f})")


def _groups_array(layout: SpellerLayout, groups) -> np.ndarray:
    g = np.atleast_1d(np.asarray(groups))
    if g.size and not np.issubdtype(g.dtype, np.integer):
        raise NeurospellError(f"groups must be integer flash-group indices, got dtype {g.dtype}.")
    g = g.astype(np.int64).ravel()
    if g.size and (g.min() < 0 or g.max() >= layout.n_groups):
        raise NeurospellError(
            f"groups must be flash-group indices in [0, {layout.n_groups - 1}] (stimulus code - 1), "
            f"got values from {g.min()} to {g.max()}."
        )
    return g


def symbol_log_likelihood(layout: SpellerLayout, groups, scores, score_model: ScoreModel) -> np.ndarray:
    """Unnormalised log-likelihood of each symbol given flashes and their scores.

    Parameters
    ----------
    layout : SpellerLayout
        Symbols and flash groups.
    groups : array of int, shape (n_flashes,)
        Flash-group index of each flash (its stimulus code - 1).
    scores : array of float, shape (n_flashes,)
        Decoder decision scores of those flashes.
    score_model : ScoreModel
        Fitted class-conditional score densities.

    Returns
    -------
    loglik : array, shape (n_symbols,)
        ``log L(c)`` for every symbol (natural log, not normalised).
    """
    ev = CharacterEvidence(layout, score_model)
    ev.add_flashes(groups, scores)
    return ev.loglik


class CharacterEvidence:
    """Incremental per-symbol evidence for one selection (one character to type).

    Parameters
    ----------
    layout : SpellerLayout
        The speller's symbols and flash groups (row/column, checkerboard, any grouping).
    score_model : ScoreModel
        Fitted class-conditional densities of the decoder's scores (a fitted decoder's
        ``score_model_``).

    Notes
    -----
    Add flashes as they are scored (:meth:`add_flash`, :meth:`add_flashes`), read the
    posterior with :meth:`distribution` at any time (after every flash or every repetition),
    :meth:`reset` for the next selection. The running log-likelihood :attr:`loglik` holds,
    for every symbol, the sum of ``log p(s|target)`` over the flashes that contained it and
    ``log p(s|non-target)`` over the others.
    """

    def __init__(self, layout: SpellerLayout, score_model: ScoreModel):
        validate_type(layout, SpellerLayout, "layout")
        validate_type(score_model, ScoreModel, "score_model")
        score_model._check_fitted()
        self.layout = layout
        self.score_model = score_model
        self._member = layout.membership()  # (n_groups, n_symbols)
        self.reset()

    def reset(self) -> None:
        """Forget all flashes (start a new selection)."""
        n = len(self.layout.symbols)
        self.loglik = np.zeros(n)
        self.n_flashes = 0
        self.flash_counts = np.zeros(self.layout.n_groups, dtype=np.int64)

    def add_flash(self, group: int, score: float) -> None:
        """Add one flash: its group index (stimulus code - 1) and its decision score."""
        self.add_flashes([group], [score])

    def add_flashes(self, groups, scores) -> None:
        """Add several flashes (e.g. one repetition).

        Parameters
        ----------
        groups : array of int, shape (n_flashes,)
            Flash-group indices (stimulus code - 1).
        scores : array of float, shape (n_flashes,)
            Decision scores.
        """
        g = _groups_array(self.layout, groups)
        s = np.atleast_1d(np.asarray(scores, dtype=np.float64)).ravel()
        if s.shape != g.shape:
            raise NeurospellError(
                f"add_flashes: groups ({g.shape[0]}) and scores ({s.shape[0]}) must have the same length."
            )
        if not np.all(np.isfinite(s)):
            raise NeurospellError("add_flashes: scores must be finite (a decoder returned NaN/inf?).")
        if not g.size:
            return
        lt, ln = self.score_model.log_likelihoods(s)
        m = self._member[g]  # (n_flashes, n_symbols)
        self.loglik += np.where(m, lt[:, None], ln[:, None]).sum(axis=0)
        self.n_flashes += int(g.size)
        np.add.at(self.flash_counts, g, 1)

    def add_members(self, members, score: float) -> None:
        """Add one flash given by the symbols it lit (a group not fixed in the layout).

        Parameters
        ----------
        members : sequence of int
            Indices of the symbols the flash lit (in ``layout.symbols``).
        score : float
            Its decision score.

        Notes
        -----
        Counts in :attr:`n_flashes`, not in :attr:`flash_counts` (no layout group flashed).
        """
        idx = np.atleast_1d(np.asarray(members)).ravel()
        n = len(self.layout.symbols)
        if not idx.size or not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= n:
            raise NeurospellError(
                f"add_members: members must be one or more symbol indices in [0, {n - 1}], got {members!r}.")
        s = float(score)
        if not math.isfinite(s):
            raise NeurospellError("add_members: the score must be finite (a decoder returned NaN/inf?).")
        lt, ln = self.score_model.log_likelihoods([s])
        m = np.zeros(n, dtype=bool)
        m[idx] = True
        self.loglik += np.where(m, lt[0], ln[0])
        self.n_flashes += 1

    def add_codes(self, codes, scores) -> None:
        """Add flashes given by stimulus codes (group index + 1, as in ``EpochBatch.codes``)."""
        c = np.atleast_1d(np.asarray(codes))
        if c.size and np.any(c < 1):
            raise NeurospellError(
                "add_codes: stimulus codes must be >= 1 (group index + 1); code 0 means the flash "
                "group is unknown, so such a flash cannot count as evidence for any symbol."
            )
        self.add_flashes(c - 1, scores)

    @property
    def n_repetitions(self) -> int:
        """Complete repetitions so far (every group flashed at least this many times)."""
        return int(self.flash_counts.min()) if self.flash_counts.size else 0

    def distribution(self, prior: CharDistribution | None = None) -> CharDistribution:
        """The posterior over symbols (uniform prior unless ``prior`` is given).

        Parameters
        ----------
        prior : CharDistribution | None
            A prior over the same alphabet (e.g. a language model's), added in log space.

        Returns
        -------
        dist : CharDistribution
        """
        scores = self.loglik.copy()
        if prior is not None:
            validate_type(prior, CharDistribution, "prior")
            if prior.alphabet != self.layout.symbols:
                raise NeurospellError(
                    "prior: its alphabet must be the layout's symbols in the same order, got "
                    f"{''.join(prior.alphabet)!r} vs {''.join(self.layout.symbols)!r}."
                )
            scores = scores + prior.logp
        return CharDistribution.from_scores(self.layout.symbols, scores)
