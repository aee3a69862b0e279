"""The one message strip every panel shows above its content: notes, warnings and errors.

One look for every panel (the colours come from the style sheet through the ``kind``
property, so it is re-polished whenever the kind changes). Long text wraps; links open
in the browser only when the caller allows it.
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

NoticeKind = Literal["info", "warning", "error"]


class Notice(QLabel):
    """A hidden-until-needed strip: ``show_message(text, kind)`` and ``clear()``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setProperty("kind", "info")
        self.setVisible(False)

    @property
    def kind(self) -> NoticeKind:
        value = self.property("kind")
        return value if value in ("info", "warning", "error") else "info"

    def show_message(self, text: str, kind: NoticeKind = "info") -> None:
        """Show ``text`` styled as ``kind``."""
        self.setText(text)
        if self.property("kind") != kind:
            self.setProperty("kind", kind)
            self.style().unpolish(self)
            self.style().polish(self)
        self.setVisible(True)

    def clear_message(self) -> None:
        """Hide the strip."""
        self.setText("")
        self.setVisible(False)
