"""Text that leaves the speller: each change of the typed text, as a message to its sinks.

A person spelling writes *to someone*: the typed text goes out of the speller while it is
typed. :class:`TextOut` is the one place that turns the typed text, as a live session's worker
publishes it, into :class:`TextChange` s -- one per change, numbered, in order -- and hands each
to its sinks (:class:`TextSink`): the LSL text stream (:class:`LslTextSink`, the session side,
on the session's worker thread), and in the GUI the clipboard and key presses into the focused
window (:mod:`neurospell.gui.textout`, on the GUI thread, from the snapshots it receives).

**What a message carries: the whole text, not an edit.** Each change carries the complete
typed text after it (:attr:`TextChange.text`); the edit that led there (:attr:`TextChange.n_deleted`
characters removed from the end, then :attr:`TextChange.inserted` appended: :func:`text_edit`) is
derived from two consecutive texts, for sinks that type. Why: a consumer that joins late, misses
a message or reconnects has the whole text again with the next message -- nothing to replay, no
sequence to repair; a message can be applied twice without harm. The texts are short (a sentence
or a message: bytes to a few kB), so repeating them costs nothing. A consumer that wants edits
(a chat client typing into a field) computes them from the previous text it received, as
:func:`text_edit` does.

The typed text of a live session is that of its current spelling run: a new run (copy spelling
after calibration, free spelling after a copied phrase) starts from the empty text, which goes
out as a change to ``""``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from neurospell.acquisition.lsl_text import LslTextOutlet
from neurospell.check import NeurospellError
from neurospell.logs import logger

__all__ = ["TextChange", "TextSink", "TextOut", "LslTextSink", "open_lsl_text", "text_edit", "TEXT_OUT_SINKS"]

#: The sinks ``neurospell spell --text-out`` and the GUI know: ``lsl`` (the LSL text stream),
#: ``clipboard`` and ``keys`` (the GUI's: the system clipboard, key presses into the focused window).
TEXT_OUT_SINKS = ("lsl", "clipboard", "keys")


def text_edit(old: str, new: str) -> tuple[int, str]:
    """The edit from ``old`` to ``new``: characters to delete from the end of ``old``, then the
    text to append (the shortest: after their common prefix).

    >>> text_edit("HELLO", "HELP ")
    (2, 'P ')
    """
    common = len(os.path.commonprefix([old, new]))
    return len(old) - common, new[common:]


@dataclass(frozen=True)
class TextChange:
    """One change of the typed text.

    Attributes
    ----------
    seq : int
        1 for the first change a :class:`TextOut` sends, then 2, 3, ...
    text : str
        The whole typed text after the change.
    previous : str
        The text before it.
    n_deleted : int
        Characters removed from the end of ``previous`` ...
    inserted : str
        ... and then appended, giving ``text``.
    t : float | None
        When it changed (LSL clock, seconds), where the caller knows.
    new_run : bool
        A new text began (a new spelling run): ``previous`` is finished, not deleted
        (``n_deleted`` is 0 and ``inserted`` the whole ``text``; a sink that types does not
        erase what it typed before).
    """

    seq: int
    text: str
    previous: str
    n_deleted: int
    inserted: str
    t: float | None = None
    new_run: bool = False


@runtime_checkable
class TextSink(Protocol):
    """Where changes of the typed text go (the LSL text stream, the clipboard, key presses)."""

    #: A short name for messages (``"lsl"``, ``"clipboard"``, ``"keys"``).
    name: str

    def send(self, change: TextChange) -> None:
        """Take one change (called in order, once per change). Raise :class:`NeurospellError`
        with a message for the person when the platform refuses (the sink is then dropped)."""


class TextOut:
    """Turns the typed text into one :class:`TextChange` per change, sent to every sink.

    A sink that raises is dropped (the session goes on): its problem is logged once and kept in
    :attr:`problems`, for a status line. A sink with a ``refresh(text)`` method is also called
    when the text did not change (:meth:`update`), so that it can repeat the current text to a
    consumer that just connected.

    Parameters
    ----------
    sinks : sequence of TextSink
    text : str
        The text before the first change (default empty).

    Attributes
    ----------
    text : str
        The current text.
    n_changes : int
        Changes sent so far.
    problems : list of str
        ``"<sink>: <why>"`` for each sink dropped.
    """

    def __init__(self, sinks=(), text: str = ""):
        self.sinks = list(sinks)
        for sink in self.sinks:
            if not callable(getattr(sink, "send", None)):
                raise NeurospellError(f"sinks: {sink!r} has no send(change) method; a text sink needs one "
                                      "(neurospell.session.textout.TextSink).")
        self.text = str(text)
        self.n_changes = 0
        self.problems: list[str] = []
        self._run = None

    def update(self, text: str, t: float | None = None, *, run=None) -> TextChange | None:
        """The typed text is now ``text``: send a change when it differs; the change (or ``None``).

        ``run``: a key of the text's run (e.g. the id of the session's engine); a key that differs
        from the last one given marks the change as a new text (:attr:`TextChange.new_run`).
        """
        new_run = run is not None and self._run is not None and run != self._run
        if run is not None:
            self._run = run
        if text == self.text:
            for sink in list(self.sinks):
                refresh = getattr(sink, "refresh", None)
                if refresh is not None:
                    self._call(sink, refresh, text)
            return None
        n_deleted, inserted = (0, text) if new_run else text_edit(self.text, text)
        self.n_changes += 1
        change = TextChange(self.n_changes, text, self.text, n_deleted, inserted, t, new_run)
        self.text = text
        for sink in list(self.sinks):
            self._call(sink, sink.send, change)
        return change

    def _call(self, sink, method, arg) -> None:
        try:
            method(arg)
        except Exception as err:  # noqa: BLE001 - a sink never stops the session; said in problems
            name = getattr(sink, "name", type(sink).__name__)
            why = str(err) if isinstance(err, NeurospellError) else f"{type(err).__name__}: {err}"
            self.problems.append(f"{name}: {why}")
            logger.warning("text out: %s stopped: %s", name, why)
            self.sinks.remove(sink)

    def close(self) -> None:
        """Close the sinks that have a ``close()`` (each once)."""
        sinks, self.sinks = self.sinks, []
        for sink in sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as err:  # noqa: BLE001 - closing is best effort
                    logger.info("text out: closing %s: %s", getattr(sink, "name", sink), err)


class LslTextSink:
    """The typed text on an LSL string stream: one sample per change, the whole text.

    The stream (:class:`~neurospell.acquisition.lsl_text.LslTextOutlet`): one ``string``
    channel ``text``, irregular rate, type ``"Text"``, default name ``"neurospell-text"``;
    each sample is the whole typed text after a change, its timestamp when it changed. LSL
    gives a consumer only the samples pushed after it connected: when the stream had no
    consumer and one connects, the current text is pushed once more (:meth:`refresh`), so a
    consumer started after the speller has the text at once; a consumer may therefore see the
    same text twice in a row (messages are the text's state: apply each as "the text is now").

    Parameters
    ----------
    outlet : LslTextOutlet
    owns_outlet : bool
        :meth:`close` closes the outlet (else its creator does).
    """

    name = "lsl"

    def __init__(self, outlet, *, owns_outlet: bool = False):
        self.outlet = outlet
        self.owns_outlet = owns_outlet
        self._text = ""
        self._had_consumers = False

    def send(self, change: TextChange) -> None:
        self.outlet.push(change.text, change.t)
        self._text = change.text
        self._had_consumers = self.outlet.have_consumers()

    def refresh(self, text: str) -> None:
        """Push ``text`` again when a first consumer has connected since the last push."""
        has = self.outlet.have_consumers()
        if has and not self._had_consumers and text:
            self.outlet.push(text)
        self._had_consumers = has

    def close(self) -> None:
        if self.owns_outlet:
            self.outlet.close()


def open_lsl_text(name: str = "neurospell-text") -> LslTextSink:
    """An :class:`LslTextSink` on a new text stream ``name`` (closed with the sink)."""
    return LslTextSink(LslTextOutlet(name), owns_outlet=True)
