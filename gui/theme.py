"""High-contrast dark theme and font scale for the speller's Qt views.

The speller is used by people with limited vision and motor control, often for hours:
the default is a dark, high-contrast palette (white on black, a yellow focus/highlight
colour that is distinct from the flash colour) with large text. It follows the system's
contrast preference where Qt exposes it (``QStyleHints.accessibility().contrastPreference()``,
Qt >= 6.10) and its colour scheme (``QStyleHints.colorScheme()``, Qt >= 6.5): with
``mode="auto"`` the high-contrast theme is used when the system asks for high contrast or a
dark scheme, or when it says nothing; the light variant only when the system asks for a light
scheme without high contrast.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import check_option, check_range

__all__ = ["Theme", "HIGH_CONTRAST", "LIGHT", "system_prefers_high_contrast", "theme_for", "theme_for_system",
           "apply_theme", "current_theme"]


@dataclass(frozen=True)
class Theme:
    """Colours of the speller views (``#rrggbb`` strings).

    Attributes
    ----------
    name : str
    window, text : str
        Background and text of ordinary widgets.
    cell, cell_text : str
        A speller cell at rest and its symbol.
    flash, flash_text : str
        A flashed (intensified) cell and its symbol.
    focus : str
        Keyboard focus and highlight (distinct from ``flash``: it must never look like a stimulus).
    ok, warn, bad : str
        Signal quality colours (good, noisy, flat/railed or lost).
    grid_line : str
        Lines between cells and scope axes.
    """

    name: str
    window: str
    text: str
    cell: str
    cell_text: str
    flash: str
    flash_text: str
    focus: str
    ok: str
    warn: str
    bad: str
    grid_line: str

    def qcolor(self, role: str) -> QtGui.QColor:
        """The colour of ``role`` (an attribute name) as a ``QColor``."""
        return QtGui.QColor(getattr(self, role))


#: Dark high-contrast theme (the default).
HIGH_CONTRAST = Theme(
    name="high-contrast",
    window="#000000",
    text="#ffffff",
    cell="#000000",
    cell_text="#a0a0a0",
    flash="#ffffff",
    flash_text="#000000",
    focus="#ffd700",
    ok="#00e000",
    warn="#ffb000",
    bad="#ff3030",
    grid_line="#404040",
)

#: Light theme, used only when the system asks for a light scheme without high contrast.
LIGHT = Theme(
    name="light",
    window="#f4f4f4",
    text="#000000",
    cell="#202020",
    cell_text="#9a9a9a",
    flash="#ffffff",
    flash_text="#000000",
    focus="#0050d0",
    ok="#007a00",
    warn="#a05a00",
    bad="#c00000",
    grid_line="#808080",
)

_current: Theme = HIGH_CONTRAST


def system_prefers_high_contrast(app: QtGui.QGuiApplication | None = None) -> bool | None:
    """Whether the system asks for high contrast; ``None`` when Qt cannot tell.

    Reads ``QStyleHints.accessibility().contrastPreference()`` (Qt >= 6.10).
    """
    app = app or QtGui.QGuiApplication.instance()
    if app is None:
        return None
    hints = app.styleHints()
    access = getattr(hints, "accessibility", None)
    if access is None:
        return None
    pref = access().contrastPreference()
    high = getattr(QtCore.Qt.ContrastPreference, "HighContrast", None)
    no_pref = getattr(QtCore.Qt.ContrastPreference, "NoPreference", None)
    if pref == high:
        return True
    if pref == no_pref:
        return None
    return False


def theme_for(high_contrast: bool | None, color_scheme: QtCore.Qt.ColorScheme | None) -> Theme:
    """The theme ``mode="auto"`` picks for a contrast preference and a colour scheme.

    Parameters
    ----------
    high_contrast : bool | None
        The system asks for high contrast (``None``: no preference known).
    color_scheme : Qt.ColorScheme | None
        The system's colour scheme (``None`` or ``Unknown``: not known).

    Returns
    -------
    theme : Theme
        :data:`LIGHT` only for a light scheme without high contrast, else :data:`HIGH_CONTRAST`.
    """
    if not high_contrast and color_scheme == QtCore.Qt.ColorScheme.Light:
        return LIGHT
    return HIGH_CONTRAST


def theme_for_system(app: QtGui.QGuiApplication | None = None) -> Theme:
    """The theme ``mode="auto"`` picks for the system's contrast and colour-scheme preferences."""
    app = app or QtGui.QGuiApplication.instance()
    scheme = app.styleHints().colorScheme() if app is not None else None
    return theme_for(system_prefers_high_contrast(app), scheme)


def current_theme() -> Theme:
    """The theme last applied with :func:`apply_theme` (high contrast before any)."""
    return _current


def apply_theme(app: QtWidgets.QApplication, mode: str = "auto", font_scale: float = 1.0) -> Theme:
    """Apply a palette, a focus style and a font scale to the whole application.

    Parameters
    ----------
    app : QApplication
    mode : ``"auto"`` | ``"high-contrast"`` | ``"light"``
        ``"auto"`` follows the system (see the module docstring).
    font_scale : float
        Multiplies the application's default point size, in [0.5, 4].

    Returns
    -------
    theme : Theme
        The applied theme (views created afterwards read it through :func:`current_theme`).
    """
    global _current
    check_option("mode", mode, ("auto", "high-contrast", "light"))
    font_scale = check_range("font_scale", font_scale, 0.5, 4.0)
    theme = {"auto": None, "high-contrast": HIGH_CONTRAST, "light": LIGHT}[mode] or theme_for_system(app)
    pal = QtGui.QPalette()
    role = QtGui.QPalette.ColorRole
    for r, c in (
        (role.Window, theme.window), (role.WindowText, theme.text), (role.Base, theme.window),
        (role.AlternateBase, theme.grid_line), (role.Text, theme.text), (role.Button, theme.window),
        (role.ButtonText, theme.text), (role.Highlight, theme.focus), (role.HighlightedText, theme.window),
        (role.ToolTipBase, theme.window), (role.ToolTipText, theme.text), (role.PlaceholderText, theme.cell_text),
    ):
        pal.setColor(r, QtGui.QColor(c))
    if app.palette() != pal:
        app.setPalette(pal)
    base = app.property("_neurospell_base_point_size")
    if base is None:
        base = app.font().pointSizeF()
        app.setProperty("_neurospell_base_point_size", base)
    font = app.font()
    font.setPointSizeF(float(base) * font_scale)
    app.setFont(font)
    # Visible keyboard focus on every widget: a thick outline in the focus colour.
    # (the speller grid and the scope draw their own focus frame.)
    controls = ("QAbstractButton", "QLineEdit", "QComboBox", "QAbstractSpinBox", "QAbstractItemView", "QSlider",
                "QLabel", "QTabBar", "QProgressBar")
    sheet = ", ".join(f"{c}:focus" for c in controls) + f" {{ border: 3px solid {theme.focus}; }}"
    if app.styleSheet() != sheet:  # a new style sheet re-polishes every widget: only when it changed
        app.setStyleSheet(sheet)
    _current = theme
    return theme
