"""Fusion of EEG evidence with a language-model prior, dynamic stopping, and the choice of
the prior's weight. Pure functions (no state): the state lives in the caller.

The posterior over symbols is

    log p(c | flashes, text) = log L(c) + alpha * log prior_floored(c) - log Z

where ``L`` is the EEG likelihood of the flashes, ``prior_floored = (1 - n * floor) * prior
+ floor`` never drops below ``floor`` (so no symbol is ever impossible to type) and
``alpha`` (chosen on calibration data with :func:`choose_alpha`) weights the prior.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from neurospell.check import NeurospellError, check_range, validate_type
from neurospell.markers import BACKSPACE
from neurospell.types import CharDistribution

__all__ = ["floor_prior", "fuse", "lm_prior", "should_stop", "eeg_agrees", "choose_alpha", "BACKSPACE"]



def floor_prior(prior: CharDistribution, floor: float) -> np.ndarray:
    """Log of ``(1 - n * floor) * p + floor``: every symbol keeps at least ``floor``.

    Parameters
    ----------
    prior : CharDistribution
    floor : float
        In ``[0, 1 / n_symbols)``.

    Returns
    -------
    logp : array, shape (n_symbols,)
    """
    n = len(prior.alphabet)
    if not 0.0 <= floor < 1.0 / n:
        raise NeurospellError(
            f"floor must be in [0, 1/{n}) for a {n}-symbol alphabet, got {floor!r}. "
            "Lower [lm] floor."
        )
    if floor == 0.0:
        return prior.logp.copy()
    with np.errstate(divide="ignore"):
        return np.logaddexp(prior.logp + math.log1p(-n * floor), math.log(floor))


def fuse(loglik, prior: CharDistribution | None = None, *, alpha: float = 1.0,
         floor: float = 1e-3, alphabet: Sequence[str] | None = None) -> CharDistribution:
    """Posterior over symbols from EEG log-likelihoods and an LM prior.

    Parameters
    ----------
    loglik : array, shape (n_symbols,) | CharDistribution
        EEG log-likelihood of each symbol (unnormalised is fine), or a normalised EEG-only
        posterior.
    prior : CharDistribution | None
        LM prior over the same alphabet; ``None`` or ``alpha == 0`` means uniform.
    alpha : float
        Weight (exponent) of the prior, >= 0.
    floor : float
        Minimum prior probability of every symbol (see :func:`floor_prior`).
    alphabet : sequence of str | None
        Needed when ``loglik`` is an array and ``prior`` is ``None``.

    Returns
    -------
    CharDistribution
    """
    alpha = check_range("alpha", alpha, 0.0, None)
    if isinstance(loglik, CharDistribution):
        alphabet, ll = loglik.alphabet, loglik.logp
    else:
        ll = np.asarray(loglik, dtype=np.float64)
        if prior is not None:
            alphabet = prior.alphabet if alphabet is None else tuple(alphabet)
        if alphabet is None:
            raise NeurospellError("fuse: pass alphabet= when loglik is an array and prior is None.")
    alphabet = tuple(alphabet)
    if ll.shape != (len(alphabet),):
        raise NeurospellError(f"fuse: loglik must have shape ({len(alphabet)},), got {ll.shape}.")
    if np.any(np.isnan(ll)) or np.all(ll == -np.inf):
        raise NeurospellError("fuse: loglik must not be NaN or all -inf.")
    if prior is None or alpha == 0.0:
        return CharDistribution.from_scores(alphabet, ll)
    validate_type(prior, CharDistribution, "prior")
    if prior.alphabet != alphabet:
        raise NeurospellError(
            f"fuse: the prior's alphabet {''.join(prior.alphabet)!r} differs from the evidence's "
            f"{''.join(alphabet)!r}."
        )
    return CharDistribution.from_scores(alphabet, ll + alpha * floor_prior(prior, floor))


def lm_prior(lm, text: str, alphabet: Sequence[str], *, backspace_p: float = 0.05,
             backspace: str = BACKSPACE) -> CharDistribution:
    """The LM's next-symbol distribution on a grid, with backspace handled here.

    A backspace symbol (if on the grid) gets ``backspace_p`` (none when ``text`` is empty);
    the other symbols share the rest in proportion to the model.

    Parameters
    ----------
    lm : LanguageModel | None
        ``None`` gives the uniform distribution.
    text : str
        Text typed so far.
    alphabet : sequence of str
    backspace_p : float
    backspace : str

    Returns
    -------
    CharDistribution
    """
    alphabet = tuple(alphabet)
    if lm is None:
        return CharDistribution.uniform(alphabet)
    dist = lm.distribution(text, alphabet)
    if backspace not in alphabet:
        return dist
    i = alphabet.index(backspace)
    logp = dist.logp.copy()
    others = np.ones(len(alphabet), bool)
    others[i] = False
    p_bs = backspace_p if text else 1e-6
    sub = logp[others]
    m = sub.max()
    logp[others] = sub - (m + math.log(np.exp(sub - m).sum())) + math.log1p(-p_bs)
    logp[i] = math.log(p_bs)
    return CharDistribution.from_scores(alphabet, logp)


def should_stop(posterior: CharDistribution, n_repetitions: float, *, threshold: float = 0.95,
                min_repetitions: int = 1, max_repetitions: int = 10) -> bool:
    """Dynamic stopping: stop when the posterior's maximum reaches ``threshold`` (after at
    least ``min_repetitions``) or when ``max_repetitions`` repetitions have been flashed.

    ``threshold = 1.0`` disables early stopping (always ``max_repetitions``).
    ``n_repetitions`` may be fractional (flashes / groups: the speller engine checks the rule
    after every flash).
    """
    if n_repetitions >= max_repetitions:
        return True
    if n_repetitions < min_repetitions or threshold >= 1.0:
        return False
    return float(np.max(posterior.logp)) >= math.log(threshold)


def eeg_agrees(posterior: CharDistribution, loglik) -> bool:
    """Whether the EEG evidence alone backs the posterior's choice: the fused maximum has the
    largest EEG log-likelihood, larger than every other symbol's (a tie does not back it: flat
    evidence backs nothing).

    The rule behind ``[speller] eeg_must_agree``: a language model may make the EEG's choice
    confident sooner, but never stop early on a symbol the EEG ranks below another. Without
    it, a weak participant's flat evidence lets a confident prior decide on its own after
    one repetition (BNCI s6: "WHICH" typed for "WATER" at p = 0.97).

    Parameters
    ----------
    posterior : CharDistribution
        The fused posterior.
    loglik : array, shape (n_symbols,)
        The EEG log-likelihood of each symbol (same order).
    """
    ll = np.asarray(loglik, dtype=np.float64)
    if len(ll) < 2:
        return True
    i = int(np.argmax(posterior.logp))
    others = float(np.max(np.delete(ll, i)))
    return float(ll[i]) > others + 1e-9 * max(1.0, abs(others))


def choose_alpha(logliks, priors, targets, *, grid=None, floor: float = 1e-3) -> tuple[float, np.ndarray]:
    """Choose the prior weight ``alpha`` on calibration selections.

    Maximises the mean log posterior of the intended symbol (a proper scoring rule) over
    the calibration selections, at every evidence level given.

    Parameters
    ----------
    logliks : array, shape (n_selections, n_symbols)
        EEG log-likelihoods (e.g. after 1, 2, ... repetitions: one row per level).
    priors : sequence of CharDistribution, length n_selections
        The LM prior of each selection.
    targets : array of int, shape (n_selections,)
        Index of the intended symbol.
    grid : sequence of float | None
        Candidate values (default ``0, 0.1, ..., 2``).
    floor : float

    Returns
    -------
    alpha : float
    scores : array, shape (len(grid),)
        Mean log posterior of the intended symbol for each candidate.
    """
    ll = np.asarray(logliks, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if ll.ndim != 2 or len(priors) != len(ll) or targets.shape != (len(ll),):
        raise NeurospellError(
            "choose_alpha: logliks (n, n_symbols), priors (n) and targets (n) must agree, got "
            f"{ll.shape}, {len(priors)}, {targets.shape}."
        )
    if len(ll) == 0:
        raise NeurospellError("choose_alpha: no calibration selections.")
    grid = np.round(np.arange(0.0, 2.01, 0.1), 2) if grid is None else np.asarray(grid, float)
    lp = np.stack([floor_prior(p, floor) for p in priors])
    scores = np.empty(len(grid))
    for k, a in enumerate(grid):
        s = ll + a * lp
        m = s.max(axis=1, keepdims=True)
        z = (m + np.log(np.exp(s - m).sum(axis=1, keepdims=True)))[:, 0]
        scores[k] = float(np.mean(s[np.arange(len(s)), targets] - z))
    return float(grid[int(np.argmax(scores))]), scores
