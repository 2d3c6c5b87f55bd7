"""The session layer: the one place that wires the stages together.

:mod:`~neurospell.session.engine`
    :class:`SpellerEngine`, the one selection loop (evidence, fusion, stopping, text,
    candidates), pure and synchronous.
:mod:`~neurospell.session.drivers`
    What feeds the engine: recorded scores (:func:`run_trials`), a score sampler
    (:func:`copy_spell`), a stream (:class:`StreamDriver`).
:mod:`~neurospell.session.simulator`
    What sits where a person would: the score sampler (:class:`ScoreSampler`) and the
    participant streaming EEG over LSL, with its process.
:mod:`~neurospell.session.replay`, :mod:`~neurospell.session.spelling`,
:mod:`~neurospell.session.evaluation`,
:mod:`~neurospell.session.calibration`, :mod:`~neurospell.session.copyspell`,
:mod:`~neurospell.session.demo`, :mod:`~neurospell.session.train`, :mod:`~neurospell.session.timing`
    The entry points' wiring, all on the engine and its drivers.

Layering: the session imports the core and the stages; the GUI and the command line
import the session; the core and the stages never import it.
"""

from .drivers import PhraseRun, StreamDriver, copy_spell, run_trials, spell_symbol
from .engine import (
    CandidatesChanged,
    Completion,
    EngineSnapshot,
    RowColumnFlashes,
    SelectionDecided,
    SpellerEngine,
    TextChanged,
    apply_symbol,
    model_alpha,
)
from .simulator.scores import ScoreSampler, simulate_accuracy, synthetic_erp_epochs

__all__ = [
    "SpellerEngine", "EngineSnapshot", "SelectionDecided", "TextChanged", "CandidatesChanged",
    "Completion", "RowColumnFlashes", "apply_symbol", "model_alpha", "run_trials", "spell_symbol",
    "copy_spell", "StreamDriver", "PhraseRun", "ScoreSampler", "simulate_accuracy",
    "synthetic_erp_epochs",
]
