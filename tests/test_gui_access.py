"""Accessibility basics: names on every focusable widget, visible focus, high-contrast theme, font scale."""

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.gui._preview import build_window
from neurospell.gui.theme import (
    HIGH_CONTRAST,
    LIGHT,
    apply_theme,
    current_theme,
    system_prefers_high_contrast,
    theme_for,
    theme_for_system,
)


def test_every_focusable_widget_has_an_accessible_name(qtbot, restore_app_look):
    apply_theme(restore_app_look, "high-contrast")
    win, grid, scope = build_window()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    focusable = [w for w in win.findChildren(QtWidgets.QWidget)
                 if w.isVisible() and w.focusPolicy() != QtCore.Qt.FocusPolicy.NoFocus]
    assert grid in focusable and scope.scale_box in focusable and scope.channel_list in focusable
    unnamed = [f"{type(w).__name__} {w.objectName()!r}" for w in focusable if not w.accessibleName().strip()]
    assert not unnamed, f"focusable widgets without an accessible name: {unnamed}"
    assert grid.accessibleDescription() and scope.channel_list.accessibleDescription()
    # Tab reaches every focusable control from the grid, keyboard only.
    grid.setFocus()
    qtbot.waitUntil(grid.hasFocus, timeout=5000)
    reached = {grid}
    for _ in range(len(focusable) + 2):
        qtbot.keyClick(QtWidgets.QApplication.focusWidget(), QtCore.Qt.Key.Key_Tab)
        reached.add(QtWidgets.QApplication.focusWidget())
    assert set(focusable) <= reached


def test_high_contrast_theme_and_font_scale(qtbot, restore_app_look):
    app = restore_app_look
    # the size the scale applies to: the application's font before any theme was applied (a window
    # built by an earlier test may have left its scaled font on the application)
    base = app.property("_neurospell_base_point_size") or app.font().pointSizeF()
    th = apply_theme(app, "high-contrast", font_scale=1.5)
    assert th is HIGH_CONTRAST and current_theme() is HIGH_CONTRAST
    assert app.palette().color(QtGui.QPalette.ColorRole.Window).name() == "#000000"
    assert app.palette().color(QtGui.QPalette.ColorRole.WindowText).name() == "#ffffff"
    assert app.font().pointSizeF() == pytest.approx(1.5 * base)
    apply_theme(app, "light", font_scale=2.0)  # scales from the original size, not cumulatively
    assert app.font().pointSizeF() == pytest.approx(2.0 * base) and current_theme() is LIGHT
    # The flash colour and the focus colour never look alike, and text contrasts with the cells.
    for t in (HIGH_CONTRAST, LIGHT):
        assert t.flash != t.focus and t.cell_text != t.cell and t.flash_text != t.flash
    # Offscreen Qt reports no contrast preference and no colour scheme: auto is high contrast.
    assert system_prefers_high_contrast(app) is None
    assert theme_for_system(app) is HIGH_CONTRAST
    assert apply_theme(app, "auto") is HIGH_CONTRAST
    with pytest.raises(NeurospellError, match="'mode' parameter.*'auto', 'high-contrast', 'light'.*'dark'"):
        apply_theme(app, "dark")
    with pytest.raises(NeurospellError, match="font_scale"):
        apply_theme(app, font_scale=10)


def test_auto_theme_follows_contrast_and_colour_scheme():
    scheme = QtCore.Qt.ColorScheme
    assert theme_for(True, scheme.Light) is HIGH_CONTRAST  # high contrast wins
    assert theme_for(None, scheme.Light) is LIGHT
    assert theme_for(False, scheme.Light) is LIGHT
    assert theme_for(None, scheme.Dark) is HIGH_CONTRAST
    assert theme_for(None, scheme.Unknown) is HIGH_CONTRAST
    assert theme_for(None, None) is HIGH_CONTRAST
