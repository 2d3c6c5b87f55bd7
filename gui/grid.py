"""The speller grid: row/column flashes timed in display frames, each onset stamped on the LSL clock.

:class:`SpellerGrid` draws a :class:`~neurospell.types.SpellerLayout` as large,
high-contrast cells and implements the :class:`~neurospell.session.display.Display` protocol:
:meth:`SpellerGrid.show_flashes` queues flash groups (from any thread), a frame clock on the
GUI thread shows each for ``flash_frames`` display frames followed by ``gap_frames`` dark
frames, and the onset of every flash is reported, in flash order, through the Qt signal
:attr:`SpellerGrid.flashShown` ``(group, onset)`` and the callbacks registered with
:meth:`SpellerGrid.on_onset`.

Onset stamping
--------------
A flash is drawn with a synchronous ``repaint()`` (paint and flush of the window). Where the
platform has hardware OpenGL (``swap_stamping="auto"``, the default; ``"on"`` also with a
software renderer), the grid holds a tiny
``QOpenGLWidget`` (:class:`_SwapProbe`, 2 x 2 px in the window colour): its presence makes
Qt compose the whole window with OpenGL, so the flush ends in ``swapBuffers`` (with vsync,
swap interval 1, where the driver has it), after which the probe emits ``frameSwapped``; the
onset is stamped with ``pylsl.local_clock()`` in that signal, i.e. after the buffer swap of
the frame that shows the flash (:attr:`SpellerGrid.stamping` is ``"buffer swap"``). Where it
has not (the ``offscreen`` platform, no OpenGL) the onset is stamped right after
``repaint()`` returns, after the frame was painted and handed to the window system
(``"after paint"``). A software OpenGL renderer (Mesa's llvmpipe under Xvfb or in a virtual
machine, SwiftShader, Windows' GDI Generic) has no vsync, so a swap tells no more than the end of
paint, and composing every frame with it costs the GUI thread several milliseconds (under Xvfb:
most flashes a frame late, the process's CPU share doubled): ``"auto"`` stamps after paint there
(:attr:`SpellerGrid.gl_renderer` names the renderer found). Either way the light reaches the eye later by the monitor's own latency
(and, without vsync, up to one refresh period). The lab's true offset and jitter are what a
photodiode measures (:attr:`SpellerGrid.photodiode`: a square in a corner that is white
during flashes; ``neurospell timing-check``).

Frame clock
-----------
Frames are ticks of a precise single-shot timer re-armed to absolute deadlines
``t0 + k / refresh_rate`` (no drift). A tick that comes more than 1.5 frame periods after the
previous one counts the frames it missed in :attr:`SpellerGrid.dropped_frames`; missed frames
still count towards the flash and gap durations (as on a real display), but no flash is ever
skipped: a flash whose turn came during a stall starts on the next tick.
"""

from __future__ import annotations

import math
import numbers
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtOpenGLWidgets import QOpenGLWidget

from neurospell.check import NeurospellError, check_positive
from neurospell.config import SpellerConfig
from neurospell.logs import logger
from neurospell.lsl import get_pylsl
from neurospell.session.display import OnsetCallback, Unsubscribe
from neurospell.types import SpellerLayout

from .theme import Theme, current_theme

__all__ = ["SpellerGrid", "COMPLETION_SYMBOL", "DEFAULT_LABELS", "frames_for_duration",
           "screen_refresh_rate"]

#: The symbol of the "select completion" cell, on layouts that have one.
COMPLETION_SYMBOL = "»"

#: How special symbols are drawn: space, backspace (``"<"``), select completion.
DEFAULT_LABELS: Mapping[str, str] = {" ": "␣", "<": "⌫", COMPLETION_SYMBOL: "»"}

#: What a screen reader says for the special symbols.
_SPOKEN: Mapping[str, str] = {" ": "space", "<": "backspace", COMPLETION_SYMBOL: "select completion"}


def screen_refresh_rate(widget: QtWidgets.QWidget | None = None) -> float:
    """The refresh rate (Hz) of the screen showing ``widget`` (the primary screen if ``None``)."""
    screen = widget.screen() if widget is not None else None
    screen = screen or QtGui.QGuiApplication.primaryScreen()
    if screen is None:
        raise NeurospellError(
            "No screen: create the QApplication first (QT_QPA_PLATFORM=offscreen works without a display)."
        )
    return float(screen.refreshRate())


def frames_for_duration(name: str, seconds: float, refresh_rate: float, *, tolerance: float = 0.1) -> int:
    """The whole number of display frames that last ``seconds`` at ``refresh_rate``.

    Parameters
    ----------
    name : str
        The parameter (or config key) ``seconds`` came from, for the error message.
    seconds : float
        A duration, seconds.
    refresh_rate : float
        Display refresh rate, Hz.
    tolerance : float
        How far from a whole number of frames ``seconds * refresh_rate`` may be, in frames.

    Returns
    -------
    n_frames : int
        ``>= 1``.

    Raises
    ------
    NeurospellError
        When the duration is shorter than one frame or not a whole number of frames: a display
        can only show whole frames; the message gives the nearest durations that work.
    """
    seconds = check_positive(name, seconds)
    refresh_rate = check_positive("refresh_rate", refresh_rate)
    frames = seconds * refresh_rate
    n = round(frames)
    if n < 1 or abs(frames - n) > tolerance:
        lo, hi = max(1, math.floor(frames)), max(1, math.ceil(frames))
        options = sorted({lo, hi})
        raise NeurospellError(
            f"{name}={seconds:g} s is {frames:.2f} frames at the display's {refresh_rate:g} Hz, but a "
            f"display shows whole frames (at least 1). Use "
            + " or ".join(f"{k / refresh_rate:.4f} s ({k} frame{'s' if k > 1 else ''})" for k in options)
            + "."
        )
    return int(n)


def _check_frames(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 1:
        raise NeurospellError(
            f"{name} must be a whole number of display frames >= 1, got {value!r}. "
            "Convert seconds with neurospell.gui.grid.frames_for_duration."
        )
    return int(value)


class SpellerGrid(QtWidgets.QWidget):
    """A speller grid that flashes groups of cells for a whole number of display frames.

    Parameters
    ----------
    speller_layout : SpellerLayout | None
        Symbols, grid shape and flash groups; ``None`` is the default 6x6 row/column grid of
        :class:`~neurospell.config.SpellerConfig`. The session's layout must be used, so
        that group indices mean the same cells on both sides.
    flash_frames, gap_frames : int
        Frames each flash stays lit, and dark frames after it (the stimulus onset asynchrony
        is ``flash_frames + gap_frames`` frames).
    refresh_rate : float | None
        Display refresh rate, Hz; ``None`` reads ``QScreen.refreshRate()`` of the primary
        screen (and of the widget's screen when it is shown). Pass it only when Qt
        misreports the screen (or in tests).
    photodiode : bool
        Draw a square in ``photodiode_corner`` that is white during flashes, black otherwise.
    photodiode_size : int
        Side of that square, pixels.
    photodiode_corner : ``"bottom-left"`` | ``"bottom-right"`` | ``"top-left"`` | ``"top-right"``
    labels : mapping of str to str | None
        How to draw symbols (default :data:`DEFAULT_LABELS`: space, backspace, completion).
    theme : Theme | None
        Colours; ``None`` uses :func:`~neurospell.gui.theme.current_theme`.
    parent : QWidget | None

    Signals
    -------
    flashShown(int, float)
        A flash group and its onset, seconds on the LSL local clock.
    flashEnded(int)
        The flash group went dark.
    scheduleFinished()
        Every queued flash has been shown and its gap elapsed.
    cellActivated(int)
        The keyboard cursor's cell was chosen (Return, Enter or Space): a symbol index.
    cueChanged(object)
        The cued symbol (calibration target) changed: a symbol or ``None``.
    """

    flashShown = QtCore.Signal(int, float)
    flashEnded = QtCore.Signal(int)
    scheduleFinished = QtCore.Signal()
    cellActivated = QtCore.Signal(int)
    cueChanged = QtCore.Signal(object)
    _scheduleRequested = QtCore.Signal()
    _cueRequested = QtCore.Signal(object)

    def __init__(self, speller_layout: SpellerLayout | None = None, *, flash_frames: int = 6,
                 gap_frames: int = 4, refresh_rate: float | None = None, photodiode: bool = False,
                 photodiode_size: int = 60, photodiode_corner: str = "bottom-left",
                 labels: Mapping[str, str] | None = None, theme: Theme | None = None,
                 swap_stamping: str | bool = "auto", parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        if speller_layout is None:
            speller_layout = SpellerConfig().layout()
        if not isinstance(speller_layout, SpellerLayout):
            raise NeurospellError(
                f"speller_layout must be a SpellerLayout, got {type(speller_layout).__name__}."
            )
        self.speller_layout = speller_layout
        corners = ("bottom-left", "bottom-right", "top-left", "top-right")
        if photodiode_corner not in corners:
            raise NeurospellError(
                f"photodiode_corner must be one of {', '.join(corners)}, got {photodiode_corner!r}."
            )
        self.photodiode = bool(photodiode)
        if isinstance(photodiode_size, bool) or not isinstance(photodiode_size, int) or photodiode_size < 4:
            raise NeurospellError(f"photodiode_size must be a whole number of pixels >= 4, got {photodiode_size!r}.")
        self.photodiode_size = photodiode_size
        self.photodiode_corner = photodiode_corner
        self._labels = dict(DEFAULT_LABELS if labels is None else labels)
        self._theme = theme or current_theme()
        self._fixed_rate = None if refresh_rate is None else check_positive("refresh_rate", refresh_rate)
        self.set_timing(flash_frames, gap_frames)

        self._local_clock = get_pylsl().local_clock
        self._callbacks: tuple[OnsetCallback, ...] = ()  # (replaced, never mutated)
        self._queue: deque[int] = deque()
        self._queue_lock = threading.Lock()
        self._highlight: frozenset[int] = frozenset()
        self._cue: int | None = None
        self._phase = "idle"  # idle | waiting | on | off | ready
        self._left = 0
        self._group: int | None = None
        self._lit: frozenset[int] = frozenset()
        self._t0 = 0.0
        self._period = 1.0 / 60.0
        self._frame = 0
        self._painted_frame = -1
        self._warned_hidden = False
        #: Frames missed since construction (tick intervals > 1.5 frame periods).
        self.dropped_frames = 0
        #: Flashes shown since construction.
        self.n_flashes = 0
        #: Flashes that started one or more frames after their due frame (a stall in the gap).
        self.late_flashes = 0
        #: Flashes whose onset was stamped at the buffer swap (the rest: after paint).
        self.swap_stamped = 0
        self._n_swaps = 0
        self._swap_time = 0.0
        mode = swap_stamping_mode(swap_stamping)
        #: The OpenGL renderer the swap probe would use (``None``: not looked up, or no OpenGL).
        self.gl_renderer: str | None = None
        self._swap_probe = _SwapProbe.create(self, mode) if mode != "off" else None

        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)
        self._scheduleRequested.connect(self._enqueue, QtCore.Qt.ConnectionType.QueuedConnection)
        self._cueRequested.connect(self._set_cue, QtCore.Qt.ConnectionType.QueuedConnection)

        self._cursor = 0
        self._cell_font_scale = 1.0
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAccessibleName("Speller grid")
        self._update_accessible_description()
        extra = self.photodiode_size if self.photodiode else 0
        self.setMinimumSize(48 * speller_layout.n_cols, 48 * speller_layout.n_rows + extra)

    @classmethod
    def from_config(cls, speller: SpellerConfig, *, refresh_rate: float | None = None, **kwargs) -> SpellerGrid:
        """A grid for the ``[speller]`` config section: its layout, flash duration and SOA.

        Parameters
        ----------
        speller : SpellerConfig
            ``flash_duration`` and ``soa`` (seconds) must each be a whole number of frames at
            the display's refresh rate, and the SOA at least one frame longer than the flash.
        refresh_rate : float | None
            As for the constructor; ``None`` reads the primary screen's.
        **kwargs
            Other constructor arguments (``photodiode``, ``theme``, ...).

        Raises
        ------
        NeurospellError
            Naming the config key (``[speller] soa`` or ``[speller] flash_duration``) that does
            not fit the display, with the nearest durations that do.
        """
        if not isinstance(speller, SpellerConfig):
            raise NeurospellError(f"speller must be the [speller] SpellerConfig, got {type(speller).__name__}.")
        rate = screen_refresh_rate() if refresh_rate is None else check_positive("refresh_rate", refresh_rate)
        flash = frames_for_duration("[speller] flash_duration", speller.flash_duration, rate)
        soa = frames_for_duration("[speller] soa", speller.soa, rate)
        if soa <= flash:
            raise NeurospellError(
                f"[speller] soa ({speller.soa:g} s, {soa} frames at {rate:g} Hz) must be at least one frame "
                f"longer than [speller] flash_duration ({speller.flash_duration:g} s, {flash} frames)."
            )
        return cls(speller.layout(), flash_frames=flash, gap_frames=soa - flash, refresh_rate=rate, **kwargs)

    # -- timing ---------------------------------------------------------------------------
    @property
    def refresh_rate(self) -> float:
        """The display refresh rate used for the frame clock, Hz."""
        if self._fixed_rate is not None:
            return self._fixed_rate
        rate = screen_refresh_rate(self if self.isVisible() else None)
        if not rate > 0:
            raise NeurospellError(
                f"The screen reports a refresh rate of {rate!r} Hz; pass refresh_rate= explicitly."
            )
        return rate

    @property
    def frame_period(self) -> float:
        """One display frame, seconds."""
        return 1.0 / self.refresh_rate

    @property
    def soa(self) -> float:
        """Stimulus onset asynchrony, seconds: ``(flash_frames + gap_frames) / refresh_rate``."""
        return (self.flash_frames + self.gap_frames) / self.refresh_rate

    def set_timing(self, flash_frames: int, gap_frames: int) -> None:
        """Set the flash and gap durations, in display frames (each a whole number >= 1)."""
        flash = _check_frames("flash_frames", flash_frames)
        gap = _check_frames("gap_frames", gap_frames)
        rate = self.refresh_rate
        if (flash + gap) / rate < 0.03:
            raise NeurospellError(
                f"flash_frames + gap_frames = {flash + gap} frames is {1000 * (flash + gap) / rate:.1f} ms "
                f"at {rate:g} Hz; flashes closer than 30 ms cannot be told apart. Use more frames."
            )
        self.flash_frames, self.gap_frames = flash, gap

    # -- the Display protocol ---------------------------------------------------------------
    def show_flashes(self, groups: Sequence[int]) -> None:
        """Queue flash groups (indices into ``flash_groups``), shown in order; thread-safe.

        Returns at once; the flashes start on the GUI thread's next frame.
        """
        groups = list(groups)
        n = self.speller_layout.n_groups
        for g in groups:
            if isinstance(g, bool) or not isinstance(g, numbers.Integral) or not 0 <= g < n:
                raise NeurospellError(
                    f"show_flashes: groups must be flash group indices in [0, {n - 1}] of this "
                    f"{self.speller_layout.n_rows}x{self.speller_layout.n_cols} layout, got {g!r}."
                )
        groups = [int(g) for g in groups]
        if groups:
            with self._queue_lock:
                self._queue.extend(groups)
            self._scheduleRequested.emit()

    def on_onset(self, callback: OnsetCallback) -> Unsubscribe:
        """Call ``callback(group, onset)`` after each flash onset (on the GUI thread; keep it
        quick); returns the function that unregisters it (callable from any thread)."""
        if not callable(callback):
            raise NeurospellError(f"on_onset: callback must be callable, got {type(callback).__name__}.")
        self._callbacks = (*self._callbacks, callback)

        def unsubscribe() -> None:
            # (a new tuple: the GUI thread may be iterating over the old one)
            self._callbacks = tuple(cb for cb in self._callbacks if cb is not callback)

        return unsubscribe

    @property
    def n_subscribers(self) -> int:
        """How many onset callbacks are registered (a stopped session must not stay one)."""
        return len(self._callbacks)

    def cancel_flashes(self) -> int:
        """Drop the flashes queued and not yet shown; return how many (thread-safe).

        The flash on screen (if any) finishes normally.
        """
        with self._queue_lock:
            n = len(self._queue)
            self._queue.clear()
        return n

    def cue(self, symbol: str | None) -> None:
        """Calibration: outline the symbol to attend (``None`` clears it); thread-safe."""
        if symbol is not None and symbol not in self.speller_layout.symbols:
            raise NeurospellError(
                f"cue: symbol must be one of the grid's symbols {''.join(self.speller_layout.symbols)!r} "
                f"or None, got {symbol!r}."
            )
        self._cueRequested.emit(symbol)

    @QtCore.Slot(object)
    def _set_cue(self, symbol: str | None) -> None:
        self._cue = None if symbol is None else self.speller_layout.symbols.index(symbol)
        self.update()
        self.cueChanged.emit(symbol)

    @property
    def cued_symbol(self) -> str | None:
        """The symbol cued now (``None`` when none)."""
        return None if self._cue is None else self.speller_layout.symbols[self._cue]

    def set_highlight(self, cells) -> None:
        """Outline ``cells`` (symbol indices) in the focus colour: row-column scanning."""
        self._highlight = frozenset(int(c) for c in cells)
        self.update()

    @property
    def highlighted_cells(self) -> frozenset[int]:
        """The cells outlined by :meth:`set_highlight`."""
        return self._highlight

    def stop(self) -> None:
        """Drop every queued flash and go dark now."""
        with self._queue_lock:
            self._queue.clear()
        self._timer.stop()
        was = self._group
        self._phase, self._group, self._lit = "idle", None, frozenset()
        self.update()
        if was is not None:
            self.flashEnded.emit(was)

    @property
    def pending(self) -> int:
        """Flashes queued and not yet shown."""
        return len(self._queue)

    def time_to_next_change(self) -> float:
        """Seconds until the grid next changes what it shows (``inf`` when no flash is running).

        Other views on the GUI thread (the scope) can skip a redraw that would delay it.
        """
        if self._phase not in ("on", "off"):
            return math.inf
        return self._t0 + (self._frame + self._left) * self._period - time.perf_counter()

    @property
    def is_flashing(self) -> bool:
        """Whether a schedule is running (a flash or its gap is on screen, or flashes are queued)."""
        return self._phase != "idle" or bool(self._queue)

    # -- frame clock --------------------------------------------------------------------------
    @QtCore.Slot()
    def _enqueue(self) -> None:
        if self._phase == "idle" and self._queue:
            self._begin()

    def _exposed(self) -> bool:
        handle = self.window().windowHandle()
        return self.isVisible() and handle is not None and handle.isExposed()

    def _begin(self) -> None:
        # Flashes wait until the grid is on screen: an onset must follow a painted frame.
        if not self._queue:  # cancelled while waiting
            self._phase = "idle"
            return
        if not self._exposed():
            if self._phase != "waiting":
                logger.info("SpellerGrid: flashes wait until the grid is shown.")
            self._phase = "waiting"
            self._timer.start(max(1, round(1000 * self.frame_period)))
            return
        self._period = self.frame_period
        self._t0 = time.perf_counter()
        self._frame = 0
        self._start_next()
        if self._phase != "idle":
            self._arm()

    def _arm(self) -> None:
        deadline = self._t0 + (self._frame + 1) * self._period
        wait_ms = max(0, math.ceil((deadline - time.perf_counter()) * 1000.0))
        self._timer.start(wait_ms)

    @QtCore.Slot()
    def _tick(self) -> None:
        if self._phase == "waiting":
            self._begin()
            return
        now = time.perf_counter()
        frame = max(self._frame + 1, int((now - self._t0) / self._period + 0.5))
        steps = frame - self._frame
        if steps > 1:
            self.dropped_frames += steps - 1
        self._frame = frame
        ended = None
        while steps > 0 and self._phase != "ready":
            take = min(steps, self._left)
            self._left -= take
            steps -= take
            if self._left == 0:
                if self._phase == "on":
                    ended, self._group, self._lit = self._group, None, frozenset()
                    self._phase, self._left = "off", self.gap_frames
                else:
                    self._phase = "ready"
        if ended is not None:
            self._present()
            self.flashEnded.emit(ended)
        if self._phase == "ready":
            if self._queue:
                if steps > 0:  # the gap ended `steps` frames ago: this flash starts late
                    self.late_flashes += 1
                self._start_next()
                if self._phase == "idle":
                    return
            else:
                self._phase = "idle"
                self.scheduleFinished.emit()
                return
        self._arm()

    def _start_next(self) -> None:
        with self._queue_lock:
            group = self._queue.popleft() if self._queue else None
        if group is None:  # cancelled from another thread since the check
            self._phase, self._group, self._lit = "idle", None, frozenset()
            self.scheduleFinished.emit()
            return
        self._phase, self._left, self._group = "on", self.flash_frames, group
        self._lit = frozenset(self.speller_layout.flash_groups[group])
        swaps = self._n_swaps
        self._present()
        if self._n_swaps > swaps:  # the flush ended in a buffer swap: its time is the onset
            onset = self._swap_time
            self.swap_stamped += 1
        else:
            onset = self._local_clock()
        if self._painted_frame != self._frame and not self._warned_hidden:
            self._warned_hidden = True
            logger.warning("SpellerGrid was hidden during flashing: onsets are stamped without a painted frame.")
        self.n_flashes += 1
        self.flashShown.emit(group, onset)
        for cb in self._callbacks:
            cb(group, onset)

    def _present(self) -> None:
        # Synchronous paint and flush (with the swap probe: composition and buffer swap); the
        # onset stamp follows the frame.
        self.repaint()

    @property
    def stamping(self) -> str:
        """How flash onsets are stamped here: ``"buffer swap"`` or ``"after paint"`` (see the module notes)."""
        probe = self._swap_probe
        return "buffer swap" if probe is not None and probe.isValid() else "after paint"

    def _on_swap(self) -> None:
        self._swap_time = self._local_clock()
        self._n_swaps += 1

    # -- drawing ------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        """Use ``theme``'s colours."""
        self._theme = theme
        self.update()

    def set_cell_font_scale(self, scale: float) -> None:
        """Scale the symbols' size (1.0: half a cell's height)."""
        self._cell_font_scale = check_positive("scale", scale)
        self.update()

    @property
    def lit_cells(self) -> frozenset[int]:
        """Indices of the symbols lit now."""
        return self._lit

    def _grid_area(self) -> QtCore.QRect:
        r = self.rect()
        if self.photodiode:
            s = self.photodiode_size
            if self.photodiode_corner.startswith("bottom"):
                r = r.adjusted(0, 0, 0, -s)
            else:
                r = r.adjusted(0, s, 0, 0)
        return r

    def photodiode_rect(self) -> QtCore.QRect | None:
        """Where the photodiode square is drawn (``None`` without one)."""
        if not self.photodiode:
            return None
        s = self.photodiode_size
        x = 0 if self.photodiode_corner.endswith("left") else self.width() - s
        y = 0 if self.photodiode_corner.startswith("top") else self.height() - s
        return QtCore.QRect(x, y, s, s)

    def cell_rect(self, index: int) -> QtCore.QRect:
        """The rectangle of symbol ``index`` in widget coordinates."""
        lay = self.speller_layout
        area = self._grid_area()
        w, h = area.width() / lay.n_cols, area.height() / lay.n_rows
        r, c = divmod(index, lay.n_cols)
        gutter = 2
        x0, y0 = area.x() + round(c * w), area.y() + round(r * h)
        x1, y1 = area.x() + round((c + 1) * w), area.y() + round((r + 1) * h)
        return QtCore.QRect(x0 + gutter, y0 + gutter, max(1, x1 - x0 - 2 * gutter), max(1, y1 - y0 - 2 * gutter))

    def probe_point(self, index: int) -> QtCore.QPoint:
        """A point inside cell ``index`` that the symbol and the focus frame never cover."""
        r = self.cell_rect(index)
        return QtCore.QPoint(r.x() + max(6, r.width() // 8), r.y() + r.height() // 2)

    def label(self, index: int) -> str:
        """The text drawn for symbol ``index``."""
        s = self.speller_layout.symbols[index]
        return self._labels.get(s, s)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt override)
        th = self._theme
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), th.qcolor("window"))
        cell, flash = th.qcolor("cell"), th.qcolor("flash")
        cell_text, flash_text = th.qcolor("cell_text"), th.qcolor("flash_text")
        font = QtGui.QFont(self.font())
        r0 = self.cell_rect(0)
        font.setPixelSize(max(8, int(min(r0.width(), r0.height()) * 0.5 * self._cell_font_scale)))
        font.setBold(True)
        p.setFont(font)
        p.setPen(QtGui.QPen(th.qcolor("grid_line"), 1))
        lit = self._lit
        for i in range(len(self.speller_layout.symbols)):
            r = self.cell_rect(i)
            on = i in lit
            p.fillRect(r, flash if on else cell)
            p.setPen(flash_text if on else (th.qcolor("text") if i == self._cue else cell_text))
            p.drawText(r, QtCore.Qt.AlignmentFlag.AlignCenter, self.label(i))
        # Cue (calibration target) and scanning highlight: outlines only, never a fill, so
        # they can not be mistaken for a flash (and the pixel probes stay unchanged).
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for idx, colour, width in ([(self._cue, th.qcolor("ok"), 5)] if self._cue is not None else []) + [
                (i, th.qcolor("focus"), 5) for i in sorted(self._highlight)]:
            pen = QtGui.QPen(colour, width)
            pen.setJoinStyle(QtCore.Qt.PenJoinStyle.MiterJoin)
            p.setPen(pen)
            p.drawRect(self.cell_rect(idx).adjusted(3, 3, -3, -3))
        if self.hasFocus():
            # Keyboard focus: a frame on the cursor's cell; while flashing or scanning, only a
            # thin frame round the grid (a salient outline on one cell would compete with the
            # stimuli, and the scan highlight already outlines cells).
            busy = self._phase != "idle" or bool(self._highlight)
            pen = QtGui.QPen(th.qcolor("focus"), 2 if busy else 4)
            pen.setJoinStyle(QtCore.Qt.PenJoinStyle.MiterJoin)
            p.setPen(pen)
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawRect(self._grid_area().adjusted(1, 1, -1, -1) if busy
                       else self.cell_rect(self._cursor).adjusted(2, 2, -2, -2))
        pd = self.photodiode_rect()
        if pd is not None:
            p.fillRect(pd, QtGui.QColor("#ffffff") if lit else QtGui.QColor("#000000"))
        p.end()
        self._painted_frame = self._frame

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 (Qt override)
        lay = self.speller_layout
        extra = self.photodiode_size if self.photodiode else 0
        return QtCore.QSize(96 * lay.n_cols, 96 * lay.n_rows + extra)

    # -- keyboard -----------------------------------------------------------------------------
    @property
    def cursor_index(self) -> int:
        """The symbol under the keyboard cursor."""
        return self._cursor

    def set_cursor(self, index: int) -> None:
        """Move the keyboard cursor to symbol ``index``."""
        n = len(self.speller_layout.symbols)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise NeurospellError(f"set_cursor: index must be a symbol index in [0, {n - 1}], got {index!r}.")
        self._cursor = index
        self._update_accessible_description()
        self.update()

    def _update_accessible_description(self) -> None:
        lay = self.speller_layout
        r, c = divmod(self._cursor, lay.n_cols)
        sym = lay.symbols[self._cursor]
        self.setAccessibleDescription(
            f"{lay.n_rows} by {lay.n_cols} speller grid; rows and columns flash. Arrow keys move, "
            f"Enter or Space selects. Current cell: {_SPOKEN.get(sym, sym)}, row {r + 1}, column {c + 1}."
        )

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt override)
        lay = self.speller_layout
        n = len(lay.symbols)
        key = event.key()
        K = QtCore.Qt.Key
        moves: dict[int, Callable[[int], int]] = {
            K.Key_Left: lambda i: i - 1,
            K.Key_Right: lambda i: i + 1,
            K.Key_Up: lambda i: i - lay.n_cols,
            K.Key_Down: lambda i: i + lay.n_cols,
            K.Key_Home: lambda i: 0,
            K.Key_End: lambda i: n - 1,
        }
        if key in moves:
            self.set_cursor(min(n - 1, max(0, moves[key](self._cursor))))
            event.accept()
        elif key in (K.Key_Return, K.Key_Enter, K.Key_Space):
            self.cellActivated.emit(self._cursor)
            event.accept()
        else:
            super().keyPressEvent(event)

    def focusInEvent(self, event: QtGui.QFocusEvent) -> None:  # noqa: N802 (Qt override)
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QtGui.QFocusEvent) -> None:  # noqa: N802 (Qt override)
        super().focusOutEvent(event)
        self.update()


class _SwapProbe(QOpenGLWidget):
    """A 2 x 2 px OpenGL widget in the grid's corner, in the window colour.

    Its only job: with an OpenGL widget in it, Qt composes the whole window with OpenGL and
    ends each flush with ``swapBuffers``; ``frameSwapped`` then tells the grid when the frame
    was swapped (see the module notes). Not created where the platform has no OpenGL.
    """

    @classmethod
    def create(cls, grid: SpellerGrid, mode: str = "auto") -> _SwapProbe | None:
        app = QtGui.QGuiApplication.instance()
        if app is None or QtGui.QGuiApplication.platformName() in _NO_GL_PLATFORMS:
            return None
        ctx = QtGui.QOpenGLContext()
        if not ctx.create():
            logger.info("SpellerGrid: no OpenGL context on %s; onsets are stamped after paint.",
                        QtGui.QGuiApplication.platformName())
            return None
        grid.gl_renderer = _renderer(ctx)
        if mode == "auto" and grid.gl_renderer is not None and _SOFTWARE_GL.search(grid.gl_renderer):
            logger.info("SpellerGrid: the OpenGL renderer is software (%s): no vsync, and composing each frame "
                        "with it costs more than it tells; onsets are stamped after paint ([gui] swap_stamping = "
                        "\"on\" uses it anyway).", grid.gl_renderer)
            return None
        probe = cls(grid)
        probe.setFixedSize(2, 2)
        probe.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        probe.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        probe.frameSwapped.connect(grid._on_swap)
        return probe

    def paintGL(self) -> None:  # noqa: N802 (Qt override)
        c = self.parentWidget()._theme.qcolor("window")
        f = self.context().functions()
        f.glClearColor(c.redF(), c.greenF(), c.blueF(), 1.0)
        f.glClear(0x00004000)  # GL_COLOR_BUFFER_BIT


#: Qt platforms without OpenGL windows (no probe there).
_NO_GL_PLATFORMS = frozenset({"offscreen", "minimal", "vnc", "linuxfb"})
#: ``swap_stamping`` values: "auto" (hardware OpenGL only), "on" (any OpenGL), "off".
SWAP_STAMPING = ("auto", "on", "off")
#: Software OpenGL renderers (GL_RENDERER strings): Mesa llvmpipe / softpipe / swrast,
#: SwiftShader, Windows' GDI Generic and Basic Render Driver.
_SOFTWARE_GL = re.compile(r"llvmpipe|softpipe|swrast|software|swiftshader|gdi generic|basic render", re.IGNORECASE)


def swap_stamping_mode(value) -> str:
    """``swap_stamping`` as one of :data:`SWAP_STAMPING` (``True`` is ``"auto"``, ``False`` ``"off"``)."""
    if value is True:
        return "auto"
    if value is False:
        return "off"
    if value not in SWAP_STAMPING:
        raise NeurospellError(f"swap_stamping must be one of {', '.join(map(repr, SWAP_STAMPING))} (or true/false), "
                              f"got {value!r}.")
    return value


def _renderer(ctx: QtGui.QOpenGLContext) -> str | None:
    """GL_RENDERER of a created context (made current on a throw-away offscreen surface)."""
    surface = QtGui.QOffscreenSurface()
    surface.setFormat(ctx.format())
    surface.create()
    try:
        if not ctx.makeCurrent(surface):
            return None
        try:
            name = ctx.functions().glGetString(0x1F01)  # GL_RENDERER
        finally:
            ctx.doneCurrent()
        return str(name) if name else None
    finally:
        surface.destroy()
