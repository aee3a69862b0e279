"""The settings dialog, built from the SETTINGS declaration, and the start-up notice about a bad file."""

from app.ui.settings.dialog import SettingsDialog
from app.ui.settings.problems import problems_notice

__all__ = ["SettingsDialog", "problems_notice"]
