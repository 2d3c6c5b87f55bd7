"""The speller engine's events and its snapshot: frozen values it hands out
(:mod:`neurospell.session.engine` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from neurospell.check import NeurospellError
from neurospell.types import CandidateList, CharDistribution, Decision

__all__ = ["Completion", "SelectionDecided", "TextChanged", "CandidatesChanged", "EngineSnapshot"]


@dataclass(frozen=True)
class Completion:
    """A word completion chosen as one symbol: it replaces the partial word, plus a space."""

    word: str

    def __post_init__(self):
        if not isinstance(self.word, str) or not self.word or " " in self.word:
            raise NeurospellError(f"Completion: word must be one non-empty word, got {self.word!r}.")


@dataclass(frozen=True)
class SelectionDecided:
    """A selection ended.

    Attributes
    ----------
    decision : Decision
        The chosen symbol, its posterior, the repetitions it took (started repetitions).
    posterior : CharDistribution
        The fused posterior at the decision.
    prior : CharDistribution
        The LM prior of the selection (uniform without a model).
    evidence : CharDistribution
        The EEG-only posterior (uniform prior) at the decision.
    n_flashes : int
        Flashes used.
    text : str
        The typed text after the decision.
    forced : bool
        ``True`` when the decision was forced (no more flashes), not reached by the rule.
    """

    decision: Decision
    posterior: CharDistribution = field(repr=False)
    prior: CharDistribution = field(repr=False)
    evidence: CharDistribution = field(repr=False)
    n_flashes: int
    text: str
    forced: bool = False


@dataclass(frozen=True)
class TextChanged:
    """The typed text changed (a decision, a backspace, a completion, a reset)."""

    text: str
    previous: str


@dataclass(frozen=True)
class CandidatesChanged:
    """The candidate texts (EEG + LM beam, best first) changed."""

    candidates: CandidateList


@dataclass(frozen=True)
class EngineSnapshot:
    """What a GUI draws: an immutable copy of the engine's state.

    Attributes
    ----------
    text : str
    posterior : CharDistribution
        Fused posterior of the current selection (the prior before any flash).
    evidence : CharDistribution
        EEG-only posterior of the current selection.
    prior : CharDistribution
    candidates : CandidateList
    completions : CandidateList
        Words completing the word being typed (empty without a language model).
    n_flashes : int
        Flashes of the current selection.
    repetitions : float
        ``n_flashes / n_groups``.
    last : SelectionDecided | None
        The last decision.
    n_selections : int
        Decisions so far.
    """

    text: str
    posterior: CharDistribution = field(repr=False)
    evidence: CharDistribution = field(repr=False)
    prior: CharDistribution = field(repr=False)
    candidates: CandidateList = field(repr=False)
    completions: CandidateList = field(repr=False)
    n_flashes: int
    repetitions: float
    last: SelectionDecided | None = field(repr=False)
    n_selections: int
    #: The words the layout's word cells show (``""``: empty; none without word cells).
    word_cells: tuple = ()
