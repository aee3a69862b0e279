"""A short note while a base model is loaded: it continues text, it does not follow instructions.

The starter model is such a model. Shown on the panels where that matters (chat, summarize,
translate), with one button that opens the Models tab to get a chat model. A model without
a chat template is taken for a base model: instruct models ship their template.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.engines.contract import LoadedModel, LocalModel
from app.ui.engine.controller import EngineController


def is_base_model(loaded: LoadedModel | None) -> bool:
    """A local model with no chat template of its own (prompted as plain text)."""
    return loaded is not None and isinstance(loaded.spec, LocalModel) and loaded.chat_format == "plain"


class BaseModelNote(QWidget):
    """Visible while the loaded model is a base model; ``get_model_requested`` opens the Models tab."""

    get_model_requested = Signal()

    def __init__(self, controller: EngineController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("baseModelNote")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setObjectName("baseModelText")
        self.label.setWordWrap(True)
        row.addWidget(self.label, 1)
        self.button = QPushButton(self.tr("Get a chat model…"))
        self.button.setObjectName("getChatModelButton")
        self.button.clicked.connect(self.get_model_requested)
        row.addWidget(self.button)
        self._controller = controller
        controller.state_changed.connect(lambda _state: self._update())
        controller.loaded.connect(lambda _loaded: self._update())
        self._update()

    def _update(self) -> None:
        loaded = self._controller.model
        if not is_base_model(loaded):
            self.setVisible(False)
            return
        assert loaded is not None
        self.label.setText(self.tr("%1 is a base model: it continues text rather than following instructions, "
                                   "so its answers, summaries and translations are rough. A chat model does "
                                   "much better.").replace("%1", loaded.name))
        self.setVisible(True)
