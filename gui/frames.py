"""Display frames and onset stamping: durations in whole frames, the screen's refresh rate,
and the OpenGL probe that stamps each flash onset after its frame's buffer swap (see
"Onset stamping" in :mod:`neurospell.gui.grid`)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtOpenGLWidgets import QOpenGLWidget

from neurospell.check import NeurospellError, check_positive
from neurospell.logs import logger

if TYPE_CHECKING:
    from .grid import SpellerGrid

__all__ = ["frames_for_duration", "screen_refresh_rate", "swap_stamping_mode", "SWAP_STAMPING"]


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
