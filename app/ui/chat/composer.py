"""Where the user writes a turn: the edit note, the attached document, the input, its buttons and the budget."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.ui.chat.budget import BudgetLabel
from app.ui.chat.document_ask import DocumentAsk
from app.ui.chat.input_box import InputBox


class Composer(QWidget):
    """The widgets under the messages; the chat panel wires them (it owns what they do)."""

    def __init__(self, documents: DocumentAsk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        bottom = QVBoxLayout(self)
        bottom.setContentsMargins(16, 6, 16, 10)
        self.edit_note = QLabel("")
        self.edit_note.setObjectName("editNote")
        self.edit_note.setVisible(False)
        bottom.addWidget(self.edit_note)
        self.attachment = documents.bar
        bottom.addWidget(self.attachment)
        row = QHBoxLayout()
        self.attach_button = documents.button
        row.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignTop)
        self.input = InputBox()
        row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        self.send_button = QPushButton(self.tr("Send"))
        self.send_button.setObjectName("sendButton")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setObjectName("stopButton")
        self.cancel_edit_button = QPushButton(self.tr("Cancel edit"))
        self.cancel_edit_button.setVisible(False)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.cancel_edit_button)
        row.addLayout(buttons)
        bottom.addLayout(row)
        self.budget_label = BudgetLabel()
        bottom.addWidget(self.budget_label)
