"""Telling the user that the settings file could not be used as it was.

:class:`~app.base.settings.Settings` never refuses to start: a corrupt file is moved
aside and invalid or unknown values are dropped, each with a line in
:attr:`~app.base.settings.Settings.problems`. The window shows this text once, as a warning.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.base.settings import Settings


def problems_notice(settings: Settings) -> str | None:
    """The warning to show at start-up, one problem a line; None when the file was fine."""
    if not settings.problems:
        return None
    heading = QCoreApplication.translate(
        "SettingsDialog", "Kestrel could not use all of your saved settings; it uses the defaults instead:")
    return "\n".join([heading, *settings.problems])
