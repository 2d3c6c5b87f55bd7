"""A live closed-loop speller session: flash, listen, decode, type -- in real time.

:class:`LiveSession` (:mod:`.session`) runs the phases; the user's intents
(:mod:`.intents`) go in through :meth:`LiveSession.submit`, its state comes out as
immutable :class:`LiveSnapshot` objects and a :class:`LiveResult` (:mod:`.results`); the
training phase's work runs in a training process (:mod:`.training`).
"""

from .intents import PHASES, RUN_PHASES, Intent, Pause, Resume, Select, SetPhase, Start, Stop, Undo
from .results import DecisionRecord, LiveResult, LiveSnapshot
from .session import LiveSession
from .training import fit_in_process, train_decoder, train_in_process

__all__ = [
    "LiveSession", "LiveSnapshot", "LiveResult", "DecisionRecord", "Intent",
    "Start", "Pause", "Resume", "Stop", "Undo", "Select", "SetPhase", "PHASES", "RUN_PHASES",
    "train_decoder", "train_in_process", "fit_in_process",
]
