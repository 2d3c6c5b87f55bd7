"""The live scope: every channel of a source, scrolling, with per-channel signal quality.

:class:`Scope` is a view. The session's snapshot feed hands it the samples that arrived
(:meth:`Scope.push`, on the GUI thread); the scope keeps a preallocated display buffer of
min/max pairs (peak decimation, so spikes and railing stay visible at any sampling rate),
redraws on its own timer (default 40 frames/s, independent of the speller's flash timing)
only when new data arrived, and updates one ``PlotDataItem`` per channel in place, with fixed
axis ranges (no auto-range).

Signal quality (display-only, cheap: at most a few times a second, on the last second of the
display buffer): a channel is

* ``"railed"`` when its median absolute value is at least ``rail_threshold`` (the amplifier
  is saturated or the electrode is off on a DC-coupled amplifier);
* ``"flat"`` when its peak-to-peak amplitude is below ``flat_threshold`` (disconnected,
  shorted, or a dead channel);
* ``"noisy"`` when its robust spread (1.4826 x median absolute deviation) exceeds
  ``noise_threshold`` (line noise, movement, a loose electrode);
* ``"ok"`` otherwise.

:meth:`Scope.set_stream_lost` shows a banner with the reason and greys the traces.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError, check_positive, check_range
from neurospell.types import SampleChunk

from .theme import Theme, current_theme

__all__ = ["Scope", "QUALITY_STATES", "SCALES_V"]

#: Quality states, in order of precedence.
QUALITY_STATES = ("railed", "flat", "noisy", "ok")

#: Scale choices offered in the scale box: volts per channel spacing.
SCALES_V = (10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 10e-3, 100e-3)


def _scale_text(volts: float) -> str:
    return f"{volts * 1e3:g} mV" if volts >= 1e-3 else f"{volts * 1e6:g} µV"


class Scope(QtWidgets.QWidget):
    """A scrolling multi-channel scope with channel selection, scale and quality flags.

    Parameters
    ----------
    ch_names : sequence of str
        One name per channel, in the order of the rows of the data passed to :meth:`push`.
    sfreq : float
        Sampling rate of the pushed data, Hz.
    window : float
        Seconds shown.
    scale : float
        Volts per channel spacing (a trace of that peak-to-peak amplitude fills its lane).
    max_points : int
        Most points drawn per channel; above it the display buffer keeps min/max pairs of
        ``decimation`` samples.
    redraw_hz : float
        Redraw timer rate, Hz (frames are drawn only when data arrived).
    flat_threshold, rail_threshold, noise_threshold : float
        Quality thresholds, volts (see the module docstring).
    center : bool
        Draw each trace around its median over the last second (display only: removes the
        electrodes' DC offsets so traces stay in their lanes; updated with the quality flags).
    clip : float
        Traces are clipped to +/- ``clip`` lanes around their own lane (0 disables clipping).
    yield_to : callable | None
        Returns the seconds until a more urgent view on the GUI thread next draws (e.g.
        :meth:`SpellerGrid.time_to_next_change <neurospell.gui.grid.SpellerGrid.time_to_next_change>`);
        a redraw is postponed to the next timer tick when that is less than ``frame_budget``,
        so the scope never delays a flash.
    frame_budget : float
        Seconds a redraw may take (see ``yield_to``).
    theme : Theme | None
    parent : QWidget | None

    Signals
    -------
    qualityChanged(list)
        The quality state of every channel (a list of str, one per channel) after it changed.
    """

    qualityChanged = QtCore.Signal(list)

    def __init__(self, ch_names: Sequence[str], sfreq: float, *, window: float = 5.0,
                 scale: float = 100e-6, max_points: int = 1000, redraw_hz: float = 40.0,
                 flat_threshold: float = 0.5e-6, rail_threshold: float = 0.1,
                 noise_threshold: float = 100e-6, center: bool = True, clip: float = 1.5,
                 yield_to: Callable[[], float] | None = None, frame_budget: float = 0.02,
                 theme: Theme | None = None,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        names = tuple(str(c) for c in ch_names)
        if not names:
            raise NeurospellError("ch_names must name at least one channel, got none.")
        self.ch_names = names
        self.sfreq = check_positive("sfreq", sfreq)
        self.window = check_range("window", window, 0.5, 120.0)
        self.scale = check_positive("scale", scale)
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 100:
            raise NeurospellError(f"max_points must be an integer >= 100, got {max_points!r}.")
        self.redraw_hz = check_range("redraw_hz", redraw_hz, 1.0, 240.0)
        self.flat_threshold = check_positive("flat_threshold", flat_threshold)
        self.rail_threshold = check_positive("rail_threshold", rail_threshold)
        self.noise_threshold = check_positive("noise_threshold", noise_threshold)
        self.center = bool(center)
        self.clip = check_range("clip", clip, 0.0, 1000.0)
        if yield_to is not None and not callable(yield_to):
            raise NeurospellError(f"yield_to must be callable or None, got {type(yield_to).__name__}.")
        self._yield_to = yield_to
        self.frame_budget = check_range("frame_budget", frame_budget, 0.0, 1.0)
        #: Redraws postponed because a more urgent view was about to draw.
        self.n_yielded = 0
        self._theme = theme or current_theme()

        n_ch = len(names)
        n_samples = self.sfreq * self.window
        if n_samples <= max_points:
            #: Samples per display bin (1: every sample drawn; else a min/max pair per bin).
            self.decimation = 1
            self.n_points = max(2, int(round(n_samples)))
        else:
            self.decimation = int(math.ceil(2 * n_samples / max_points))
            self.n_points = 2 * int(math.ceil(n_samples / self.decimation))
        self._points_per_s = self.n_points / self.window
        # Double-length ring: the last n_points in time order are always ring[:, pos:pos + n_points].
        self._ring = np.zeros((n_ch, 2 * self.n_points))
        self._pos = 0
        self._filled = 0
        self._carry = np.empty((n_ch, 0))
        self._disp = np.zeros((n_ch, self.n_points))
        self._x = np.linspace(-self.window, 0.0, self.n_points)
        self._dirty = False
        self._visible = np.ones(n_ch, dtype=bool)
        self._offsets = np.zeros(n_ch)
        self._center = np.zeros(n_ch)
        self._quality = ["ok"] * n_ch
        self._quality_every = 0.25
        self._last_quality = -math.inf
        self._lost = False
        #: Timestamp (LSL clock) of the last sample pushed, ``None`` before any.
        self.last_timestamp: float | None = None
        #: Samples pushed since construction.
        self.n_samples_pushed = 0
        #: Frames drawn (redraws that changed the curves) and paints of the plot.
        self.n_redraws = 0
        self.n_paints = 0

        self._build_ui()
        self._apply_layout()
        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._redraw)
        self._timer.start(max(1, int(round(1000.0 / self.redraw_hz))))

    # -- UI -----------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        th = self._theme
        self.setAccessibleName("EEG scope")
        self.setAccessibleDescription(
            f"Live signal of {len(self.ch_names)} channels at {self.sfreq:g} Hz, last {self.window:g} s."
        )

        self.status = QtWidgets.QLabel("", self)
        self.status.setAccessibleName("Stream status")
        self.status.setWordWrap(True)
        self.status.setStyleSheet(
            f"QLabel {{ background: {th.bad}; color: #000000; font-weight: bold; padding: 6px; }}"
        )
        self.status.hide()

        self.scale_box = QtWidgets.QComboBox(self)
        self.scale_box.setAccessibleName("Scale")
        self.scale_box.setAccessibleDescription("Signal amplitude that fills one channel's lane.")
        for v in SCALES_V:
            self.scale_box.addItem(_scale_text(v), v)
        if self.scale not in SCALES_V:
            self.scale_box.addItem(_scale_text(self.scale), self.scale)
        self.scale_box.setCurrentIndex(self.scale_box.findData(self.scale))
        self.scale_box.currentIndexChanged.connect(lambda _i: self.set_scale(self.scale_box.currentData()))
        scale_label = QtWidgets.QLabel("&Scale per channel:", self)
        scale_label.setBuddy(self.scale_box)

        self.channel_list = QtWidgets.QListWidget(self)
        self.channel_list.setAccessibleName("Channels")
        self.channel_list.setAccessibleDescription(
            "Check a channel to show it. Each entry gives the channel's signal quality: ok, noisy, flat or railed."
        )
        self.channel_list.setMaximumWidth(170)
        for name in self.ch_names:
            item = QtWidgets.QListWidgetItem(self._item_text(name, "ok"))
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Checked)
            self.channel_list.addItem(item)
        self.channel_list.itemChanged.connect(self._on_item_changed)

        self.plot_widget = pg.PlotWidget(parent=self, background=th.window)
        self.plot_widget.setAccessibleName("Traces")
        self.plot_widget.setAccessibleDescription("Scrolling traces, newest on the right.")
        # Not interactive (fixed ranges, no mouse): the keyboard skips it.
        self.plot_widget.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.plot_widget.viewport().setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.plot_widget.viewport().installEventFilter(self)
        plot = self.plot_widget.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.disableAutoRange()
        plot.showGrid(x=True, y=False, alpha=0.25)
        plot.setLabel("bottom", "time", units="s")
        for ax in ("left", "bottom"):
            axis = plot.getAxis(ax)
            axis.setPen(pg.mkPen(th.grid_line))
            axis.setTextPen(pg.mkPen(th.text))
            # The axes only change with the channel selection: cache them as pixmaps (replaying
            # 64 tick labels every frame costs more than drawing the traces).
            axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._plot = plot
        self._pen_ok = pg.mkPen(th.text, width=1)
        self._pens = {"ok": self._pen_ok, "noisy": pg.mkPen(th.warn, width=1),
                      "flat": pg.mkPen(th.bad, width=1), "railed": pg.mkPen(th.bad, width=1),
                      "lost": pg.mkPen(th.grid_line, width=1)}
        # PlotCurveItem, not PlotDataItem: a trace needs no symbols, downsampling or bounds
        # bookkeeping, and each redraw then costs less Python on the GUI thread.
        self.curves: list[pg.PlotCurveItem] = []
        for _ in self.ch_names:
            c = pg.PlotCurveItem(self._x, self._disp[0], pen=self._pen_ok, skipFiniteCheck=True)
            plot.addItem(c)
            self.curves.append(c)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(scale_label)
        top.addWidget(self.scale_box)
        top.addStretch(1)
        body = QtWidgets.QHBoxLayout()
        body.addWidget(self.channel_list)
        body.addWidget(self.plot_widget, 1)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.status)
        outer.addLayout(top)
        outer.addLayout(body, 1)

    @staticmethod
    def _item_text(name: str, state: str) -> str:
        return f"{name}: {state}"

    def _apply_layout(self) -> None:
        vis = np.flatnonzero(self._visible)
        n = len(vis)
        self._offsets[:] = 0.0
        # First visible channel at the top.
        self._offsets[vis] = np.arange(n - 1, -1, -1, dtype=float)
        for i, c in enumerate(self.curves):
            c.setVisible(bool(self._visible[i]))
        self._plot.getAxis("left").setTicks([[(self._offsets[i], self.ch_names[i]) for i in vis]])
        self._plot.setYRange(-0.75, max(n, 1) - 0.25, padding=0)
        self._plot.setXRange(-self.window, 0.0, padding=0)
        self._dirty = True

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QtCore.QEvent.Type.Paint:
            self.n_paints += 1
        return False

    # -- public -------------------------------------------------------------------------------
    def push(self, data, timestamps) -> None:
        """Add samples that arrived (call on the GUI thread, e.g. from the session's snapshot feed).

        Parameters
        ----------
        data : array, shape (n_channels, n_samples)
            Volts, channels in the order of ``ch_names``.
        timestamps : array, shape (n_samples,)
            Seconds on the LSL clock.
        """
        data = np.asarray(data, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64)
        n_ch = len(self.ch_names)
        if data.ndim != 2 or data.shape[0] != n_ch:
            raise NeurospellError(
                f"Scope.push: data must have shape ({n_ch}, n_samples) for the scope's {n_ch} channels, "
                f"got {data.shape}."
            )
        if ts.shape != (data.shape[1],):
            raise NeurospellError(
                f"Scope.push: timestamps must have shape ({data.shape[1]},) to match data, got {ts.shape}."
            )
        if data.shape[1] == 0:
            return
        if not np.isfinite(data).all():  # missing samples: drawn (and judged) as 0 V
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        self.n_samples_pushed += data.shape[1]
        self.last_timestamp = float(ts[-1])
        dec = self.decimation
        if dec == 1:
            pts = data
        else:
            if self._carry.shape[1]:
                data = np.concatenate([self._carry, data], axis=1)
            nb = data.shape[1] // dec
            self._carry = data[:, nb * dec:].copy()
            if nb == 0:
                return
            blocks = data[:, : nb * dec].reshape(n_ch, nb, dec)
            pts = np.empty((n_ch, 2 * nb))
            np.min(blocks, axis=2, out=pts[:, 0::2])
            np.max(blocks, axis=2, out=pts[:, 1::2])
        self._write(pts)
        now = time.perf_counter()
        if now - self._last_quality >= self._quality_every:
            self._last_quality = now
            self._update_quality()

    def push_chunk(self, chunk: SampleChunk) -> None:
        """Add a :class:`~neurospell.types.SampleChunk` of the scope's channels (see :meth:`push`)."""
        if not isinstance(chunk, SampleChunk):
            raise NeurospellError(f"push_chunk: chunk must be a SampleChunk, got {type(chunk).__name__}.")
        if chunk.ch_names != self.ch_names or chunk.sfreq != self.sfreq:
            raise NeurospellError(
                f"push_chunk: the chunk's channels/sampling rate ({len(chunk.ch_names)} channels at "
                f"{chunk.sfreq:g} Hz) differ from the scope's ({len(self.ch_names)} at {self.sfreq:g} Hz); "
                "make a new Scope for a new stream."
            )
        self.push(chunk.data, chunk.timestamps)

    def _write(self, pts: np.ndarray) -> None:
        n = self.n_points
        m = pts.shape[1]
        if m >= n:
            pts, m = pts[:, -n:], n
        idx = (self._pos + np.arange(m)) % n
        self._ring[:, idx] = pts
        self._ring[:, idx + n] = pts
        self._pos = (self._pos + m) % n
        self._filled = min(n, self._filled + m)
        self._dirty = True

    @property
    def display_buffer(self) -> np.ndarray:
        """The displayed values in time order (volts), shape (n_channels, n_points); read-only view."""
        view = self._ring[:, self._pos:self._pos + self.n_points]
        view = view.view()
        view.setflags(write=False)
        return view

    @property
    def quality(self) -> list[str]:
        """Quality state of each channel (one of :data:`QUALITY_STATES`)."""
        return list(self._quality)

    def _update_quality(self) -> None:
        n = min(self._filled, max(4, int(round(self._points_per_s))))
        if n < 4:
            return
        recent = self.display_buffer[:, -n:]
        med = np.median(recent, axis=1)
        if self.center:
            self._center[:] = med
        mad = np.median(np.abs(recent - med[:, None]), axis=1) * 1.4826
        ptp = np.ptp(recent, axis=1)
        absmed = np.median(np.abs(recent), axis=1)
        states = np.where(absmed >= self.rail_threshold, "railed",
                          np.where(ptp < self.flat_threshold, "flat",
                                   np.where(mad > self.noise_threshold, "noisy", "ok")))
        new = [str(s) for s in states]
        if new != self._quality:
            changed = [i for i, (a, b) in enumerate(zip(new, self._quality, strict=True)) if a != b]
            self._quality = new
            self.channel_list.blockSignals(True)
            for i in changed:
                self._style_channel(i)
            self.channel_list.blockSignals(False)
            self.qualityChanged.emit(list(new))

    def _style_channel(self, i: int) -> None:
        state = self._quality[i]
        item = self.channel_list.item(i)
        item.setText(self._item_text(self.ch_names[i], state))
        color = {"ok": self._theme.ok, "noisy": self._theme.warn}.get(state, self._theme.bad)
        item.setForeground(QtGui.QBrush(QtGui.QColor(color)))
        if not self._lost:
            self.curves[i].setPen(self._pens[state])

    def set_scale(self, volts: float) -> None:
        """Set the volts per channel spacing."""
        self.scale = check_positive("scale", volts)
        idx = self.scale_box.findData(self.scale)
        if idx >= 0 and idx != self.scale_box.currentIndex():
            self.scale_box.blockSignals(True)
            self.scale_box.setCurrentIndex(idx)
            self.scale_box.blockSignals(False)
        self._dirty = True

    def set_visible_channels(self, channels: Sequence[int | str]) -> None:
        """Show only ``channels`` (indices or names), in the scope's channel order."""
        mask = np.zeros(len(self.ch_names), dtype=bool)
        for ch in channels:
            if isinstance(ch, str):
                if ch not in self.ch_names:
                    raise NeurospellError(
                        f"set_visible_channels: unknown channel {ch!r}; the scope has {', '.join(self.ch_names)}."
                    )
                mask[self.ch_names.index(ch)] = True
            elif isinstance(ch, int | np.integer) and not isinstance(ch, bool) and 0 <= ch < len(self.ch_names):
                mask[int(ch)] = True
            else:
                raise NeurospellError(
                    f"set_visible_channels: channels must be names or indices in [0, {len(self.ch_names) - 1}], "
                    f"got {ch!r}."
                )
        self.channel_list.blockSignals(True)
        for i in range(len(self.ch_names)):
            self.channel_list.item(i).setCheckState(
                QtCore.Qt.CheckState.Checked if mask[i] else QtCore.Qt.CheckState.Unchecked
            )
        self.channel_list.blockSignals(False)
        self._visible = mask
        self._apply_layout()

    @property
    def visible_channels(self) -> list[str]:
        """Names of the channels shown."""
        return [n for n, v in zip(self.ch_names, self._visible, strict=True) if v]

    def _on_item_changed(self, item: QtWidgets.QListWidgetItem) -> None:
        i = self.channel_list.row(item)
        self._visible[i] = item.checkState() == QtCore.Qt.CheckState.Checked
        self._apply_layout()

    def set_stream_lost(self, lost: bool, reason: str = "") -> None:
        """Show (``lost=True``) or clear the "stream lost" state.

        Parameters
        ----------
        lost : bool
        reason : str
            Shown in the banner and read by screen readers (e.g. "no samples for 2.0 s").
        """
        self._lost = bool(lost)
        if self._lost:
            text = "Stream lost" + (f": {reason}" if reason else "")
            self.status.setText(text)
            self.status.setAccessibleDescription(text)
            self.status.show()
            for c in self.curves:
                c.setPen(self._pens["lost"])
        else:
            self.status.hide()
            self.status.setText("")
            self.status.setAccessibleDescription("")
            for i, c in enumerate(self.curves):
                c.setPen(self._pens[self._quality[i]])
        self._dirty = True

    @property
    def stream_lost(self) -> bool:
        """Whether the "stream lost" state is shown."""
        return self._lost

    # -- drawing ------------------------------------------------------------------------------
    @QtCore.Slot()
    def _redraw(self) -> None:
        if not self._dirty or not self.isVisible():
            return
        if self._yield_to is not None and self._yield_to() < self.frame_budget:
            self.n_yielded += 1
            return
        self._dirty = False
        gain = 1.0 / self.scale
        src = self._ring[:, self._pos:self._pos + self.n_points]
        for i in np.flatnonzero(self._visible):
            row = self._disp[i]
            np.subtract(src[i], self._center[i], out=row)
            row *= gain
            if self.clip:
                np.clip(row, -self.clip, self.clip, out=row)
            row += self._offsets[i]
            self.curves[i].setData(self._x, row, skipFiniteCheck=True)
        self.n_redraws += 1
