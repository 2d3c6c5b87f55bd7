"""The participant's screen: the flashing grid and what the person spelling needs, nothing else.

:class:`ParticipantView` is a window of its own, shown full screen on the participant's
monitor, apart from the operator's window (scope, workflow, training report, session folder).
Nothing on it moves but the flashes: the speller grid, the typed text large, the words to
choose (the language model's completions of the snapshot: the grid's "»" cell types the first),
the copy target with its next letter marked, and the state in plain words (spelling, paused,
how to pause). Its labels change only when a snapshot changes what they say.

Screens (:func:`choose_screen`, ``neurospell gui --participant-screen``):

* two monitors or more: the participant's view fills the first one that is not the operator
  window's (``auto``) or the one named by number, from the start;
* one monitor: the view fills it when a session starts, in front of the operator's window;
  F12 (:data:`SWITCH_WINDOWS_KEY`) brings the other window to the front, either way;
* ``off``: one window, as before (the grid beside the scope).

The view computes nothing of the session: it reads the snapshots the window's controller
delivers (:class:`~neurospell.session.live.LiveSnapshot`); the copy rule is
:func:`neurospell.markers.intended_symbol`.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.markers import BACKSPACE, intended_symbol

from .theme import Theme, current_theme

__all__ = ["ParticipantView", "ParticipantScreen", "choose_screen", "parse_screen_setting", "state_in_words", "SWITCH_WINDOWS_KEY",
           "MAX_WORDS"]

#: The key that brings the other window (participant's or operator's) to the front.
SWITCH_WINDOWS_KEY = "F12"

#: The most words shown to choose from.
MAX_WORDS = 6

#: How the special symbols are named for the participant.
_NAMES = {" ": "space", BACKSPACE: "delete (⌫)", "»": "the first word"}


def parse_screen_setting(value, name: str = "participant_screen") -> str | int:
    """``"auto"``, ``"off"`` or a screen number (1 = the first screen Qt lists); ``name`` is
    the setting's name in the error.

    Raises
    ------
    NeurospellError
        Naming the setting, what is allowed and what was passed.
    """
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("auto", "off"):
            return v
        if v.isdigit():
            value = int(v)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise NeurospellError(
        f"{name} must be 'auto', 'off' or a screen number (1, 2, ...), got {value!r}; "
        "'auto' puts the participant's view on a second monitor when there is one.")


def describe_screens(screens) -> str:
    """``"1: name 1920x1080 at 0,0; 2: ..."`` for a list of ``QScreen``."""
    return "; ".join(f"{i}: {s.name() or 'unnamed'} {s.geometry().width()}x{s.geometry().height()} "
                     f"at {s.geometry().x()},{s.geometry().y()}" for i, s in enumerate(screens, 1))


def choose_screen(setting, screens, operator_screen=None):
    """The ``QScreen`` for the participant's view, or ``None`` for one window (``"off"``).

    Parameters
    ----------
    setting : ``"auto"`` | ``"off"`` | int
        ``"auto"``: the first screen that is not ``operator_screen`` (the operator's window's),
        or the only one; a number: that screen (1-based, in Qt's order).
    screens : sequence of QScreen
    operator_screen : QScreen | None
        Default: the first of ``screens`` (the primary screen comes first).

    Raises
    ------
    NeurospellError
        A screen number that this machine does not have (the screens are listed).
    """
    setting = parse_screen_setting(setting)
    screens = list(screens)
    if setting == "off" or not screens:
        return None
    if setting == "auto":
        operator_screen = operator_screen or screens[0]
        return next((s for s in screens if s is not operator_screen), screens[0])
    if setting > len(screens):
        raise NeurospellError(
            f"participant_screen {setting}: this display has {len(screens)} screen(s) ({describe_screens(screens)}); "
            "give one of their numbers, 'auto' or 'off'.")
    return screens[setting - 1]


def state_in_words(snap, *, single_switch: bool = False, switch_key: str = "F8") -> tuple[str, str]:
    """What the session is doing, for the participant, and how to pause or resume.

    Parameters
    ----------
    snap : LiveSnapshot | None
        ``None``: no session yet.
    single_switch, switch_key : bool, str
        Single-switch mode: the switch pauses (else Escape).

    Returns
    -------
    state, hint : str
    """
    pause = f"To pause: press the switch ({switch_key})." if single_switch else "To pause: press Escape."
    if snap is None:
        return "Waiting: the operator is preparing the session.", ""
    phase = snap.phase
    if not snap.source_ok:
        return "Paused: the signal is lost. It goes on by itself when the signal is back.", ""
    if phase == "calibration":
        return "Calibration: look at the letter outlined in green and count its flashes.", pause
    if phase == "training":
        return "Training: rest a moment, spelling starts soon.", ""
    if phase == "copy":
        return "Copy spelling: find the next letter (green, above) on the grid and count its flashes.", pause
    if phase == "free":
        return "Spelling: look at the letter or word you want and count its flashes.", pause
    if phase == "paused":
        resume = (f"Press the switch ({switch_key}) to scan the grid; its last step resumes."
                  if single_switch else "Press F5 to resume.")
        return "Paused.", resume
    if phase == "stopped":
        return "Finished.", ""
    if phase == "error":
        return "Stopped: something went wrong. The operator has the details.", ""
    return "Starting: the session begins in a moment.", ""


class ParticipantView(QtWidgets.QWidget):
    """The participant's window: target, typed text, words, grid, state (see the module docstring).

    Parameters
    ----------
    grid : SpellerGrid
        The session's display; the view holds it (it flashes here).
    theme : Theme | None
    parent : QWidget | None
        ``None``: a top-level window (so that the operator's window can come in front of it).
    owner : QWidget | None
        The operator's window (its ``settings``); closing the view closes it (and the speller).

    Attributes
    ----------
    target_label, text_label, words_label, state_label, hint_label : QLabel
    next_symbol : str | None
        The symbol marked as next in the target (``"<"``: delete a mistake), or ``None``.
    words : tuple of str
        The words shown to choose from.
    """

    def __init__(self, grid: QtWidgets.QWidget, theme: Theme | None = None, parent: QtWidgets.QWidget | None = None,
                 *, owner: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._owner = owner
        self._theme = theme or current_theme()
        self.grid = grid
        self.next_symbol: str | None = None
        self.words: tuple[str, ...] = ()
        self._words_for: str | None = None
        self.setWindowTitle("neurospell: participant")
        self.setAccessibleName("Participant's screen")
        self.setAccessibleDescription("The speller grid, the typed text, the words to choose and the state.")
        self.setAutoFillBackground(True)

        def label(name, description, scale, bold=False):
            w = QtWidgets.QLabel("")
            w.setObjectName(name.lower().replace(" ", "_").replace("'", ""))
            w.setAccessibleName(name)
            w.setAccessibleDescription(description)
            w.setWordWrap(True)
            font = QtGui.QFont(self.font())
            font.setPointSizeF(max(10.0, QtWidgets.QApplication.font().pointSizeF() * scale))
            font.setBold(bold)
            w.setFont(font)
            return w

        self.target_label = label("Text to copy", "The phrase to copy; the next letter is marked.", 2.4)
        self.target_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.text_label = label("Typed text", "The text spelled so far.", 4.0, bold=True)
        self.text_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.text_label.setMinimumHeight(QtGui.QFontMetrics(self.text_label.font()).height() + 8)
        self.words_label = label("Words to choose", "Completions of the word being typed; the grid's » cell "
                                 "types the first.", 2.4, bold=True)
        self.words_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.state_label = label("State", "What the speller is doing.", 1.8)
        self.hint_label = label("How to pause", "How to pause or resume.", 1.4)
        self.hint_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.state_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(24, 16, 24, 16)
        lay.setSpacing(8)
        lay.addWidget(self.target_label)
        lay.addWidget(self.text_label)
        lay.addWidget(self.words_label)
        lay.addWidget(grid, 1)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.state_label, 3)
        bottom.addWidget(self.hint_label, 2)
        lay.addLayout(bottom)
        self.set_theme(self._theme)
        self.set_text("")
        self.set_target(None)
        self.set_words(())
        self.set_state(*state_in_words(None))

    # -- look ---------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        """Use ``theme``'s colours (the grid has its own :meth:`set_theme`)."""
        self._theme = theme
        pal = self.palette()
        pal.setColor(QtGui.QPalette.ColorRole.Window, theme.qcolor("window"))
        pal.setColor(QtGui.QPalette.ColorRole.WindowText, theme.qcolor("text"))
        self.setPalette(pal)
        self._target_shown, self.words = None, ()  # (redrawn in the new colours)

    # -- what is shown --------------------------------------------------------------------------
    def set_text(self, text: str) -> None:
        """The typed text, large, with a cursor mark (a final space made visible)."""
        shown = (text if not text.endswith(" ") else text[:-1] + "␣") + "▏"
        if shown != self.text_label.text():
            self.text_label.setText(shown)
            self.text_label.setAccessibleDescription(f"Typed text: {text!r}" if text else "Nothing typed yet.")

    def set_target(self, target: str | None, index: int | None = None, next_symbol: str | None = None,
                   *, what: str = "Copy") -> None:
        """The target text with the character at ``index`` marked, and the next symbol in words.

        Parameters
        ----------
        target : str | None
            ``None`` hides the target.
        index : int | None
            The position of the next character in ``target`` (``None``: none marked).
        next_symbol : str | None
            The symbol to select next (``"<"``: delete a mistake first).
        what : str
            ``"Copy"`` or ``"Calibration"``.
        """
        key = (target, index, next_symbol, what)
        if key == getattr(self, "_target_shown", None):
            return
        self._target_shown = key
        self.next_symbol = next_symbol if target else None
        if not target:
            self.target_label.setText("")
            self.target_label.setVisible(False)
            return
        th = self._theme
        if index is None or not 0 <= index < len(target):
            body = f'<span style="color:{th.cell_text}">{html.escape(target)}</span>'
        else:
            ch = target[index]
            mark = "␣" if ch == " " else html.escape(ch)
            body = (f'<span style="color:{th.cell_text}">{html.escape(target[:index])}</span>'
                    f'<span style="color:{th.ok}; text-decoration:underline"><b>{mark}</b></span>'
                    f'<span style="color:{th.text}">{html.escape(target[index + 1:])}</span>')
        if next_symbol is None:
            nxt = ""
        elif next_symbol == BACKSPACE and BACKSPACE in self.grid.speller_layout.symbols:
            nxt = f'next: <b style="color:{th.ok}">⌫</b> (delete the mistake)'
        elif next_symbol == BACKSPACE:
            nxt = "a mistake (this grid has no ⌫: Ctrl+Z undoes it)"
        else:
            nxt = f'next: <b style="color:{th.ok}">{html.escape(_NAMES.get(next_symbol, next_symbol))}</b>'
        self.target_label.setText(f"{what}: {body}" + (f"&nbsp;&nbsp;&nbsp;&nbsp;{nxt}" if nxt else ""))
        self.target_label.setAccessibleDescription(
            f"{what}: {target}. " + (f"Next: {_NAMES.get(next_symbol, next_symbol)}." if next_symbol else ""))
        self.target_label.setVisible(True)

    def set_words(self, words) -> None:
        """The words to choose (the first, marked », is the grid's » cell)."""
        words = tuple(words)[:MAX_WORDS]
        if words == self.words and self.words_label.text():
            return
        self.words = words
        if not words:
            self.words_label.setText("&nbsp;")  # (keeps its height: the grid does not jump)
            self.words_label.setAccessibleDescription("No words to choose.")
            return
        th = self._theme
        cells = [f'<span style="color:{th.text}">{"» " if i == 0 else ""}{html.escape(w)}</span>'
                 for i, w in enumerate(words)]
        self.words_label.setText("&nbsp;&nbsp;&nbsp;&nbsp;".join(cells))
        self.words_label.setAccessibleDescription("Words to choose: " + ", ".join(words))

    def set_state(self, state: str, hint: str = "") -> None:
        if state != self.state_label.text():
            self.state_label.setText(state)
        if hint != self.hint_label.text():
            self.hint_label.setText(hint)

    def show_snapshot(self, snap, *, single_switch: bool = False, switch_key: str = "F8") -> None:
        """Show a :class:`~neurospell.session.live.LiveSnapshot` (``None``: no session)."""
        self.set_state(*state_in_words(snap, single_switch=single_switch, switch_key=switch_key))
        if snap is None:
            return
        eng = snap.engine
        text = eng.text if eng is not None else snap.text
        self.set_text(text)
        phase, target = snap.phase, snap.target_text
        if phase == "calibration" and target:
            i = min(len(target) - 1, max(0, round((snap.progress or 0.0) * len(target))))
            self.set_target(target, i, snap.cue or target[i], what="Calibration")
        elif phase in ("copy", "paused") and target and eng is not None:
            nxt = intended_symbol(target, text)
            at = len(text) if nxt is not None and nxt != BACKSPACE else None
            self.set_target(target, at, nxt, what="Copy")
        elif phase in ("stopped", "error") and target and eng is not None:
            self.set_target(target, None, None, what="Copy")  # (nothing more to select)
        elif phase not in ("paused", "stopped", "error"):
            self.set_target(None)
        if eng is not None and (len(eng.completions) or text != self._words_for):
            # (the session computes completions only when the text changes: a snapshot without
            # them keeps the words shown for the same text)
            self._words_for = text
            seen: list[str] = []
            for c in eng.completions:
                w = c.text.strip()
                if w and " " not in w and w not in seen:
                    seen.append(w)
            self.set_words(seen)
        if phase in ("calibration", "training", "stopped", "error"):  # (no words to choose then)
            self.set_words(())

    # -- screens ------------------------------------------------------------------------------
    #: Set when the operator's window closes the view (else closing the view closes the window).
    owner_closing = False

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self._owner is not None and not self.owner_closing:
            # The participant's window closed (Alt+F4, its close button): the speller closes as
            # with the operator's close button (the grid can not flash unseen).
            event.ignore()
            QtCore.QTimer.singleShot(0, self._owner.close)
            return
        super().closeEvent(event)

    @property
    def settings(self):
        """The operator window's settings (``None`` without one)."""
        return getattr(self._owner, "settings", None)

    def show_on(self, screen: QtGui.QScreen | None, *, full_screen: bool = True) -> None:
        """Show the view on ``screen`` (full screen), in front, with the keyboard focus on the grid."""
        if screen is not None:
            self.winId()  # (a native window to move)
            handle = self.windowHandle()
            if handle is not None and handle.screen() is not screen:
                handle.setScreen(screen)
            self.setGeometry(screen.geometry())
        if full_screen:
            self.showFullScreen()
        else:
            self.show()
        self.raise_()
        self.activateWindow()


class _EitherWindow(QtCore.QObject):
    """The operator's window for :class:`~neurospell.gui.keys.SwitchKeyFilter`, active when
    either window is: the single switch works wherever the keyboard focus is."""

    def __init__(self, window: QtWidgets.QWidget, view: QtWidgets.QWidget):
        super().__init__(window)
        self._window, self._view = window, view

    @property
    def settings(self):
        return self._window.settings

    def isActiveWindow(self) -> bool:  # noqa: N802 (as QWidget's)
        return self._window.isActiveWindow() or self._view.isActiveWindow()


class ParticipantScreen(QtCore.QObject):
    """The operator window's side of the participant's view: where it is shown, the keys.

    Parameters
    ----------
    window : SpellerWindow
        Its ``grid`` goes into the view; its shortcuts work in the view too (F5, Escape, ...).
    screen : QScreen
        The participant's screen (:func:`choose_screen`).

    Attributes
    ----------
    view : ParticipantView
    shared : bool
        One monitor: the view and the operator's window share ``screen`` (the view comes in
        front when a session starts; F12 switches).
    placeholder : QLabel
        What the operator's window shows where the grid was.
    either : QObject
        For the single-switch filter: active when either window is.
    """

    def __init__(self, window: QtWidgets.QWidget, screen: QtGui.QScreen):
        super().__init__(window)
        self._window = window
        self.screen = screen
        self.shared = screen is (window.screen() or QtGui.QGuiApplication.primaryScreen())
        self.view = ParticipantView(window.grid, window.theme, owner=window)
        where = (f"this screen, in front of this window ({SWITCH_WINDOWS_KEY} switches between them)" if self.shared
                 else f"screen {screen.name() or '2'}, full screen ({SWITCH_WINDOWS_KEY} brings it to the front)")
        self.placeholder = QtWidgets.QLabel(
            f"The speller grid is on the participant's screen: {where}. Its view shows the typed text large, "
            "the words to choose, the copy target and the state; nothing moves there but the flashes.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAccessibleName("Participant's screen")
        self.placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.either = _EitherWindow(window, self.view)

    def add_shortcuts(self) -> None:
        """The window's shortcuts in the view too, and F12 to switch windows (call after the
        window made its actions)."""
        act = QtGui.QAction("Switch between the participant's and the operator's window", self._window)
        act.setShortcut(QtGui.QKeySequence(SWITCH_WINDOWS_KEY))
        act.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(self.switch_windows)
        self._window.addAction(act)
        self.view.addActions(self._window.actions())

    def show(self) -> None:
        """Show the view full screen on its screen, in front."""
        self.view.show_on(self.screen)

    def show_if_own_screen(self) -> None:
        """Two monitors: show the view at once (one monitor: when a session starts)."""
        if not self.shared:
            self.show()

    def switch_windows(self) -> None:
        """Bring the other window to the front (and give it the keyboard)."""
        if self.view.isVisible() and self.view.isActiveWindow():
            self._window.raise_()
            self._window.activateWindow()
        else:
            self.show()

    def show_snapshot(self, snap) -> None:
        """Show ``snap`` in the view, in the window's theme, with its switch settings."""
        win = self._window
        if self.view._theme is not win.theme:
            self.view.set_theme(win.theme)
        self.view.show_snapshot(snap, single_switch=win.settings.single_switch, switch_key=win.settings.switch_key)
        if self.shared and snap is not None and snap.phase in ("stopped", "error"):  # (one monitor: the way back)
            self.view.set_state(self.view.state_label.text(), f"{SWITCH_WINDOWS_KEY}: the operator's window.")

    def save_screenshot(self, path) -> Path:
        """Write the participant's view as shown to ``path`` (PNG)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.view.grab().save(str(path)):
            raise NeurospellError(f"Could not write the screenshot {str(path)!r}; check the folder and the extension.")
        return path

    def close(self) -> None:
        self.view.owner_closing = True
        self.view.close()
