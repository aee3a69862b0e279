"""The message input: Enter sends, Shift+Enter starts a new line; a dropped or pasted file is attached."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QSizePolicy, QWidget


class InputBox(QPlainTextEdit):
    """Plain text only (pasted rich text would hide characters the model then sees)."""

    submitted = Signal()
    files_dropped = Signal(object)  # QMimeData with local files, dropped or pasted: the chat attaches them

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatInput")
        self.setPlaceholderText(self.tr("Message Kestrel…  (Enter to send, Shift+Enter for a new line)"))
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(72)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            if not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                self.submitted.emit()
                return
        super().keyPressEvent(event)

    @staticmethod
    def _has_files(source: QMimeData) -> bool:
        return source.hasUrls() and any(url.isLocalFile() for url in source.urls())

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802 - Qt override
        return self._has_files(source) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 - Qt override
        """A file is attached, not typed in as its path."""
        if self._has_files(source):
            self.files_dropped.emit(source)
            return
        super().insertFromMimeData(source)
