"""The context-budget line under the chat input: tokens the next request will take, before sending."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QWidget


class BudgetLabel(QLabel):
    """'Context: 1,234 / 4,096 tokens, 1,024 kept for the answer', flagged when it will not fit.

    Strings stay in the "ChatPanel" translation context, where they were first translated.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("budgetLabel")

    def show_budget(self, tokens: int, n_ctx: int, reserve: int, policy: str, exact: bool = True) -> None:
        """``exact`` False: the count is an estimate (a server without a tokenizer), and the line says so."""
        translate = QCoreApplication.translate
        if exact:
            template = translate("ChatPanel", "Context: %1 / %2 tokens, %3 kept for the answer")
        else:
            template = translate("ChatPanel", "Context: about %1 / %2 tokens (estimated), %3 kept for the answer")
        text = template.replace(
            "%1", f"{tokens:,}").replace("%2", f"{n_ctx:,}").replace("%3", f"{reserve:,}")
        over = tokens + reserve > n_ctx
        if over and policy == "drop_oldest":
            text += translate("ChatPanel", " — too long: the oldest turns will be left out")
        elif over:
            text += translate("ChatPanel", " — too long: sending will be refused")
        self.setText(text)
        self.setProperty("over", over)  # the style sheet colours [over="true"]
        self.style().unpolish(self)
        self.style().polish(self)
