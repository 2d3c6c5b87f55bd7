"""How the session starts, chosen before it starts: calibrate first, or spell at once with a model.

:class:`StartChoice` shows the two ways as two large, high-contrast options, numbered, one
above the other: *1 Calibrate first* and *2 Start spelling now with MODEL (no calibration)*
(the second only when a model is offered: ``neurospell gui --model``, the participant
profile's last model, or the shipped generic model). Nothing needs a mouse:

* the number keys 1 and 2 choose at once;
* the arrow keys (and Tab) move between the options, Enter or Space chooses the one focused;
* the single switch (:meth:`StartChoice.switch_press`): the first press starts scanning the
  options (each highlighted for the scan interval in turn), the next press chooses the one
  highlighted -- the options are numbered cells a selection by the BCI could name as well.

The view only emits :attr:`StartChoice.chosen` with the choice's name
(:data:`~neurospell.session.startplan.CALIBRATE` or
:data:`~neurospell.session.startplan.START_NOW`); the window hands it to its controller,
which prepares and starts the session off the GUI thread.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.session.startplan import CALIBRATE, START_NOW

from .theme import Theme, current_theme

__all__ = ["StartChoice", "StartChoiceBinding"]

#: The options' text scale (times the application font).
TEXT_SCALE = 1.6


class _Option(QtWidgets.QPushButton):
    """One option: its focus and key presses go to the choice through its own overrides.

    (Not an event filter of the choice on its buttons: PySide calls a Python ``eventFilter``
    on the filter object even while that object is being torn down, and a style sheet set on
    the application then crashed the process (seen as a segmentation fault in the tests).)
    """

    focused = QtCore.Signal()

    def __init__(self, on_key):
        super().__init__("")
        self._on_key = on_key

    def focusInEvent(self, event: QtGui.QFocusEvent) -> None:  # noqa: N802 (Qt override)
        super().focusInEvent(event)
        self.focused.emit()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if not self._on_key(event):
            super().keyPressEvent(event)


class StartChoice(QtWidgets.QFrame):
    """The start choice (see the module docstring).

    Signals
    -------
    chosen(str)
        :data:`CALIBRATE` or :data:`START_NOW`.
    """

    chosen = QtCore.Signal(str)

    def __init__(self, theme: Theme | None = None, scan_interval: float = 1.5, parent=None):
        super().__init__(parent)
        self._theme = theme or current_theme()
        self.setObjectName("startChoice")
        self.setAccessibleName("How to start")
        self.setAccessibleDescription("Choose how the session starts: 1 calibrate first, 2 start spelling now "
                                      "with the model (no calibration). Number keys choose; arrow keys move, "
                                      "Enter chooses.")
        lay = QtWidgets.QVBoxLayout(self)
        self.title = QtWidgets.QLabel("How do you want to start?")
        self.title.setAccessibleName("How to start")
        lay.addWidget(self.title)
        self.buttons: list[QtWidgets.QPushButton] = []
        self.names: list[str] = []
        for index, name in enumerate((CALIBRATE, START_NOW)):
            b = _Option(self._key)
            b.setObjectName(f"start_{name}")
            b.setAutoDefault(False)
            b.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
            b.setMinimumHeight(96)
            b.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
            b.clicked.connect(lambda _checked=False, n=name: self.chosen.emit(n))
            b.focused.connect(lambda i=index: self._highlight(i))
            lay.addWidget(b)
            self.buttons.append(b)
            self.names.append(name)
        self.hint = QtWidgets.QLabel("Press 1 or 2, or move with the arrow keys and press Enter.")
        self.hint.setWordWrap(True)
        lay.addWidget(self.hint)
        self._scan = QtCore.QTimer(self)
        self._scan.setInterval(round(1000 * scan_interval))
        self._scan.timeout.connect(self._scan_step)
        self._apply_style()
        self.set_offer(None)

    # -- what is offered -----------------------------------------------------------------------
    def set_offer(self, model_label: str | None, default: str = CALIBRATE) -> None:
        """Offer *Start spelling now with* ``model_label`` (``None``: calibrating only), and
        focus ``default``."""
        self.buttons[0].setText("1   Calibrate first\n     spell the calibration text, then train the decoder")
        self.buttons[0].setAccessibleName("1: Calibrate first")
        now = self.buttons[1]
        now.setVisible(model_label is not None)
        if model_label is not None:
            now.setText(f"2   Start spelling now with {model_label}\n     no calibration: the model adapts to you "
                        "as you spell")
            now.setAccessibleName(f"2: Start spelling now with {model_label} (no calibration)")
        self.hint.setText("Press 1 or 2, or move with the arrow keys and press Enter."
                          if model_label is not None else "Press 1 or Enter to calibrate.")
        self.focus(default if model_label is not None else CALIBRATE)

    @property
    def offered(self) -> list[str]:
        """The choices shown."""
        return [n for n, b in zip(self.names, self.buttons, strict=True) if not b.isHidden()]

    def focus(self, name: str) -> None:
        """Give ``name``'s option the keyboard focus (and the highlight)."""
        i = self.names.index(name if name in self.offered else CALIBRATE)
        self.buttons[i].setFocus()
        self._highlight(i)

    @property
    def current(self) -> str:
        """The option focused or highlighted."""
        return self.names[self._current]

    def choose(self, name: str | None = None) -> None:
        """Choose ``name`` (default: the option focused) -- as Enter does."""
        self._scan.stop()
        name = self.current if name is None else name
        if name in self.offered:
            self.chosen.emit(name)

    # -- the single switch ------------------------------------------------------------------------
    @property
    def scanning(self) -> bool:
        return self._scan.isActive()

    def switch_press(self) -> None:
        """The first press scans the options, the next one chooses the one highlighted."""
        if self._scan.isActive():
            self.choose()
        else:
            self._scan.start()

    def _scan_step(self) -> None:
        offered = [self.names.index(n) for n in self.offered]
        nxt = offered[(offered.index(self._current) + 1) % len(offered)] if self._current in offered else offered[0]
        self.buttons[nxt].setFocus()
        self._highlight(nxt)

    def stop_scanning(self) -> None:
        self._scan.stop()

    # -- keys and looks -----------------------------------------------------------------------------
    def _key(self, event: QtGui.QKeyEvent) -> bool:
        K = QtCore.Qt.Key
        key = event.key()
        number = {K.Key_1: 0, K.Key_2: 1}.get(key)
        if number is not None:
            if self.names[number] in self.offered:
                self.choose(self.names[number])
            return True
        if key in (K.Key_Up, K.Key_Down, K.Key_Left, K.Key_Right):
            offered = [self.names.index(n) for n in self.offered]
            step = -1 if key in (K.Key_Up, K.Key_Left) else 1
            i = offered[(offered.index(self._current) + step) % len(offered)]
            self.buttons[i].setFocus()
            return True
        if key in (K.Key_Return, K.Key_Enter, K.Key_Space):
            self.choose()
            return True
        return False

    def _highlight(self, index: int) -> None:
        self._current = index
        for i, b in enumerate(self.buttons):
            b.setProperty("current", i == index)
            b.style().unpolish(b)
            b.style().polish(b)

    def _apply_style(self) -> None:
        t = self._theme
        size = max(12.0, QtWidgets.QApplication.font().pointSizeF() * TEXT_SCALE)
        self.title.setStyleSheet(f"font-size: {size:.0f}pt; font-weight: bold; color: {t.text};")
        self.setStyleSheet(
            f"QFrame#startChoice {{ background: {t.window}; border: 2px solid {t.grid_line}; }}"
            f"QPushButton {{ font-size: {size:.0f}pt; font-weight: bold; text-align: left; padding: 12px;"
            f" color: {t.text}; background: {t.window}; border: 3px solid {t.text}; }}"
            f"QPushButton[current=\"true\"] {{ color: {t.window}; background: {t.focus};"
            f" border: 6px solid {t.focus}; }}")


class StartChoiceBinding:
    """The window's side of the start choice (a mixin of :class:`~neurospell.gui.window.SpellerWindow`):
    shown above the grid while a source is connected and no session runs, when the window
    has a :class:`~neurospell.session.startplan.StartPlan` (``neurospell gui``); the choice made
    goes to the controller (:meth:`~neurospell.gui.controller.SessionController.start_planned`)."""

    start_plan = None
    start_choice: StartChoice | None = None

    def _init_start_choice(self, plan, layout: QtWidgets.QBoxLayout, index: int) -> None:
        """Put the choice into ``layout`` at ``index`` (none without ``plan``)."""
        self.start_plan = plan
        if plan is None:
            return
        self.start_choice = StartChoice(self.theme, self.settings.scan_interval)
        offer = plan.offer
        self.start_choice.set_offer(None if offer is None else offer.label, plan.default_choice)
        self.start_choice.chosen.connect(self.start_chosen)
        self.start_choice.hide()
        layout.insertWidget(index, self.start_choice)
        self.controller.startFailed.connect(self._start_failed)

    def _start_failed(self, err) -> None:
        self.set_status(f"Cannot start: {err}")
        self._update_controls()

    def start_chosen(self, choice: str) -> None:
        """Start the session the way ``choice`` says (:data:`CALIBRATE` or :data:`START_NOW`)."""
        if self.connection is None:
            self.set_status("Connect a source first (step 1).")
            return
        if self.start_choice is not None:
            self.start_choice.stop_scanning()
        mode = self.mode_box.currentData()
        copy = self.copy_edit.text().upper() or None
        kwargs = dict(calibration_text=self.calibration_edit.text().upper(),
                      copy_text=copy if mode == "copy" else None,
                      free=not (self.stop_after_copy and mode == "copy"),
                      text_out=self.text_out.session_text_out())
        try:
            started = self.controller.start_planned(self.start_plan, choice, self.config, self.grid, **kwargs)
        except NeurospellError as err:
            self.set_status(f"Cannot start: {err}")
            return
        if not started:
            self.set_status("Already starting; wait for it.")
            return
        self._update_controls()
        what = (f"spelling with {self.start_plan.offer.label} (no calibration)" if choice == START_NOW
                else "calibrating")
        self.set_status(f"Starting: {what}...")
        self._announce(f"Starting: {what}")
        if self.participant is not None:
            self.participant.show()
        self.grid.setFocus()

    def _update_start_choice(self) -> None:
        """Shown while connected with no session (nor one being prepared)."""
        if self.start_choice is None:
            return
        ctl = self.controller
        show = ctl.connection is not None and ctl.session is None and not ctl.preparing
        was = self.start_choice.isVisible()
        self.start_choice.setVisible(show)
        if show and not was:
            self.start_choice.focus(self.start_choice.current if self.start_choice.offered else CALIBRATE)
        elif not show:
            self.start_choice.stop_scanning()
