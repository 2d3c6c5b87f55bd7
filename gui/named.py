"""Controls with an accessible name and description (every control of the window has both)."""

from __future__ import annotations

from PySide6 import QtWidgets

__all__ = ["button", "named"]


def button(text: str, name: str, description: str) -> QtWidgets.QPushButton:
    """A push button named ``name``; ``text`` (with its ``&`` mnemonic) is also its accessible name."""
    b = QtWidgets.QPushButton(text)
    b.setObjectName(name)
    b.setAccessibleName(text.replace("&", ""))
    b.setAccessibleDescription(description)
    b.setToolTip(description)
    b.setAutoDefault(False)
    return b


def named(widget: QtWidgets.QWidget, name: str, description: str) -> QtWidgets.QWidget:
    """``widget`` with the accessible ``name`` and ``description`` (also its tooltip)."""
    widget.setObjectName(name.lower().replace(" ", "_"))
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(description)
    widget.setToolTip(description)
    return widget
