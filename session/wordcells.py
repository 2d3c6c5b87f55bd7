"""Word cells: grid symbols that stand for the language model's current word completions.

A layout with word cells holds, besides its characters, symbols of
:data:`~neurospell.types.WORD_CELL_SYMBOLS` (``"\u2460"``, ``"\u2461"``, ...): cell ``i``
means "the ``i``-th completion of the current word" (:func:`~neurospell.lm_fusion.complete_words`
of the typed text: the rest of the word being typed, or the next word after a space), best
first; a cell with no completion is empty. Selecting a cell types its word and a space
(:func:`apply_word`, the rule :meth:`SpellerEngine.select` applies to a clicked
:class:`~neurospell.session.engine.Completion`); an empty cell changes nothing.

The completions depend only on the typed text and the language model, so a replay
reproduces every cell and decision. :class:`WordCells` holds one engine's cells;
:func:`word_prior` is the prior rule; :func:`intended` is what a person copying a phrase
selects (a word cell when it offers the word they want, else the next letter, or backspace);
:func:`~neurospell.session.drivers.copy_spell_words` is the score-level driver that
copy-spells with correction.

Prior rule (:func:`word_prior`): the LM's probability of the event "the text continues with
the completion's remaining letters and a space" goes to the word cell; that event is part of
the event "the next character is the completion's next letter", so the letter keeps the rest
of its probability (its LM probability minus its cells', at least a small floor); backspace
keeps ``backspace_p``; an empty cell gets ~0 (``1e-9`` before the fusion's floor). Distinct
completions are disjoint events, so the prior sums to one before renormalisation up to the
floors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from neurospell.check import NeurospellError
from neurospell.lm_fusion import complete_words, lm_prior
from neurospell.markers import (
    BACKSPACE,
    apply_selection,
    apply_word,
    intended_with_words,
    phrase_done,
)
from neurospell.types import WORD_CELL_SYMBOLS, CharDistribution, SpellerLayout

__all__ = ["WordCells", "apply_word", "apply_shown", "word_prior", "intended", "phrase_done", "EMPTY_CELL_P"]

#: Prior probability of an empty word cell (before the fusion's floor).
EMPTY_CELL_P = 1e-9
#: Smallest prior share a letter keeps after its word cells took theirs.
_LETTER_FLOOR = 1e-6


def apply_shown(text: str, symbol: str, layout: SpellerLayout, shown: Sequence[str]) -> str:
    """The text after selecting ``symbol`` on ``layout`` whose word cells show ``shown``."""
    if symbol not in WORD_CELL_SYMBOLS or symbol not in layout.symbols:
        return apply_selection(text, symbol)
    i = [s for s in layout.symbols if s in WORD_CELL_SYMBOLS].index(symbol)
    word = shown[i] if i < len(shown) else ""
    return apply_word(text, word) if word else text


class WordCells:
    """The word cells of one layout and the words they show now.

    Parameters
    ----------
    layout : SpellerLayout
        A layout holding at least one symbol of :data:`~neurospell.types.WORD_CELL_SYMBOLS`
        (use :meth:`of`, which gives ``None`` for a layout without).
    """

    def __init__(self, layout: SpellerLayout):
        self.tokens = tuple(s for s in layout.symbols if s in WORD_CELL_SYMBOLS)
        if not self.tokens:
            raise NeurospellError("WordCells: the layout has no word cells; use WordCells.of(layout).")
        self.layout, self.symbols = layout, layout.symbols
        self.chars = tuple(s for s in layout.symbols if s not in WORD_CELL_SYMBOLS)
        self.char_index = np.array([i for i, s in enumerate(layout.symbols) if s not in WORD_CELL_SYMBOLS])
        self.words: tuple[str, ...] = ()
        self.logp: tuple[float, ...] = ()
        self._text: str | None = None
        #: ``(before, after)`` of the last word typed (a word cell or a completion) while it is
        #: the last thing typed: a backspace then takes the whole word back, not its last letter.
        self._undo: tuple[str, str] | None = None
        #: Whether the last :meth:`apply` took a word back.
        self.undid = False

    @classmethod
    def of(cls, layout: SpellerLayout) -> WordCells | None:
        """The word cells of ``layout``, ``None`` when it has none."""
        return cls(layout) if any(s in WORD_CELL_SYMBOLS for s in layout.symbols) else None

    @property
    def n_cells(self) -> int:
        return len(self.tokens)

    @property
    def shown(self) -> tuple[str, ...]:
        """The word of every cell, in cell order (``""``: empty)."""
        return self.words + ("",) * (self.n_cells - len(self.words))

    def refresh(self, lm, text: str) -> None:
        """Fill the cells with the completions of ``text`` (none without a language model)."""
        if self._text == text:
            return
        comps = complete_words(lm, text, self.n_cells) if lm is not None else ()
        self.words = tuple(c.text for c in comps)
        self.logp = tuple(float(c.score) for c in comps)
        self._text = text

    def word(self, symbol: str) -> str | None:
        """The word a cell shows (``""``: empty), ``None`` when ``symbol`` is not a word cell."""
        if symbol not in self.tokens:
            return None
        return self.shown[self.tokens.index(symbol)]

    def after(self, text: str, symbol: str) -> str:
        """The text that selecting ``symbol`` would give (nothing changes): a word cell types its
        word and a space; a backspace right after a word takes the whole word back (the text
        before it), else it deletes one character."""
        if symbol == BACKSPACE and self._undo is not None and self._undo[1] == text:
            return self._undo[0]
        return apply_shown(text, symbol, self.layout, self.shown)

    def apply(self, text: str, symbol: str) -> str:
        """The text after selecting ``symbol`` (a word cell, backspace or a character; :meth:`after`)."""
        new = self.after(text, symbol)
        self.undid = symbol == BACKSPACE and self._undo is not None and self._undo[1] == text
        self._undo = (text, new) if symbol in self.tokens and new != text else None
        return new

    def apply_completion(self, text: str, word: str) -> str:
        """The text after choosing the completion ``word`` directly (a key, a click): as a cell."""
        new = apply_word(text, word)
        self.undid, self._undo = False, (text, new)
        return new

    def update_beam(self, beam, evidence, decided) -> None:
        """Update a candidate beam over :attr:`chars` after the decision ``decided``
        (:class:`~neurospell.session.engine.SelectionDecided`): a character's evidence
        extends the candidates; a word cell, or a backspace taking a word back, restarts them
        from the decided text."""
        if self.word(decided.decision.symbol) is None and not self.undid:
            beam.update(np.asarray(getattr(evidence, "logp", evidence), dtype=np.float64)[self.char_index])
        else:
            beam.reset(decided.text)

    def prior(self, lm, text: str, *, backspace_p: float = 0.05) -> CharDistribution:
        """The prior over the whole layout (:func:`word_prior` with the words shown)."""
        return word_prior(lm, text, self.symbols, self.tokens, self.words, self.logp, backspace_p=backspace_p)


def word_prior(lm, text: str, alphabet: Sequence[str], tokens: Sequence[str], words: Sequence[str],
               word_logp: Sequence[float], *, backspace_p: float = 0.05) -> CharDistribution:
    """The LM prior of a layout with word cells (the rule in the module docstring).

    Parameters
    ----------
    lm : LanguageModel | None
        ``None``: uniform over every symbol.
    text : str
    alphabet : sequence of str
        The layout's symbols, word cells included.
    tokens : sequence of str
        The word-cell symbols, in cell order.
    words, word_logp : sequence
        The words shown (best first, at most one per cell) and their LM log-probabilities
        (of the remaining letters and the space, given ``text``).
    backspace_p : float

    Returns
    -------
    CharDistribution
    """
    alphabet = tuple(alphabet)
    if lm is None:
        return CharDistribution.uniform(alphabet)
    chars = tuple(s for s in alphabet if s not in tokens)
    base = lm_prior(lm, text, chars, backspace_p=backspace_p)
    p_char = dict(zip(chars, base.probs.tolist(), strict=True))
    scale = 1.0 - (base.probs[chars.index(BACKSPACE)] if BACKSPACE in chars else 0.0)
    prefix = text[text.rfind(" ") + 1:].upper()
    p_cell = {}
    for tok, w, lp in zip(tokens, words, word_logp, strict=False):
        q = scale * math.exp(lp)
        p_cell[tok] = q
        rest = (w[len(prefix):] if w.startswith(prefix) else None)
        first = (rest + " ")[0] if rest is not None else None
        if first in p_char:
            p_char[first] = max(p_char[first] - q, _LETTER_FLOOR)
    probs = np.array([p_cell.get(s, EMPTY_CELL_P) if s in tokens else p_char[s] for s in alphabet])
    return CharDistribution.from_scores(alphabet, np.log(probs))


def intended(phrase: str, typed: str, layout: SpellerLayout, words: Sequence[str]) -> str | None:
    """The symbol a person copying ``phrase`` selects next on ``layout`` whose word cells show
    ``words`` (:func:`neurospell.markers.intended_with_words`, the rule's one home)."""
    return intended_with_words(phrase, typed, layout.symbols, words)
