"""Where an API key is kept, said in the interface's language (never the key itself).

:func:`app.base.credentials.describe` says it in English for the command line; the window
says it through Qt's translations, from the same reference.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.base import credentials


def key_place(reference: str | None) -> str:
    """'the system keyring', 'a file only you can read: PATH', ... in the UI's language."""
    if reference is None:
        return QCoreApplication.translate("KeyPlace", "no API key")
    if reference.startswith(credentials.ENV_PREFIX):
        return QCoreApplication.translate("KeyPlace", "the environment variable %1").replace(
            "%1", reference[len(credentials.ENV_PREFIX):])
    if reference.startswith(credentials.KEYRING_PREFIX):
        return QCoreApplication.translate("KeyPlace", "the system keyring")
    if reference.startswith(credentials.FILE_PREFIX):
        return QCoreApplication.translate("KeyPlace", "a file only you can read: %1").replace(
            "%1", str(credentials.keys_path()))
    return credentials.describe(reference)
