"""The one-line message strip every panel shows above its content (errors in red, notes in blue).

The colours come from the style sheet (``[error="true"]``), so the property must be
re-polished whenever it changes.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


def show_banner(label: QLabel, text: str, *, error: bool) -> None:
    """Show ``text`` in ``label``, styled as an error or as a note."""
    label.setText(text)
    label.setProperty("error", error)
    label.style().unpolish(label)
    label.style().polish(label)
    label.setVisible(True)
