"""Light and dark: the ``theme`` setting, following the system by default, switched live.

Qt's own colour-scheme hint only changes the palette where the platform supports it, so
the dark palette is Kestrel's (Fusion's usual dark colours); the style sheet speaks in
``palette(...)`` roles and translucent tints, so it reads on both once re-applied.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

LIGHT, DARK = "light", "dark"


def dark_palette() -> QPalette:
    """A dark palette with the contrast of Fusion's light one (text on base well over 4.5:1)."""
    palette = QPalette()
    roles = QPalette.ColorRole
    colors = {
        roles.Window: "#2b2d30", roles.WindowText: "#e6e6e6", roles.Base: "#1e1f22",
        roles.AlternateBase: "#26282b", roles.ToolTipBase: "#3c3f41", roles.ToolTipText: "#e6e6e6",
        roles.PlaceholderText: "#9a9da1", roles.Text: "#e6e6e6", roles.Button: "#3c3f41",
        roles.ButtonText: "#e6e6e6", roles.BrightText: "#ff6b6b", roles.Link: "#6aa9ff",
        roles.LinkVisited: "#b48ef0", roles.Highlight: "#2f65ca", roles.HighlightedText: "#ffffff",
        roles.Light: "#4a4d50", roles.Midlight: "#3f4245", roles.Mid: "#8a8d91", roles.Dark: "#1a1b1d",
        roles.Shadow: "#000000",
    }
    for role, value in colors.items():
        palette.setColor(role, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor("#7a7d81"))
    return palette


def light_palette(app: QApplication) -> QPalette:
    """The style's own light palette with a deeper selection colour (white on it reads at 4.5:1 and more)."""
    palette = app.style().standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor("#2f65ca"))
    return palette


def scheme_for(choice: str, app: QApplication) -> str:
    """``light`` or ``dark`` for the setting's value (``system``: what the platform says, else light)."""
    if choice in (LIGHT, DARK):
        return choice
    return DARK if app.styleHints().colorScheme() == Qt.ColorScheme.Dark else LIGHT


def apply_theme(app: QApplication, choice: str) -> str:
    """Switch every window to the theme (live); returns the scheme now shown."""
    scheme = scheme_for(choice, app)
    app.setPalette(dark_palette() if scheme == DARK else light_palette(app))
    app.setStyleSheet(app.styleSheet())  # the sheet's palette(...) references are resolved again
    app.setProperty("kestrelTheme", scheme)
    return scheme


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21): what "readable" is checked against."""
    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
