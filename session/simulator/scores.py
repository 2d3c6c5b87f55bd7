"""Score-level speller simulation with real (or synthetic) decoder scores.

A :class:`ScoreSampler` stands in for a participant and answers each flash with a decision
score: a score of a real held-out *target* epoch when the flash lights up the symbol the
participant is spelling, and a score of a real *non-target* epoch otherwise. Scores come
from a fitted decoder's ``decision_function`` on epochs it was not trained on. The sampler
answers the flash groups the :class:`~neurospell.session.engine.SpellerEngine` asks for, through the
score-level driver (:func:`neurospell.session.drivers.spell_symbol` /
:func:`~neurospell.session.drivers.copy_spell`): the same engine, fusion and stopping rule
as every other entry point.

Typical use (copy-spelling with an LM prior and dynamic stopping)::

    from neurospell.session import ScoreSampler, SpellerEngine, copy_spell
    who = ScoreSampler(scores[y], scores[~y], rng=0)      # held-out decoder scores
    engine = SpellerEngine.from_config(layout, decoder.score_model_, lm, config, seed=0)
    decisions = copy_spell(engine, "HELLO", who)

and character accuracy against repetitions with :func:`simulate_accuracy`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurospell.check import NeurospellError, check_array, validate_type
from neurospell.types import EpochBatch, SpellerLayout

from ..drivers import spell_symbol
from ..engine import SpellerEngine

__all__ = [
    "ScoreSampler",
    "flash_sequence",
    "simulate_accuracy",
    "synthetic_erp_epochs",
]


def _rng(rng) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    validate_type(rng, np.random.Generator, "rng", hint="Pass np.random.default_rng(seed).")
    return rng


class ScoreSampler:
    """Draws a decision score for each flash, as a participant's brain read by a decoder would give it.

    A target score when the flash lit the attended symbol, a non-target score otherwise:
    the score-level stand-in for a participant (no EEG; for EEG over LSL see
    :class:`~neurospell.session.simulator.streaming.StreamingParticipant`).

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
                "ScoreSampler needs at least one target and one non-target score, got "
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
                f"ScoreSampler ran out of {'target' if is_target else 'non-target'} "
                "scores (replace=False); call refill() or use replace=True."
            )
        return float(left.pop())

    def respond(self, is_target: bool) -> float:
        """The score of one flash: a target score if ``is_target`` else a non-target one."""
        return self._draw(bool(is_target))

    def respond_flashes(self, layout: SpellerLayout, symbol: str, groups) -> np.ndarray:
        """Scores of flashes ``groups`` while attending ``symbol``, shape (n,).

        A group is a layout group index or a
        :class:`~neurospell.session.flashgroups.SymbolGroup` (the symbols one flash lit): a
        target score when it holds ``symbol``, whatever its size.
        """
        hit = set(layout.groups_containing(symbol))
        s = layout.symbols.index(symbol)
        if isinstance(groups, (list, tuple)) and any(isinstance(g, tuple) for g in groups):
            return np.array([self._draw(s in g if isinstance(g, tuple) else int(g) in hit) for g in groups])
        return np.array([self._draw(int(g) in hit) for g in np.asarray(groups).ravel()])


def flash_sequence(layout: SpellerLayout, rng=None) -> np.ndarray:
    """One repetition: every flash group once, in random order (group indices), shape (n_groups,)."""
    return _rng(rng).permutation(layout.n_groups)


def simulate_accuracy(
    participant: ScoreSampler,
    layout: SpellerLayout,
    score_model,
    *,
    max_repetitions: int = 15,
    n_selections: int = 500,
    symbols: Sequence[str] | None = None,
    rng=None,
) -> np.ndarray:
    """Character accuracy after 1..``max_repetitions`` repetitions (no prior, no stopping).

    The :class:`~neurospell.session.engine.SpellerEngine` without language model and with
    stopping disabled; every selection attends a symbol drawn uniformly from ``symbols`` (default: all of the
    layout's), flashes ``max_repetitions`` repetitions, and the decision after ``r``
    repetitions (argmax of the likelihood) is scored for every ``r``.

    Parameters
    ----------
    participant : ScoreSampler
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
    n_rep = int(max_repetitions)
    engine = SpellerEngine(layout, score_model, None, alpha=0.0, stop_threshold=1.0,
                           max_repetitions=n_rep, beam_width=0, n_completions=0, seed=rng)
    hits = np.zeros(n_rep)
    for _ in range(int(n_selections)):
        sym = symbols[rng.integers(len(symbols))]

        def score(r, post, sym=sym):
            hits[r - 1] += post.argmax() == sym

        spell_symbol(engine, sym, participant, on_repetition=score)
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
