"""A short note while a base model is loaded: it continues text, it does not follow instructions.

The starter model is such a model. Shown on the panels where that matters (chat, summarize,
translate), with one button that leads to the chat model recommended for this machine in the
Models tab's catalog. A model without a chat template is taken for a base model: instruct
models ship their template (``app.engines.completion.is_base_model``, the rule the features
use to prompt it in completion style).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.engines.completion import is_base_model
from app.ui.engine.controller import EngineController

__all__ = ["BaseModelNote", "is_base_model"]


class BaseModelNote(QWidget):
    """Visible while the loaded model is a base model.

    ``get_model_requested``: show the Models tab's catalog with its recommended pick
    (``ModelsPanel.show_recommended``).
    """

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
        self.button.setToolTip(self.tr("Shows the chat model recommended for this computer, ready to download"))
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
