"""The figures of a run of selections, one type for every path.

A decoded recording (:class:`~neurospell.session.spelling.SpellingResult`), a simulated
copy-spelling condition (:class:`~neurospell.session.copyspell.CopySpellResult`) and a live
session (:class:`~neurospell.session.live.results.LiveResult`) each count their selections,
flashes, time and hits; :class:`SpellingStats` turns the counts into the figures, with one
name and one formula each.

**Undefined figures are** ``None``: an accuracy without any intended symbol, a rate without
spelling time, flashes per character without a selection, an ITR without an accuracy or a
rate. Never NaN and never 0 (a 0 would read as a measured figure); ``None`` is ``null`` in a
JSON summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SpellingStats", "SpellingFigures", "itr_bits"]


def itr_bits(n_symbols: int, accuracy: float) -> float:
    """Wolpaw information transfer per selection, bits.

    ``B = log2 N + P log2 P + (1 - P) log2((1 - P) / (N - 1))``; 0 at or below chance.
    """
    n, p = int(n_symbols), float(accuracy)
    if n < 2 or p <= 1.0 / n:
        return 0.0
    if p >= 1.0:
        return math.log2(n)
    return math.log2(n) + p * math.log2(p) + (1 - p) * math.log2((1 - p) / (n - 1))


@dataclass(frozen=True)
class SpellingStats:
    """Counts of a run of selections and the figures made of them.

    Parameters
    ----------
    n_selections : int
        Selections made.
    n_flashes : int
        Flashes of those selections, in all.
    seconds : float
        Spelling time (flashes x SOA + pauses, or the measured time of a live session).
    n_symbols : int
        Symbols on the grid (for the ITR).
    n_correct : int | None
        Selections equal to the intended symbol (``None``: nothing was intended).
    n_judged : int | None
        What the accuracy is out of: the intended symbols (``None``: none).
    """

    n_selections: int
    n_flashes: int
    seconds: float
    n_symbols: int
    n_correct: int | None = None
    n_judged: int | None = None

    @property
    def accuracy(self) -> float | None:
        """``n_correct / n_judged``; ``None`` without an intended symbol."""
        if not self.n_judged or self.n_correct is None:
            return None
        return self.n_correct / self.n_judged

    @property
    def chars_per_minute(self) -> float | None:
        """Selections per minute of spelling time; ``None`` without spelling time."""
        return 60.0 * self.n_selections / self.seconds if self.seconds > 0 else None

    @property
    def flashes_per_char(self) -> float | None:
        """Mean flashes per selection; ``None`` without a selection."""
        return self.n_flashes / self.n_selections if self.n_selections else None

    @property
    def itr(self) -> float | None:
        """Wolpaw information transfer rate, bits per minute (:func:`itr_bits` x
        :attr:`chars_per_minute`); ``None`` without an accuracy or a rate."""
        acc, rate = self.accuracy, self.chars_per_minute
        if acc is None or rate is None:
            return None
        return itr_bits(self.n_symbols, acc) * rate


class SpellingFigures:
    """The figures every result type reads from its :attr:`stats` (a mixin: one definition of
    each for :class:`~neurospell.session.spelling.SpellingResult`,
    :class:`~neurospell.session.copyspell.CopySpellResult` and
    :class:`~neurospell.session.live.results.LiveResult`; undefined: ``None``)."""

    stats: SpellingStats

    @property
    def accuracy(self) -> float | None:
        """Fraction of the judged selections that chose the intended symbol."""
        return self.stats.accuracy

    @property
    def chars_per_minute(self) -> float | None:
        """Selections per minute of spelling."""
        return self.stats.chars_per_minute

    @property
    def flashes_per_char(self) -> float | None:
        """Mean flashes per selection."""
        return self.stats.flashes_per_char

    @property
    def itr(self) -> float | None:
        """Wolpaw information transfer rate, bits per minute."""
        return self.stats.itr
