"""How a sidebar row looks: the title on top, a date or a search snippet below in a quieter colour.

A search match is drawn highlighted (the history brackets it with control characters, never
with characters a message could contain), and a snippet is shown from just before its
first match, so the match is never cut off at the row's end. The open chat is drawn bold.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from PySide6.QtCore import QDate, QLocale, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTime
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.chat.history import MATCH_END, MATCH_START

SUBTITLE_ROLE = Qt.ItemDataRole.UserRole + 2  # the second line: a date, or a snippet with marked matches
CURRENT_ROLE = Qt.ItemDataRole.UserRole + 3  # True for the open chat
LEAD = 24  # characters of a snippet kept before its first match
PADDING = 4


def when(timestamp: float, now: dt.datetime | None = None) -> str:
    """A chat's last change as a person reads it: the time today, else the date (in the UI's locale)."""
    moment = dt.datetime.fromtimestamp(timestamp)
    now = now or dt.datetime.now()
    locale = QLocale()
    if moment.date() == now.date():
        return str(locale.toString(QTime(moment.hour, moment.minute), QLocale.FormatType.ShortFormat))
    return str(locale.toString(QDate(moment.year, moment.month, moment.day), QLocale.FormatType.ShortFormat))


def snippet_html(snippet: str, highlight: str, highlight_text: str) -> str:
    """The snippet as HTML from shortly before its first match, each match highlighted."""
    text = " ".join(snippet.split())
    first = text.find(MATCH_START)
    if first > LEAD:
        text = "…" + text[first - LEAD:].lstrip("…")
    out: list[str] = []
    for i, part in enumerate(text.split(MATCH_START)):
        if i == 0:
            out.append(escape(part.replace(MATCH_END, "")))
            continue
        match, _, rest = part.partition(MATCH_END)
        out.append(f'<span style="background-color:{highlight}; color:{highlight_text}; font-weight:600">'
                   f"{escape(match)}</span>{escape(rest)}")
    return "".join(out)


class SidebarDelegate(QStyledItemDelegate):
    """Two lines per row: the title, and below it the date or the matched text."""

    def _document(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QTextDocument:
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_color = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        quiet = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText)
        highlight = palette.color(QPalette.ColorRole.Highlight).name()  # with its own text colour: both themes
        highlight_text = palette.color(QPalette.ColorRole.HighlightedText).name()
        title = escape(str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        if index.data(CURRENT_ROLE):
            title = f"<b>{title}</b>"
        subtitle = str(index.data(SUBTITLE_ROLE) or "")
        second = snippet_html(subtitle, highlight, highlight_text) if MATCH_START in subtitle else escape(subtitle)
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(PADDING)
        doc.setHtml(f'<div style="color:{text_color.name()}; white-space:pre">{title}</div>'
                    f'<div style="color:{quiet.name()}; font-size:small; white-space:pre">{second}</div>')
        return doc

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        view_option = QStyleOptionViewItem(option)
        self.initStyleOption(view_option, index)
        doc = self._document(view_option, index)
        view_option.text = ""
        widget = view_option.widget
        style = widget.style() if isinstance(widget, QWidget) else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, view_option, painter, widget)
        rect: QRect = view_option.rect
        painter.save()
        painter.translate(rect.topLeft())
        painter.setClipRect(0, 0, rect.width(), rect.height())
        context = QAbstractTextDocumentLayout.PaintContext()
        doc.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt's name
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        lines = option.fontMetrics.height() * 2 + 2 * PADDING + 2
        return QSize(option.rect.width(), lines)
