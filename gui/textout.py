"""Text out of the window: the system clipboard, key presses into the focused window, the LSL stream.

Three sinks of :mod:`neurospell.session.textout` (each change of the typed text, in order):

* :class:`ClipboardSink` -- the whole typed text to the system clipboard (``QClipboard``, on
  the GUI thread, from the immutable snapshots the window receives);
* :class:`X11Keys` -- the edit as key presses into the window that has the keyboard focus,
  through the X server's XTEST extension (python-xlib; also usable without Qt, as
  ``neurospell spell --text-out keys`` does). It works on X11 only: a Wayland session does
  not let an application type into other applications' windows (XTEST reaches X11 windows
  under Xwayland at most, so it is refused there), and macOS and Windows are not supported
  (:func:`key_typing_problem` says so; use the LSL text stream or the clipboard there);
* the LSL text stream (:class:`~neurospell.session.textout.LslTextSink`): it runs on the
  session's worker thread; :class:`GuiTextOut` opens the outlet and hands each new session a
  :class:`~neurospell.session.textout.TextOut` with it.

:class:`GuiTextOut` holds them for the window (the Settings tab's *Text out* toggles).
"""

from __future__ import annotations

import os
import sys

from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.session.textout import TextChange, TextOut, open_lsl_text, text_edit

__all__ = ["ClipboardSink", "X11Keys", "key_typing_problem", "GuiTextOut"]


class ClipboardSink:
    """The whole typed text to the system clipboard at each change (GUI thread only)."""

    name = "clipboard"

    def __init__(self):
        app = QtWidgets.QApplication.instance()
        if app is None:
            raise NeurospellError("The clipboard needs the Qt application: it is the GUI's (`neurospell gui`); "
                                  "headless, use --text-out lsl or keys.")
        self.clipboard = QtGui.QGuiApplication.clipboard()

    def send(self, change: TextChange) -> None:
        self.clipboard.setText(change.text)


def key_typing_problem(env=None, platform: str | None = None) -> str | None:
    """Why key presses cannot be typed into other windows here, or ``None`` when they can
    (an X11 display and python-xlib; the XTEST extension is checked when :class:`X11Keys` opens)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    alternative = " Use the LSL text stream (`--text-out lsl`; Settings: Send the text on LSL) or the window's clipboard instead."
    if platform == "darwin":
        return "Typing into other windows is not supported on macOS (it works on X11, Linux)." + alternative
    if platform.startswith("win"):
        return "Typing into other windows is not supported on Windows (it works on X11, Linux)." + alternative
    if env.get("XDG_SESSION_TYPE", "").lower() == "wayland" or (env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY")):
        return ("This is a Wayland session: Wayland does not let an application type into other applications' "
                "windows (key presses work in an X11 session)." + alternative)
    if not env.get("DISPLAY"):
        return "No X display ($DISPLAY is not set): key presses need an X11 session." + alternative
    try:
        import Xlib  # noqa: F401
    except ImportError:
        return "Typing into other windows needs python-xlib: pip install python-xlib." + alternative
    return None


class X11Keys:
    """Type each change into the window with the keyboard focus (X11, the XTEST extension).

    The edit typed is from the text this sink typed (:attr:`typed`) to the new text: BackSpace
    presses for the characters removed, then the characters added (a symbol not on the
    keyboard map is left out and logged). A new run's text (:attr:`TextChange.new_run`)
    starts a new text: nothing typed before is erased.

    Parameters
    ----------
    display : str | None
        The X display (default ``$DISPLAY``).

    Raises
    ------
    NeurospellError
        When the platform refuses (:func:`key_typing_problem`), the display cannot be opened or
        it lacks XTEST; the message says what to use instead.
    """

    name = "keys"

    def __init__(self, display: str | None = None):
        env = dict(os.environ)
        if display is not None:
            env["DISPLAY"] = display
        problem = key_typing_problem(env)
        if problem is not None:
            raise NeurospellError(problem)
        from Xlib import XK, X
        from Xlib import display as xdisplay
        from Xlib import error as xerror
        from Xlib.ext import xtest

        self._X, self._XK, self._xtest = X, XK, xtest
        try:
            self.display = xdisplay.Display(env["DISPLAY"])
        except (xerror.DisplayError, OSError) as err:
            raise NeurospellError(f"Cannot open the X display {env['DISPLAY']!r} to type keys: {err}. Check "
                                  "$DISPLAY (and its Xauthority), or use the LSL text stream or the clipboard.") from None
        if not self.display.has_extension("XTEST"):
            self.display.close()
            raise NeurospellError(f"The X server of {env['DISPLAY']!r} lacks the XTEST extension, needed to type "
                                  "keys; use the LSL text stream or the clipboard.")
        self._shift = self.display.keysym_to_keycode(XK.string_to_keysym("Shift_L"))
        self._backspace = self.display.keysym_to_keycode(XK.string_to_keysym("BackSpace"))
        self.typed = ""
        self.skipped: list[str] = []

    def _key(self, keycode: int, shift: bool) -> None:
        X, fake = self._X, self._xtest.fake_input
        if shift:
            fake(self.display, X.KeyPress, self._shift)
        fake(self.display, X.KeyPress, keycode)
        fake(self.display, X.KeyRelease, keycode)
        if shift:
            fake(self.display, X.KeyRelease, self._shift)

    def _char(self, ch: str) -> bool:
        keysym = ord(ch) if ord(ch) < 0x100 else 0x01000000 | ord(ch)  # X keysyms of Latin-1 and Unicode
        keycode = self.display.keysym_to_keycode(keysym)
        if not keycode:
            return False
        self._key(keycode, self.display.keycode_to_keysym(keycode, 0) != keysym)
        return True

    def send(self, change: TextChange) -> None:
        before = "" if change.new_run else self.typed
        n_deleted, inserted = text_edit(before, change.text)
        for _ in range(n_deleted):
            self._key(self._backspace, False)
        for ch in inserted:
            if not self._char(ch):
                self.skipped.append(ch)
                logger.warning("text out: %r is not on the X keyboard map; not typed.", ch)
        self.display.sync()
        self.typed = change.text

    def close(self) -> None:
        display, self.display = self.display, None
        if display is not None:
            display.close()


class _FocusGuard:
    """Keys from the window: typed only while none of this application's windows has the focus
    (they would land in the speller itself); the edits wait for the next change meanwhile."""

    name = "keys"

    def __init__(self, keys: X11Keys, on_skip):
        self.keys, self.on_skip = keys, on_skip

    def send(self, change: TextChange) -> None:
        if QtWidgets.QApplication.activeWindow() is not None:
            if change.new_run:
                self.keys.typed = ""
            self.on_skip()
            return
        self.keys.send(change)

    def close(self) -> None:
        self.keys.close()


class GuiTextOut(QtCore.QObject):
    """The window's text out: clipboard and keys from the snapshots, the LSL stream from the session.

    Signals
    -------
    problem(str)
        What a sink could not do (the platform refused; the speller had the focus): for the
        status line.

    Parameters
    ----------
    controller : SessionController
        Its ``snapshotChanged(prev, snap)`` brings the typed text.
    """

    problem = QtCore.Signal(str)

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.out = TextOut()
        self.lsl = None  # the LSL sink (its outlet), opened once turned on
        self._lsl_on = False
        self._told_focus = False
        self._phase = None
        controller.snapshotChanged.connect(self._snapshot)

    def configure(self, *, lsl: bool, clipboard: bool, keys: bool) -> dict[str, str]:
        """Turn the sinks on or off; ``{sink: why}`` for those that could not be turned on
        (``"lsl"``, ``"clipboard"``, ``"keys"``; empty when all went well)."""
        problems = {}
        have = {getattr(s, "name", "") for s in self.out.sinks}
        for name, on in (("clipboard", clipboard), ("keys", keys)):
            if on and name not in have:
                try:
                    sink = ClipboardSink() if name == "clipboard" else _FocusGuard(X11Keys(), self._focus_skip)
                except NeurospellError as err:
                    problems[name] = f"Text out, {name}: {err}"
                    continue
                self.out.sinks.append(sink)
                if name == "keys":
                    sink.keys.typed = self.out.text  # (types what changes from now on)
                elif self.out.text:  # the clipboard gets the text at once
                    self.out._call(sink, sink.send, TextChange(0, self.out.text, "", 0, self.out.text))
            elif not on and name in have:
                for sink in [s for s in self.out.sinks if s.name == name]:
                    self.out.sinks.remove(sink)
                    if hasattr(sink, "close"):
                        sink.close()
        self._lsl_on = bool(lsl)
        if lsl and self.lsl is None:
            try:
                self.lsl = open_lsl_text()
            except Exception as err:  # noqa: BLE001 - said on the status line
                problems["lsl"] = f"Text out, LSL: cannot open the text stream: {err}"
                self._lsl_on = False
        return problems

    def session_text_out(self) -> TextOut | None:
        """A :class:`TextOut` for a new session (its worker sends to the LSL stream), or ``None``."""
        if not self._lsl_on or self.lsl is None:
            return None
        return TextOut([_Switchable(self.lsl, lambda: self._lsl_on)])

    def _focus_skip(self) -> None:
        if not self._told_focus:
            self._told_focus = True
            self.problem.emit("Text out, keys: not typed while the speller window has the keyboard focus; click "
                              "into the window to type into.")

    def _snapshot(self, prev, snap) -> None:
        eng = snap.engine
        text = eng.text if eng is not None else snap.text
        if snap.phase not in ("paused", "stopped", "error"):  # (a pause or the end continues the text)
            self._phase = snap.phase
        # a new text: a new session, a new spelling phase or phrase (copy -> free, another copy phrase)
        run = (self.controller.serial, self._phase, snap.target_text)
        before = list(self.out.problems)
        self.out.update(text, run=run)
        for message in self.out.problems[len(before):]:
            self.problem.emit(f"Text out stopped: {message}")

    def close(self) -> None:
        self.out.close()
        lsl, self.lsl = self.lsl, None
        if lsl is not None:
            lsl.close()


class _Switchable:
    """A sink that sends only while ``on()`` (the window's toggle, read from the worker thread)."""

    def __init__(self, sink, on):
        self.sink, self.on, self.name = sink, on, sink.name

    def send(self, change: TextChange) -> None:
        if self.on():
            self.sink.send(change)

    def refresh(self, text: str) -> None:
        if self.on():
            self.sink.refresh(text)
