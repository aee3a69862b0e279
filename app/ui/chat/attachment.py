"""The document attached to a chat, as the user sees it: the paperclip, the chip above the input, the progress.

The chip names the document (and its pages) with a × to remove it; while a question is
asked of it, a thin progress bar says which part is being read. Dropped files are judged
here by name, before anything is read, so a refused drop says why at once.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QToolButton, QVBoxLayout, QWidget

from app.documents.document import ExtractedDocument
from app.documents.extract import refusal
from app.summarize.results import SummaryProgress

STYLE = """
#attachmentChip { border: 1px solid rgba(128, 128, 128, 0.35); border-radius: 12px; background: palette(base); }
#attachmentName { font-weight: 600; }
#attachmentInfo, #askProgressLabel { color: palette(mid); }
#removeAttachment { border: none; padding: 0 4px; font-weight: 600; }
"""


def paperclip_icon(color: QColor, size: int = 20) -> QIcon:
    """A paperclip drawn in ``color`` (no icon font or emoji is needed, and it follows the theme)."""
    scale = 2  # drawn at twice the size: crisp on high-density screens too
    pixmap = QPixmap(size * scale, size * scale)
    pixmap.fill(Qt.GlobalColor.transparent)
    path = QPainterPath(QPointF(15, 7))  # a 24 x 24 clip, upright; turned 45 degrees below
    path.lineTo(15, 17)
    path.arcTo(QRectF(9, 14, 6, 6), 0, -180)
    path.lineTo(9, 5)
    path.arcTo(QRectF(9, 3, 4, 4), 180, -180)
    path.lineTo(13, 16)
    path.arcTo(QRectF(11, 15, 2, 2), 0, -180)
    path.lineTo(11, 8)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size * scale / 24, size * scale / 24)
    painter.translate(12, 12)
    painter.rotate(45)
    painter.translate(-12, -12)
    painter.setPen(QPen(color, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    painter.drawPath(path)
    painter.end()
    pixmap.setDevicePixelRatio(scale)
    return QIcon(pixmap)


def dropped_document(mime: QMimeData) -> tuple[Path | None, str | None]:
    """The one local document a drag carries, or why it cannot be attached: (path, None) or (None, reason)."""
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []
    if not paths:
        return None, None  # not a file: text and the like are the input box's business
    if len(paths) > 1:
        return None, "attach one document at a time"
    if paths[0].is_dir():
        return None, "a folder cannot be attached: drop a document"
    reason = refusal(paths[0])
    return (None, reason) if reason else (paths[0], None)


class AttachButton(QToolButton):
    """The paperclip beside the input; its icon is redrawn when the theme's colours change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachButton")
        self.setAutoRaise(True)
        self.setIconSize(QSize(20, 20))
        self.setToolTip(self.tr("Attach a document and ask about all of it (PDF, DOCX, TXT, Markdown, HTML, RTF)"))
        self.setAccessibleName(self.tr("Attach a document"))
        self._paint()

    def _paint(self) -> None:
        self.setIcon(paperclip_icon(self.palette().color(QPalette.ColorRole.WindowText)))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            self._paint()
        super().changeEvent(event)


class AttachmentBar(QWidget):
    """Above the input: the attached document's chip (× removes it) and the progress of a question."""

    remove_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentBar")
        self.setStyleSheet(STYLE)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 4)
        column.setSpacing(4)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.chip = QFrame()
        self.chip.setObjectName("attachmentChip")
        chip_row = QHBoxLayout(self.chip)
        chip_row.setContentsMargins(8, 2, 4, 2)
        chip_row.setSpacing(6)
        self.icon = QLabel()
        self.name_label = QLabel("")
        self.name_label.setObjectName("attachmentName")
        self.info_label = QLabel("")
        self.info_label.setObjectName("attachmentInfo")
        self.remove_button = QToolButton()
        self.remove_button.setObjectName("removeAttachment")
        self.remove_button.setText("×")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip(self.tr("Remove the document: questions go to the chat again"))
        self.remove_button.setAccessibleName(self.tr("Remove the document"))
        self.remove_button.clicked.connect(self.remove_requested)
        for widget in (self.icon, self.name_label, self.info_label, self.remove_button):
            chip_row.addWidget(widget)
        row.addWidget(self.chip)
        row.addStretch(1)
        column.addLayout(row)
        self.progress_box = QWidget()
        progress_row = QHBoxLayout(self.progress_box)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setObjectName("askProgress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.setMaximumWidth(220)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("askProgressLabel")
        progress_row.addWidget(self.progress)
        progress_row.addWidget(self.progress_label, 1)
        self.progress_box.setVisible(False)
        column.addWidget(self.progress_box)
        self.setVisible(False)

    def show_reading(self, name: str) -> None:
        """A document is being read (extracted): its name, and no × until it is ready."""
        self._show_chip(name, self.tr("reading…"))
        self.remove_button.setVisible(False)

    def show_document(self, document: ExtractedDocument) -> None:
        parts = []
        if document.pages is not None:
            parts.append(self.tr("1 page") if document.pages == 1 else
                         self.tr("%1 pages").replace("%1", f"{document.pages:,}"))
        parts.append(self.tr("%1 characters").replace("%1", f"{document.characters:,}"))
        self._show_chip(document.name, " · ".join(parts))
        self.remove_button.setVisible(True)

    def _show_chip(self, name: str, info: str) -> None:
        self.icon.setPixmap(paperclip_icon(self.palette().color(QPalette.ColorRole.WindowText), 16).pixmap(16, 16))
        self.name_label.setText(name)
        self.info_label.setText(info)
        self.chip.setToolTip(name)
        self.setVisible(True)

    def clear(self) -> None:
        self.name_label.setText("")
        self.info_label.setText("")
        self.progress_box.setVisible(False)
        self.setVisible(False)

    # ---- a question being answered -----------------------------------------------------
    def show_starting(self) -> None:
        self.progress.setRange(0, 0)
        self.progress_label.setText(self.tr("Counting the document's tokens…"))
        self.progress_box.setVisible(True)

    def show_progress(self, p: SummaryProgress, eta: str) -> None:
        if p.phase == "map":
            self.progress.setRange(0, max(1, p.chunks))
            self.progress.setValue(p.chunk if p.point is not None else p.chunk - 1)
            label = self.tr("Reading part %1 of %2…").replace("%1", str(p.chunk)).replace(
                "%2", f"{'~' if p.estimated else ''}{p.chunks:,}")
        elif p.phase == "single":
            self.progress.setRange(0, 0)
            label = self.tr("Reading the whole document…")
        else:
            self.progress.setRange(0, 0)
            label = self.tr("Combining the answers found…")
        self.progress_label.setText(f"{label} · {eta}" if eta else label)

    def show_stopping(self) -> None:
        self.progress_label.setText(self.tr("Stopping…"))

    def hide_progress(self) -> None:
        self.progress_box.setVisible(False)
