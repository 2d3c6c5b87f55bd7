"""Speller simulation with real (or synthetic) decoder scores.

A :class:`SimulatedParticipant` answers each flash with a decision score: a score of a real
held-out *target* epoch when the flash lights up the symbol the participant is spelling,
and a score of a real *non-target* epoch otherwise. Scores come from a fitted decoder's
``decision_function`` on epochs it was not trained on. The speller turns the scores into
per-symbol evidence with the decoder's calibrated score model
(:class:`neurospell.decoder.CharacterEvidence`), optionally adds a prior (a language
model's :class:`~neurospell.types.CharDistribution`) and decides.

Typical use (copy-spelling with an LM prior and dynamic stopping)::

    from neurospell.simulation import SimulatedParticipant, simulate_selection
    rng = np.random.default_rng(0)
    who = SimulatedParticipant(scores[y], scores[~y], rng)       # held-out decoder scores
    layout = SpellerLayout.row_column()                           # 6 x 6, 12 flash groups
    res = simulate_selection(who, layout, "H", decoder.score_model_,
                             max_repetitions=10, prior=lm_distribution,
                             stop=lambda dist, n_rep: dist.probs.max() > 0.95, rng=rng)
    res.decision.symbol, res.decision.n_repetitions, res.correct, res.n_flashes

and character accuracy against repetitions with :func:`simulate_accuracy`.

This module is core: it imports no torch, MNE or LSL at module level, and imports the
decoder stage only inside functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .check import NeurospellError, check_array, validate_type
from .types import CharDistribution, Decision, EpochBatch, SpellerLayout

__all__ = [
    "SimulatedParticipant",
    "SelectionResult",
    "flash_sequence",
    "simulate_selection",
    "simulate_accuracy",
    "synthetic_erp_epochs",
]


def _rng(rng) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    validate_type(rng, np.random.Generator, "rng", hint="Pass np.random.default_rng(seed).")
    return rng


class SimulatedParticipant:
    """A participant whose brain answers flashes with real decoder scores.

    Parameters
    ----------
    target_scores : array, shape (n_target,)
        Decision scores of held-out target epochs (flash contained the attended symbol).
    nontarget_scores : array, shape (n_nontarget,)
        Decision scores of held-out non-target epochs.
    rng : numpy.random.Generator | int | None
        Random source (or seed) for drawing scores.
    replace : bool
        Draw with replacement (default; any number of flashes). ``False`` uses each real
        score at most once and raises when a pool runs out (then :meth:`refill`).
    """

    def __init__(self, target_scores, nontarget_scores, rng=None, *, replace: bool = True):
        self.target_scores = check_array("target_scores", target_scores, ndim=1, dtype=float, finite=True)
        self.nontarget_scores = check_array(
            "nontarget_scores", nontarget_scores, ndim=1, dtype=float, finite=True
        )
        if not len(self.target_scores) or not len(self.nontarget_scores):
            raise NeurospellError(
                "SimulatedParticipant needs at least one target and one non-target score, got "
                f"{len(self.target_scores)} and {len(self.nontarget_scores)}."
            )
        self.rng = _rng(rng)
        self.replace = bool(replace)
        self.refill()

    def refill(self) -> None:
        """Make every real score available again (for ``replace=False``)."""
        self._pools = [self.rng.permutation(self.nontarget_scores).tolist(),
                       self.rng.permutation(self.target_scores).tolist()]

    def _draw(self, is_target: bool) -> float:
        pool = self.target_scores if is_target else self.nontarget_scores
        if self.replace:
            return float(pool[self.rng.integers(len(pool))])
        left = self._pools[int(is_target)]
        if not left:
            raise NeurospellError(
                f"SimulatedParticipant ran out of {'target' if is_target else 'non-target'} "
                "scores (replace=False); call refill() or use replace=True."
            )
        return float(left.pop())

    def respond(self, is_target: bool) -> float:
        """The score of one flash: a target score if ``is_target`` else a non-target one."""
        return self._draw(bool(is_target))

    def respond_flashes(self, layout: SpellerLayout, symbol: str, groups) -> np.ndarray:
        """Scores of flashes ``groups`` (group indices) while attending ``symbol``, shape (n,)."""
        hit = set(layout.groups_containing(symbol))
        return np.array([self._draw(int(g) in hit) for g in np.asarray(groups).ravel()])


def flash_sequence(layout: SpellerLayout, rng=None) -> np.ndarray:
    """One repetition: every flash group once, in random order (group indices), shape (n_groups,)."""
    return _rng(rng).permutation(layout.n_groups)


@dataclass(frozen=True)
class SelectionResult:
    """The outcome of one simulated selection.

    Attributes
    ----------
    intended : str
        The symbol the participant was spelling.
    decision : Decision
        The chosen symbol, its posterior, the repetitions it took.
    distributions : tuple of CharDistribution
        The posterior after each repetition (prior included), ``distributions[-1]`` decided.
    n_flashes : int
        Flashes shown.
    """

    intended: str
    decision: Decision
    distributions: tuple[CharDistribution, ...] = field(repr=False)
    n_flashes: int = 0

    @property
    def correct(self) -> bool:
        return self.decision.symbol == self.intended


def simulate_selection(
    participant: SimulatedParticipant,
    layout: SpellerLayout,
    symbol: str,
    score_model,
    *,
    max_repetitions: int = 10,
    min_repetitions: int = 1,
    prior: CharDistribution | None = None,
    stop: Callable[[CharDistribution, int], bool] | None = None,
    rng=None,
) -> SelectionResult:
    """Simulate the selection of one symbol, repetition by repetition.

    Each repetition flashes every group of ``layout`` once in random order; the participant
    answers each flash; the evidence (decoder score model, flash -> symbol likelihood) is
    updated; the posterior ``p(c | flashes) ~ prior(c) * L(c)`` is computed.

    Parameters
    ----------
    participant : SimulatedParticipant
        Answers flashes with real scores.
    layout : SpellerLayout
        Symbols and flash groups (row/column, checkerboard, ...).
    symbol : str
        The symbol the participant spells (must be on the layout).
    score_model : neurospell.decoder.ScoreModel
        The decoder's calibrated score densities (``decoder.score_model_``).
    max_repetitions : int
        Repetitions before a forced decision.
    min_repetitions : int
        Repetitions before ``stop`` is first consulted.
    prior : CharDistribution | None
        Prior over ``layout.symbols`` (e.g. from a language model); uniform when ``None``.
    stop : callable ``(posterior: CharDistribution, n_repetitions: int) -> bool`` | None
        Dynamic stopping rule called after each repetition from ``min_repetitions`` on;
        ``None`` always runs ``max_repetitions``.
    rng : numpy.random.Generator | int | None
        Random source for the flash order (the participant has its own).

    Returns
    -------
    result : SelectionResult
    """
    from neurospell.decoder.likelihood import CharacterEvidence

    validate_type(layout, SpellerLayout, "layout")
    if symbol not in layout.symbols:
        raise NeurospellError(
            f"symbol {symbol!r} is not on the speller layout {''.join(layout.symbols)!r}."
        )
    if int(max_repetitions) < 1 or int(min_repetitions) < 1 or min_repetitions > max_repetitions:
        raise NeurospellError(
            "need 1 <= min_repetitions <= max_repetitions, got "
            f"min_repetitions={min_repetitions!r}, max_repetitions={max_repetitions!r}."
        )
    rng = _rng(rng)
    ev = CharacterEvidence(layout, score_model)
    dists = []
    for rep in range(1, int(max_repetitions) + 1):
        groups = flash_sequence(layout, rng)
        ev.add_flashes(groups, participant.respond_flashes(layout, symbol, groups))
        dist = ev.distribution(prior)
        dists.append(dist)
        if stop is not None and rep >= min_repetitions and stop(dist, rep):
            break
    best = dists[-1].argmax()
    decision = Decision(best, float(np.exp(dists[-1][best])), len(dists))
    return SelectionResult(symbol, decision, tuple(dists), ev.n_flashes)


def simulate_accuracy(
    participant: SimulatedParticipant,
    layout: SpellerLayout,
    score_model,
    *,
    max_repetitions: int = 15,
    n_selections: int = 500,
    symbols: Sequence[str] | None = None,
    rng=None,
) -> np.ndarray:
    """Character accuracy after 1..``max_repetitions`` repetitions (no prior, no stopping).

    Every selection attends a symbol drawn uniformly from ``symbols`` (default: all of the
    layout's), flashes ``max_repetitions`` repetitions, and the decision after ``r``
    repetitions (argmax of the likelihood) is scored for every ``r``.

    Parameters
    ----------
    participant : SimulatedParticipant
    layout : SpellerLayout
    score_model : neurospell.decoder.ScoreModel
    max_repetitions : int
    n_selections : int
        Simulated selections (the standard error of an accuracy ``a`` is
        ``sqrt(a (1 - a) / n_selections)``).
    symbols : sequence of str | None
    rng : numpy.random.Generator | int | None

    Returns
    -------
    accuracy : array, shape (max_repetitions,)
        ``accuracy[r - 1]`` is the fraction of correct selections after ``r`` repetitions.
    """
    rng = _rng(rng)
    symbols = list(layout.symbols if symbols is None else symbols)
    if int(n_selections) < 1:
        raise NeurospellError(f"n_selections must be >= 1, got {n_selections!r}.")
    hits = np.zeros(int(max_repetitions))
    for _ in range(int(n_selections)):
        sym = symbols[rng.integers(len(symbols))]
        res = simulate_selection(participant, layout, sym, score_model,
                                 max_repetitions=max_repetitions, rng=rng)
        hits += np.array([d.argmax() == sym for d in res.distributions], dtype=float)
    return hits / int(n_selections)


def synthetic_erp_epochs(
    n_characters: int = 6,
    n_repetitions: int = 5,
    layout: SpellerLayout | None = None,
    *,
    n_channels: int = 8,
    sfreq: float = 128.0,
    tmin: float = 0.0,
    tmax: float = 0.8,
    amplitude: float = 5e-6,
    noise: float = 10e-6,
    rng=None,
) -> EpochBatch:
    """Labelled epochs of a simulated row/column calibration with a known P300.

    Each character (trial) attends a random symbol; each repetition flashes every group of
    ``layout`` once in random order. Every epoch is pink-ish noise (random walk high-passed
    by differencing plus white noise, ``noise`` volts RMS); target epochs add a positive
    Gaussian bump of ``amplitude`` volts peaking at 300 ms, scaled by a fixed topography
    (largest on the middle channels).

    Returns
    -------
    batch : EpochBatch
        ``codes`` are group index + 1, ``targets`` and ``trials`` set, data in volts,
        shape (n_characters * n_repetitions * n_groups, n_channels, n_times).
    """
    rng = _rng(rng)
    layout = SpellerLayout.row_column() if layout is None else layout
    n_times = int(round((tmax - tmin) * sfreq)) + 1
    t = tmin + np.arange(n_times) / sfreq
    erp = np.exp(-0.5 * ((t - 0.3) / 0.06) ** 2) - 0.4 * np.exp(-0.5 * ((t - 0.17) / 0.03) ** 2)
    topo = np.exp(-0.5 * ((np.arange(n_channels) - (n_channels - 1) / 2) / (n_channels / 3)) ** 2)
    codes, targets, trials = [], [], []
    for ch in range(int(n_characters)):
        sym = layout.symbols[rng.integers(len(layout.symbols))]
        hit = set(layout.groups_containing(sym))
        for _ in range(int(n_repetitions)):
            for g in rng.permutation(layout.n_groups):
                codes.append(g + 1)
                targets.append(g in hit)
                trials.append(ch)
    n = len(codes)
    walk = np.cumsum(rng.standard_normal((n, n_channels, n_times)), axis=2)
    walk -= walk.mean(axis=2, keepdims=True)
    walk /= walk.std() + 1e-12
    x = noise * (0.5 * walk + 0.85 * rng.standard_normal((n, n_channels, n_times)))
    x += np.asarray(targets)[:, None, None] * amplitude * topo[None, :, None] * erp[None, None, :]
    onsets = np.arange(n) * 0.175
    return EpochBatch(x.astype(np.float32), np.asarray(codes), onsets, tmin, sfreq,
                      tuple(f"EEG{i + 1:02d}" for i in range(n_channels)),
                      np.asarray(targets), np.asarray(trials))
