"""The summarize panel's drop zone, its control bar, its style sheet and the file-type rules."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QKeyEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.documents.extract import SUFFIXES, refusal

PANEL_STYLE = """
#dropZone { border: 2px dashed rgba(128, 128, 128, 0.55); border-radius: 12px; background: palette(base); }
#dropZone[hover="accept"] { border-color: #d9622b; background: rgba(217, 98, 43, 0.07); }
#dropZone[hover="refuse"] { border-color: #c0392b; background: rgba(220, 60, 60, 0.08); }
#dropTitle { font-size: 15px; font-weight: 600; }
#dropHint { color: palette(mid); }
#documentInfo { font-weight: 600; }
#planLabel, #progressLabel { color: palette(mid); }
#summaryView, #sourceText {
    border: 1px solid rgba(128, 128, 128, 0.25); border-radius: 8px; background: palette(base);
}
#sourceTitle { font-weight: 600; }
"""


def local_files(mime: QMimeData) -> list[Path]:
    """Local file paths carried by a drag or the clipboard (remote URLs are ignored)."""
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def drop_refusal(paths: list[Path]) -> str | None:
    """Why these files cannot be dropped (None when the first one is worth reading)."""
    if not paths:
        return "only files and text can be dropped here"
    if len(paths) > 1:
        return "drop one document at a time"
    if paths[0].is_dir():
        return "a folder cannot be summarized: drop a document"
    return refusal(paths[0])


class DropZone(QFrame):
    """Accepts a dropped document (or text), an Open button and paste; says why it refuses."""

    file_dropped = Signal(object)  # Path
    text_dropped = Signal(str)
    refused = Signal(str)
    open_requested = Signal()
    paste_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(112)
        self.setProperty("hover", "none")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        texts = QVBoxLayout()
        self.title = QLabel(self.tr("Drop a document here"))
        self.title.setObjectName("dropTitle")
        self.default_hint = self.tr("PDF, DOCX, TXT, Markdown, HTML or RTF — or paste text with Ctrl+V. "
                                    "Every part is read; each point shows where it came from.")
        self.hint = QLabel(self.default_hint)
        self.hint.setObjectName("dropHint")
        self.hint.setWordWrap(True)
        texts.addStretch(1)
        texts.addWidget(self.title)
        texts.addWidget(self.hint)
        texts.addStretch(1)
        layout.addLayout(texts, 1)
        buttons = QVBoxLayout()
        self.open_button = QPushButton(self.tr("Open…"))
        self.open_button.setObjectName("openDocumentButton")
        self.paste_button = QPushButton(self.tr("Paste text"))
        self.paste_button.setObjectName("pasteTextButton")
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.paste_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.open_button.clicked.connect(self.open_requested)
        self.paste_button.clicked.connect(self.paste_requested)

    def _set_hover(self, state: str, hint: str | None = None) -> None:
        self.setProperty("hover", state)
        self.style().unpolish(self)
        self.style().polish(self)
        self.hint.setText(hint or self.default_hint)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if mime.hasUrls():
            reason = drop_refusal(local_files(mime))
            if reason is not None:  # refused here, Qt never delivers the drop: say why now
                self._set_hover("refuse", self.tr("Can't use this: %1").replace("%1", reason))
                self.refused.emit(reason)
                event.ignore()
                return
        elif not mime.hasText():
            self._set_hover("refuse", self.tr("Can't use this: only files and text can be dropped here"))
            event.ignore()
            return
        self._set_hover("accept", self.tr("Release to summarize it"))
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._set_hover("none")
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._set_hover("none")
        mime = event.mimeData()
        if mime.hasUrls():
            paths = local_files(mime)
            reason = drop_refusal(paths)
            if reason is not None:
                self.refused.emit(reason)
                event.ignore()
                return
            event.acceptProposedAction()
            self.file_dropped.emit(paths[0])
        elif mime.hasText():
            event.acceptProposedAction()
            self.text_dropped.emit(mime.text())
        else:
            self.refused.emit("only files and text can be dropped here")
            event.ignore()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.matches(QKeySequence.StandardKey.Paste):
            self.paste_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.open_requested.emit()
        event.accept()


def file_filter(tr_all: str, tr_docs: str) -> str:
    """The Open dialog's filter, built from the suffixes extraction supports."""
    patterns = " ".join(f"*{s}" for s in SUFFIXES)
    return f"{tr_docs} ({patterns});;{tr_all} (*)"


class ControlBar(QWidget):
    """Format and language pickers, Summarize/Cancel, and the progress bar with its label."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Format:")))
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("presetCombo")
        for key, text in (("tldr", self.tr("TL;DR")), ("bullets", self.tr("Bullet points")),
                          ("detailed", self.tr("Detailed"))):
            self.preset_combo.addItem(text, key)
        self.preset_combo.setCurrentIndex(1)
        row.addWidget(self.preset_combo)
        row.addSpacing(12)
        row.addWidget(QLabel(self.tr("Language:")))
        self.lang_combo = QComboBox()
        self.lang_combo.setObjectName("langCombo")
        for key, text in (("auto", self.tr("Same as the document")), ("en", self.tr("English")),
                          ("zh", self.tr("Chinese"))):
            self.lang_combo.addItem(text, key)
        row.addWidget(self.lang_combo)
        row.addStretch(1)
        self.start_button = QPushButton(self.tr("Summarize"))
        self.start_button.setObjectName("summarizeButton")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setObjectName("cancelSummaryButton")
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        column.addLayout(row)
        self.progress_box = QWidget()
        progress_row = QHBoxLayout(self.progress_box)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setObjectName("summaryProgress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("progressLabel")
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)
        self.progress_box.setVisible(False)
        column.addWidget(self.progress_box)

    def preset(self) -> str:
        return str(self.preset_combo.currentData())

    def lang(self) -> str:
        return str(self.lang_combo.currentData())
