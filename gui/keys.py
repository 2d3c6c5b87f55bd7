"""The single switch: one key, read wherever the focus is, in single-switch mode only."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

__all__ = ["SwitchKeyFilter"]


class SwitchKeyFilter(QtCore.QObject):
    """Calls ``pressed()`` for each press (not auto-repeated) of the switch key while
    ``window`` is the active window, and swallows the key.

    It reads every key press of the application only while enabled (:meth:`set_enabled`): an
    application-wide event filter is Python code run, with the GIL, for every event of the GUI
    thread.

    Parameters
    ----------
    window : QtWidgets.QWidget
        Has ``settings`` (a :class:`GuiSettings`: ``single_switch``, ``switch_qt_key``).
    pressed : callable
    """

    def __init__(self, window: QtWidgets.QWidget, pressed: Callable[[], None]):
        super().__init__(window)
        self._window = window
        self._pressed = pressed
        self.enabled = False

    def set_enabled(self, on: bool) -> None:
        if on != self.enabled:
            app = QtWidgets.QApplication.instance()
            (app.installEventFilter if on else app.removeEventFilter)(self)
            self.enabled = on

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 (Qt override)
        settings = self._window.settings
        if (settings.single_switch and event.type() == QtCore.QEvent.Type.KeyPress
                and not event.isAutoRepeat() and event.key() == settings.switch_qt_key
                and self._window.isActiveWindow()):
            self._pressed()
            return True
        return super().eventFilter(obj, event)
