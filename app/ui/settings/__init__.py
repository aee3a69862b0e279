"""The settings dialog, built from the SETTINGS declaration."""

from app.ui.settings.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
