"""What goes out of a live session: a decision, the GUI's snapshot, the result."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..engine import EngineSnapshot
from ..spelling import text_chars_typed
from ..stats import SpellingFigures, SpellingStats

__all__ = ["DecisionRecord", "LiveSnapshot", "LiveResult"]


@dataclass(frozen=True)
class DecisionRecord:
    """One decision of a spelling phase.

    Attributes
    ----------
    phase : str
        ``"copy"`` or ``"free"``.
    symbol : str
    intended : str | None
        What the participant should have chosen (copy mode), else ``None``.
    posterior : float
        Posterior of the chosen symbol.
    n_flashes : int
    text : str
        Typed text after the decision.
    t : float
        LSL time of the decision.
    latency : float
        Seconds from reading the samples that completed the deciding epoch to the decision.
    """

    phase: str
    symbol: str
    intended: str | None
    posterior: float
    n_flashes: int
    text: str
    t: float
    latency: float

    @property
    def correct(self) -> bool | None:
        return None if self.intended is None else self.symbol == self.intended


@dataclass(frozen=True)
class LiveSnapshot:
    """What a GUI draws: an immutable view of the session.

    Attributes
    ----------
    phase : str
        One of :data:`PHASES`.
    status : str
        A human-readable line.
    engine : EngineSnapshot | None
        Text, posterior, candidates, completions, last decision (spelling phases).
    cue : str | None
        Calibration: the symbol to attend; copy spelling: the phrase's next symbol while it is
        cued, between two selections (``[speller] feedback_time`` after a decision).
    target_text : str | None
        The calibration text or the copy phrase.
    progress : float | None
        0..1 in calibration and training.
    source_ok : bool
    source_problem : str | None
        Why the source is not delivering.
    n_flashes : int
        Flash markers sent.
    n_decisions : int
    training_report : dict | None
        After training: ``heldout_auc``, ``n_epochs``, ``lm_alpha``, ``erp_target`` /
        ``erp_nontarget`` (channel x time averages, volts), ``times`` (seconds),
        ``ch_names``, ``model_path``, ``accuracy_vs_repetitions``, ``train_seconds``
        (all computed in the training process, :func:`train_in_process`); ``auc_warning``:
        what a near-chance AUC means and what to try, or ``None``
        (:func:`~neurospell.session.quality.calibration_warning`).
    text : str
        Typed text.
    n_discarded : int
        Flash markers discarded without being scored (no data, a gap in the window).
    n_gaps : int
        Stretches of missing samples seen.
    error : str | None
        The error that ended the worker (phase ``"error"``).
    marker_problem : str | None
        Why flashing is paused because the markers sent no longer reach the recording
        (see "Markers that do not reach the recording" in :class:`LiveSession`).
    decisions : tuple of DecisionRecord
        Every decision so far, oldest first (a GUI reads new ones from here, never from the
        session).
    """

    phase: str
    status: str
    engine: EngineSnapshot | None = field(default=None, repr=False)
    cue: str | None = None
    target_text: str | None = None
    progress: float | None = None
    source_ok: bool = True
    source_problem: str | None = None
    n_flashes: int = 0
    n_decisions: int = 0
    training_report: dict | None = field(default=None, repr=False)
    text: str = ""
    n_discarded: int = 0
    n_gaps: int = 0
    error: str | None = None
    marker_problem: str | None = None
    decisions: tuple = field(default=(), repr=False)


@dataclass(frozen=True)
class LiveResult(SpellingFigures):
    """The outcome of a session (:meth:`LiveSession.join`).

    Attributes
    ----------
    text : str
        Typed text at the end.
    target_text : str | None
        The copy phrase.
    decisions : tuple of DecisionRecord
    stop_reason : str
    duration : float
        Seconds of spelling (copy + free phases, pauses excluded).
    n_flashes : int
        Flash markers sent in the spelling phases.
    n_scored : int
        Spelling flashes scored.
    n_discarded : int
        Flash markers discarded without a score (all phases).
    gaps : tuple of dict
        ``{"t", "n_samples", "duration"}`` per stretch of missing samples.
    pauses : tuple of dict
        ``{"t", "duration", "reason"}`` per pause.
    training_report : dict | None
    n_symbols : int
        Symbols on the grid (for the ITR).
    """

    text: str
    target_text: str | None
    decisions: tuple
    stop_reason: str
    duration: float
    n_flashes: int
    n_scored: int
    n_discarded: int
    gaps: tuple = ()
    pauses: tuple = ()
    training_report: dict | None = None
    n_symbols: int = 36

    @property
    def stats(self) -> SpellingStats:
        """The figures (:class:`~neurospell.session.stats.SpellingStats`; undefined: ``None``):
        the accuracy is out of the copy-mode decisions."""
        marks = [d.correct for d in self.decisions if d.correct is not None]
        return SpellingStats(len(self.decisions), int(sum(d.n_flashes for d in self.decisions)), self.duration,
                             self.n_symbols, sum(marks) if marks else None, len(marks) or None)

    @property
    def n_selections(self) -> int:
        return len(self.decisions)

    @property
    def effective_chars_per_minute(self) -> float | None:
        """Characters of the copy phrase typed per minute of the session (a word cell counts its
        characters; :func:`~neurospell.session.spelling.text_chars_typed`); ``None`` without a
        copy phrase or time."""
        if not self.target_text or not self.duration:
            return None
        return 60.0 * text_chars_typed(self.text, self.target_text) / self.duration





    @property
    def decision_latencies(self) -> np.ndarray:
        """Seconds from reading the samples that closed the deciding epoch to each decision."""
        return np.array([d.latency for d in self.decisions], dtype=np.float64)

    def summary(self) -> dict:
        """A JSON-able summary."""
        lat = self.decision_latencies * 1000.0
        return {
            "text": self.text, "target_text": self.target_text, "stop_reason": self.stop_reason,
            "n_selections": self.n_selections, "accuracy": self.accuracy,
            "chars_per_min": self.chars_per_minute, "itr_bits_per_min": self.itr,
            "effective_chars_per_min": self.effective_chars_per_minute,
            "flashes_per_char": self.flashes_per_char, "duration_s": self.duration,
            "n_flashes": self.n_flashes, "n_scored": self.n_scored, "n_discarded": self.n_discarded,
            "n_gaps": len(self.gaps), "n_pauses": len(self.pauses),
            "decision_latency_ms_median": float(np.median(lat)) if lat.size else None,
            "decision_latency_ms_p99": float(np.percentile(lat, 99)) if lat.size else None,
        }

