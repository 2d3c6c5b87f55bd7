"""What a user asks of a live session (:meth:`LiveSession.submit`) and the phases it reports."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import Completion

__all__ = ["Start", "Pause", "Resume", "Stop", "Undo", "Select", "SetPhase", "Intent", "PHASES", "RUN_PHASES"]

#: Phases a session reports (``LiveSnapshot.phase``).
PHASES = ("idle", "calibration", "training", "copy", "free", "paused", "stopped", "error")
#: Phases a session runs through (the rest are states).
RUN_PHASES = ("calibration", "training", "copy", "free")


# -- intents ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    """Start the planned phases (the worker waits for it in ``"idle"``)."""


@dataclass(frozen=True)
class Pause:
    """Pause flashing (the stream keeps being read)."""


@dataclass(frozen=True)
class Resume:
    """Resume after a :class:`Pause`."""


@dataclass(frozen=True)
class Stop:
    """End the session (the open selection is dropped); ``reason`` becomes the stop reason
    (default ``"stopped by the user"``)."""

    reason: str | None = None


@dataclass(frozen=True)
class Undo:
    """Delete the last typed symbol (a backspace chosen outside the flashing)."""


@dataclass(frozen=True)
class Select:
    """Apply a symbol or a word :class:`~neurospell.session.engine.Completion` chosen directly."""

    symbol: str | Completion


@dataclass(frozen=True)
class SetPhase:
    """Jump to a phase (``"copy"`` with ``text`` the phrase, ``"free"``, ``"calibration"``
    with ``text`` the calibration text); the current phase ends."""

    name: str
    text: str | None = None


Intent = Start | Pause | Resume | Stop | Undo | Select | SetPhase


