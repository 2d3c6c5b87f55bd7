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
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence

from PySide6 import QtCore, QtWidgets

from neurospell.check import NeurospellError, check_positive
from neurospell.config import SpellerConfig
from neurospell.logs import logger
from neurospell.lsl import get_pylsl
from neurospell.session.display import OnsetCallback, Unsubscribe
from neurospell.types import SpellerLayout

from .frames import (
    SWAP_STAMPING,
    _check_frames,
    _SwapProbe,
    frames_for_duration,
    screen_refresh_rate,
    swap_stamping_mode,
)
from .grid_view import COMPLETION_SYMBOL, DEFAULT_LABELS, GridDrawing
from .theme import Theme, current_theme

__all__ = ["SpellerGrid", "COMPLETION_SYMBOL", "DEFAULT_LABELS", "frames_for_duration",
           "screen_refresh_rate", "swap_stamping_mode", "SWAP_STAMPING"]

class SpellerGrid(GridDrawing, QtWidgets.QWidget):
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

    flashShown = QtCore.Signal(object, float)  # a group index, or a SymbolGroup (tuple of symbols)
    flashEnded = QtCore.Signal(object)
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
        """Queue flash groups (indices into ``flash_groups``, or
        :class:`~neurospell.session.flashgroups.SymbolGroup` s: the symbols one flash lights),
        shown in order; thread-safe.

        Returns at once; the flashes start on the GUI thread's next frame.
        """
        groups = list(groups)
        n, n_sym = self.speller_layout.n_groups, len(self.speller_layout.symbols)
        for g in groups:
            if isinstance(g, tuple):
                if not g or not all(isinstance(i, numbers.Integral) and 0 <= i < n_sym for i in g):
                    raise NeurospellError(
                        f"show_flashes: a group of members must hold symbol indices in [0, {n_sym - 1}], got {g!r}.")
                continue
            if isinstance(g, bool) or not isinstance(g, numbers.Integral) or not 0 <= g < n:
                raise NeurospellError(
                    f"show_flashes: groups must be flash group indices in [0, {n - 1}] of this "
                    f"{self.speller_layout.n_rows}x{self.speller_layout.n_cols} layout, got {g!r}."
                )
        groups = [g if isinstance(g, tuple) else int(g) for g in groups]
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
        self._lit = frozenset(group if isinstance(group, tuple) else self.speller_layout.flash_groups[group])
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
