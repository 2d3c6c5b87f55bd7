"""What the window says: screen-reader announcements and spoken words.

Each typed character is announced with a ``QAccessibleAnnouncementEvent`` (Qt >= 6.8: the
platform's accessibility bridge -- AT-SPI on Linux, UIA on Windows, NSAccessibility on macOS --
speaks it politely, without moving the focus); the announcements made are also kept in
:attr:`Announcer.announcements`. With *Speak each finished word* on, a speech engine reads each
finished word aloud.
"""

from __future__ import annotations

import os

from PySide6 import QtCore, QtGui, QtWidgets

from .panels import spoken_symbol
from .speech import Speech, open_speech

__all__ = ["Announcer"]


class Announcer(QtCore.QObject):
    """Announces text changes and other events to a screen reader; speaks finished words.

    Signals
    -------
    speechProblem(str)
        From the speech thread: no sound output (the window shows it).

    Parameters
    ----------
    source : QtWidgets.QWidget
        The widget the announcements come from (the typed text).
    """

    speechProblem = QtCore.Signal(str)

    def __init__(self, source: QtWidgets.QWidget, parent=None):
        super().__init__(parent)
        self.source = source
        self.announcements: list[str] = []
        self.speech: Speech | None = None
        self.text = ""  # the text announced so far

    def announce(self, text: str) -> None:
        """Tell a screen reader ``text`` (a polite announcement)."""
        self.announcements.append(text)
        event = QtGui.QAccessibleAnnouncementEvent(self.source, text)
        QtGui.QAccessible.updateAccessibility(event)

    def text_changed(self, new: str, *, announce: bool = True) -> None:
        """The typed text is now ``new``: announce what was deleted and typed (``announce``),
        and speak the word just finished."""
        old, self.text = self.text, new
        if announce:
            common = len(os.path.commonprefix([old, new]))
            removed = old[common:]
            if removed:
                self.announce("deleted " + " ".join(spoken_symbol(c) for c in removed))
            for ch in new[common:]:
                self.announce(spoken_symbol(ch))
        if self.speech is not None and new.endswith(" ") and len(new) > len(old) and new.strip():
            self.speech.say(new.split()[-1])

    def set_speech(self, on: bool) -> str | None:
        """Open or close the speech engine; the problem (no engine found) is returned."""
        if on and self.speech is None:
            self.speech = open_speech(on_problem=self.speechProblem.emit)
            if not self.speech.available:
                return self.speech.problem
        elif not on and self.speech is not None:
            self.speech.close()
            self.speech = None
        return None

    def close(self) -> None:
        if self.speech is not None:
            self.speech.close()
