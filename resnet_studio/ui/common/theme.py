"""Light and dark looks. "system" keeps the platform's palette (Qt follows its colour scheme)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def apply_theme(app: QApplication, theme: str = "system") -> None:
    app.setStyle("Fusion")
    if theme == "dark":
        app.setPalette(_dark())
    elif theme == "light":
        app.setPalette(app.style().standardPalette())


def _dark() -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    colours = {
        roles.Window: "#2b2d30",
        roles.WindowText: "#e6e6e6",
        roles.Base: "#1e1f22",
        roles.AlternateBase: "#26282b",
        roles.ToolTipBase: "#3c3f41",
        roles.ToolTipText: "#e6e6e6",
        roles.Text: "#e6e6e6",
        roles.Button: "#3c3f41",
        roles.ButtonText: "#e6e6e6",
        roles.BrightText: "#ff6b6b",
        roles.Highlight: "#3d7be0",
        roles.HighlightedText: "#ffffff",
        roles.Link: "#6ea8ff",
        roles.Mid: "#5a5d61",
        roles.Dark: "#202124",
        roles.Light: "#4a4d50",
        roles.PlaceholderText: "#8a8d91",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7d81"))
    return p
