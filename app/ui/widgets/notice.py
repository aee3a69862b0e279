"""The one message strip every panel shows above its content: notes, warnings and errors.

One look for every panel (the colours come from the style sheet through the ``kind``
property, so it is re-polished whenever the kind changes). Long text wraps; links open
in the browser only when the caller allows it. A message made with
:func:`app.base.messages.with_details` shows its first part, and a "Details" link that
shows the technical rest (for a bug report) and hides it again.
"""

from __future__ import annotations

import html
from typing import Literal

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QWidget

from app.base.messages import split_details

NoticeKind = Literal["info", "warning", "error"]


class Notice(QLabel):
    """A hidden-until-needed strip: ``show_message(text, kind)`` and ``clear()``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.setProperty("kind", "info")
        self.setVisible(False)
        self._message = self._details = ""
        self._details_shown = False
        self.linkActivated.connect(self._on_link)

    @property
    def kind(self) -> NoticeKind:
        value = self.property("kind")
        return value if value in ("info", "warning", "error") else "info"

    @property
    def message(self) -> str:
        """The message shown, without its details."""
        return self._message

    @property
    def details(self) -> str:
        """The technical details under the "Details" link ("" when the message has none)."""
        return self._details

    def show_message(self, text: str, kind: NoticeKind = "info") -> None:
        """Show ``text`` styled as ``kind``; technical details after a blank line go under "Details"."""
        self._message, self._details = split_details(text)
        self._details_shown = False
        self._render()
        if self.property("kind") != kind:
            self.setProperty("kind", kind)
            self.style().unpolish(self)
            self.style().polish(self)
        self.setVisible(True)

    def clear_message(self) -> None:
        """Hide the strip."""
        self._message = self._details = ""
        self.setTextFormat(Qt.TextFormat.AutoText)
        self.setText("")
        self.setVisible(False)

    def show_details(self, shown: bool = True) -> None:
        """Show or hide the technical details (what the "Details" link toggles)."""
        self._details_shown = shown and bool(self._details)
        self._render()

    @property
    def details_shown(self) -> bool:
        return self._details_shown

    def _render(self) -> None:
        if not self._details:
            self.setTextFormat(Qt.TextFormat.AutoText)  # as before: callers may pass rich text with links
            self.setText(self._message)
            return
        self.setTextFormat(Qt.TextFormat.RichText)
        link = self.tr("Hide details") if self._details_shown else self.tr("Details")
        text = f'{html.escape(self._message)} &nbsp;<a href="#details">{html.escape(link)}</a>'
        if self._details_shown:
            text += f"<br><small>{html.escape(self._details)}</small>"
        self.setText(text)

    @Slot(str)
    def _on_link(self, href: str) -> None:
        if href == "#details":
            self.show_details(not self._details_shown)
