"""A push button added to a row, named for tests and style sheets, wired to its slot."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QPushButton


def add_button(text: str, name: str, slot: Callable[[], object], row: QHBoxLayout) -> QPushButton:
    """The button ``text`` (object name ``name``) at the end of ``row``; clicking it calls ``slot``."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.clicked.connect(slot)
    row.addWidget(button)
    return button
