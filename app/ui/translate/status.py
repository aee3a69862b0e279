"""What the translation panel shows: warnings, progress and summary lines, and the
streaming translation view (only the current segment's text is ever rewritten)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QLocale
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPlainTextEdit

from app.base.units import format_duration
from app.translate.runner import SegmentDone, TranslationResult, TranslationWarning
from app.ui.translate import names

# The panel's own look (kestrel.qss styles the rest of the app the same way).
STYLE = (
    "#translateWarnings { background: rgba(230, 160, 40, 0.10); border: none; }"
    "#documentHeader { font-weight: 600; padding: 4px; }"
)


class StatusMixin:
    """Mixed into TranslatePanel (a QWidget), which owns the widgets used here."""

    warnings: QListWidget
    translation_view: QPlainTextEdit
    ui_locale: QLocale
    _segment_start: int

    if TYPE_CHECKING:
        def tr(self, text: str, disambiguation: str | None = None, n: int = -1) -> str: ...  # QWidget's

    def _add_warning(self, warning: TranslationWarning) -> None:
        text = self.tr("Segment %1: %2").replace("%1", str(warning.segment + 1)).replace("%2", warning.message)
        item = QListWidgetItem(text)
        item.setData(256, warning.segment)  # Qt.UserRole: the 0-based segment index
        self.warnings.addItem(item)
        rows = min(self.warnings.count(), 4)  # as tall as its rows, up to four; it scrolls beyond
        row_height = max(self.warnings.sizeHintForRow(0), 16)
        self.warnings.setFixedHeight(rows * row_height + 2 * self.warnings.frameWidth() + 4)
        self.warnings.setVisible(True)

    def _clear_warnings(self) -> None:
        self.warnings.clear()
        self.warnings.setVisible(False)

    def warning_texts(self) -> list[str]:
        """The warnings as shown (tests and accessibility)."""
        return [self.warnings.item(i).text() for i in range(self.warnings.count())]

    def _progress_text(self, done: SegmentDone) -> str:
        text = self.tr("Segment %1 of %2").replace("%1", str(done.index + 1)).replace("%2", str(done.total))
        if done.eta_s is not None and done.index + 1 < done.total:
            text += " · " + self.tr("about %1 left").replace("%1", format_duration(done.eta_s))
        return text

    def _summary_text(self, result: TranslationResult) -> str:
        n, total = result.segments_translated, result.segments
        took = format_duration(result.seconds)
        if result.cancelled or result.error:
            text = self.tr("Stopped: %1 of %2 segments translated; the rest stays in the source language.")
        else:
            text = self.tr("Translated %1 of %2 segments in %3.")
        text = text.replace("%1", str(n)).replace("%2", str(total)).replace("%3", took)
        if result.detected and result.source_lang:
            text += " " + self.tr("Source: %1 (detected).").replace(
                "%1", names.short_name(result.source_lang, self.ui_locale))
        if result.warnings:
            n = len(result.warnings)
            text += " " + (self.tr("1 warning below.") if n == 1
                           else self.tr("%1 warnings below.").replace("%1", str(n)))
        return text

    def _end_position(self) -> int:
        cursor = self.translation_view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor.position()

    def _replace_tail(self, text: str) -> None:
        """Rewrite the current segment's text at the end of the view (cost: that segment only)."""
        view = self.translation_view
        cursor = QTextCursor(view.document())
        cursor.setPosition(min(self._segment_start, self._end_position()))
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(text)
        bar = view.verticalScrollBar()
        if bar.value() >= bar.maximum() - 40:
            bar.setValue(bar.maximum())
