"""The context-budget line says when its count is an estimate (a server that cannot tokenize)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.ui.chat.budget import BudgetLabel


def test_an_exact_count_and_an_estimate_read_differently(qtbot: QtBot) -> None:
    label = BudgetLabel()
    qtbot.addWidget(label)
    label.show_budget(1234, 4096, 1024, "drop_oldest")
    assert label.text() == "Context: 1,234 / 4,096 tokens, 1,024 kept for the answer"
    label.show_budget(1234, 4096, 1024, "drop_oldest", exact=False)
    assert label.text() == "Context: about 1,234 / 4,096 tokens (estimated), 1,024 kept for the answer"
    label.show_budget(3500, 4096, 1024, "refuse", exact=False)
    assert label.text().endswith("(estimated), 1,024 kept for the answer — too long: sending will be refused")
    assert label.property("over") is True
