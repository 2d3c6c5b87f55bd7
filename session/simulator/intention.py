"""The simulated person: the phrase they intend and the text typed so far (from the markers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from neurospell.check import NeurospellError, validate_type
from neurospell.logs import logger
from neurospell.markers import (
    BACKSPACE,
    apply_selection,
    intended_symbol,
    parse_select,
    parse_text,
    parse_words,
)
from neurospell.types import WORD_CELL_SYMBOLS, SpellerLayout

from ..wordcells import apply_shown, intended

__all__ = ["Intention"]


@dataclass
class Intention:
    """What the simulated person wants: the phrase and the text typed so far.

    Parameters
    ----------
    phrase : str
        The text the person intends to type (each character a symbol of ``layout``).
    layout : SpellerLayout
        The grid: which symbols each stimulus code lights up.
    typed : str
        Text typed so far (updated from ``select:S`` / ``text:T`` markers).
    follow_labels : bool
        Answer flashes labelled ``:target`` / ``:nontarget`` (calibration cues) as labelled;
        otherwise (and for unlabelled flashes) by the intended symbol.
    words : tuple of str
        What the grid's word cells show (from ``words:`` markers); on a grid with word cells
        the person selects the cell that offers the word they want
        (:func:`~neurospell.session.wordcells.intended`).
    """

    phrase: str
    layout: SpellerLayout
    typed: str = ""
    follow_labels: bool = True
    words: tuple = ()
    _warned: set = field(default_factory=set, init=False, repr=False)

    def __post_init__(self):
        validate_type(self.phrase, str, "phrase")
        validate_type(self.layout, SpellerLayout, "layout")
        missing = sorted({c for c in self.phrase if c not in self.layout.symbols})
        if missing:
            raise NeurospellError(
                f"The phrase {self.phrase!r} has symbols that are not on the speller grid: {missing}. "
                f"The grid has {''.join(self.layout.symbols)!r} (check the case, or the [speller] symbols)."
            )

    @property
    def symbol(self) -> str | None:
        """The symbol wanted now (``None``: the phrase is complete, nothing is wanted)."""
        if any(s in WORD_CELL_SYMBOLS for s in self.layout.symbols):
            return intended(self.phrase, self.typed, self.layout, self.words)
        want = intended_symbol(self.phrase, self.typed)
        if want == BACKSPACE and BACKSPACE not in self.layout.symbols:
            if "no backspace" not in self._warned:
                self._warned.add("no backspace")
                logger.warning("The typed text %r went off the phrase but the grid has no backspace %r: the "
                               "participant keeps wanting the phrase's next symbol.", self.typed, BACKSPACE)
            return self.phrase[len(self.typed)] if len(self.typed) < len(self.phrase) else None
        return want

    def on_marker(self, label: str) -> bool:
        """Update the typed text from a decision or text marker; ``True`` if it was one."""
        words = parse_words(label)
        if words is not None:
            self.words = words
            logger.info("participant: word cells show %s (wants %r)", words, self.symbol)
            return True
        sym = parse_select(label)
        if sym in WORD_CELL_SYMBOLS:
            self.typed = apply_shown(self.typed, sym, self.layout, self.words)
            logger.info("participant: selected word cell %r -> typed %r (wants %r)", sym, self.typed, self.symbol)
            return True
        if sym is not None:
            self.typed = apply_selection(self.typed, sym)
            logger.info("participant: selected %r -> typed %r (wants %r)", sym, self.typed, self.symbol)
            return True
        text = parse_text(label)
        if text is not None:
            self.typed = text
            logger.info("participant: typed text is %r (wants %r)", self.typed, self.symbol)
            return True
        return False

    def is_target(self, code: int, label_target: bool | None = None, members=None) -> bool:
        """Whether a flash of stimulus ``code`` is a target for this person now.

        ``members``: the symbol indices a flash of a group not fixed in the layout lit (its
        marker's ``members=`` part, code 0): a target when they hold the wanted symbol.
        """
        if self.follow_labels and label_target is not None:
            return bool(label_target)
        want = self.symbol
        if want is not None and members is not None:
            return self.layout.symbols.index(want) in tuple(members)
        if want is None or code < 1:
            return False
        if code > self.layout.n_groups:
            if code not in self._warned:
                self._warned.add(code)
                logger.warning("Flash code %d is beyond the grid's %d flash groups; answered as a non-target.",
                               code, self.layout.n_groups)
            return False
        return self.layout.symbols.index(want) in self.layout.flash_groups[code - 1]
