"""The translation panel: source on the left, the translation streaming in on the right.

All model work runs as one ``controller.run_job`` per translation (text or document);
this panel only reads the reports of that job's handle: the streamed text of the
current segment is buffered and shown at most ~30 times a second, each finished
segment moves the progress bar and the ETA. What the user typed is never replaced by a document (it
has its own page) and is kept on disk between sessions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.base.languages import UNDETERMINED, detect_language, warm_up
from app.base.settings import Settings
from app.engines.contract import Engine
from app.translate.glossary import Glossary
from app.translate.runner import (
    SegmentDone,
    SegmentText,
    SourceDocument,
    TranslationResult,
    TranslationStarted,
    document_from_text,
    translate_document,
)
from app.ui.engine.controller import EngineController
from app.ui.engine.handle import RequestHandle
from app.ui.translate import names
from app.ui.translate.files import FilesMixin, glossary_path, state_path
from app.ui.translate.source_edit import SourceEdit
from app.ui.translate.status import STYLE, StatusMixin
from app.ui.widgets.base_model_note import BaseModelNote
from app.ui.widgets.notice import Notice
from app.ui.widgets.tasks import run_task
from app.ui.widgets.timers import make_timer

FLUSH_MS = 33
DETECT_MS = 400
SAVE_MS = 800


__all__ = ["TranslatePanel", "glossary_path", "state_path"]


class TranslatePanel(StatusMixin, FilesMixin, QWidget):
    """Everything about translating; the main window only places it."""

    status_message = Signal(str)

    def __init__(self, controller: EngineController, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("translatePanel")
        self.controller = controller
        self.settings = settings
        self.ui_locale = names.ui_locale(settings)
        self.glossary = Glossary()
        self.document: SourceDocument | None = None
        self.document_path: Path | None = None
        self.result: TranslationResult | None = None
        self._job: RequestHandle | None = None  # the translation running now
        self._partial: str | None = None
        self._segment_start = 0
        self._detected: str | None = None
        self._cache: dict[tuple[str, str, str, str], str] = {}
        self._warmed = False
        self._detect_pending = False
        self._build()
        self._connect()
        self._load_state()
        self._load_glossary()
        self._update_controls()

    # ---- construction ----------------------------------------------------------------
    def _build(self) -> None:
        bar = QHBoxLayout()
        bar.setContentsMargins(12, 8, 12, 4)
        self.source_combo = names.make_combo("sourceLanguage")
        names.fill_combo(self.source_combo, self.ui_locale, with_auto=True)
        self.swap_button = QToolButton()
        self.swap_button.setObjectName("swapButton")
        self.swap_button.setText("⇄")
        self.swap_button.setToolTip(self.tr("Swap languages"))
        self.target_combo = names.make_combo("targetLanguage")
        names.fill_combo(self.target_combo, self.ui_locale, with_auto=False)
        self.open_button = QPushButton(self.tr("Open document…"))
        self.open_button.setObjectName("openButton")
        self.glossary_button = QPushButton(self.tr("Glossary…"))
        self.glossary_button.setObjectName("glossaryButton")
        for widget in (self.source_combo, self.swap_button, self.target_combo):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.open_button)
        bar.addWidget(self.glossary_button)

        self.source_edit = SourceEdit()
        self.document_page = QWidget()
        doc_column = QVBoxLayout(self.document_page)
        doc_column.setContentsMargins(0, 0, 0, 0)
        doc_row = QHBoxLayout()
        self.document_label = QLabel("")
        self.document_label.setObjectName("documentHeader")
        self.document_label.setWordWrap(True)
        self.close_document_button = QPushButton(self.tr("Back to text"))
        self.close_document_button.setObjectName("closeDocumentButton")
        doc_row.addWidget(self.document_label, 1)
        doc_row.addWidget(self.close_document_button)
        doc_column.addLayout(doc_row)
        self.document_view = QPlainTextEdit()
        self.document_view.setObjectName("documentView")
        self.document_view.setReadOnly(True)
        doc_column.addWidget(self.document_view, 1)
        self.left = QStackedWidget()
        self.left.addWidget(self.source_edit)
        self.left.addWidget(self.document_page)

        self.translation_view = QPlainTextEdit()
        self.translation_view.setObjectName("translationView")
        self.translation_view.setReadOnly(True)
        self.translation_view.setPlaceholderText(self.tr("The translation appears here."))
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.translation_view)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([500, 500])

        self.notice = Notice()
        self.warnings = QListWidget()
        self.warnings.setObjectName("translateWarnings")
        self.warnings.setVisible(False)

        bottom = QHBoxLayout()
        bottom.setContentsMargins(12, 4, 12, 10)
        self.progress = QProgressBar()
        self.progress.setObjectName("translateProgress")
        self.progress.setFormat(self.tr("%v / %m segments"))
        self.progress.setMinimumWidth(180)
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.info_label = QLabel("")
        self.info_label.setObjectName("etaLabel")
        self.translate_button = QPushButton(self.tr("Translate"))
        self.translate_button.setObjectName("translateButton")
        self.translate_button.setToolTip(self.tr("Translate (Ctrl+Enter)"))
        self.translate_button.setDefault(True)
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setObjectName("stopTranslateButton")
        self.copy_button = QPushButton(self.tr("Copy"))
        self.copy_button.setObjectName("copyButton")
        self.export_button = QPushButton(self.tr("Export…"))
        self.export_button.setObjectName("exportButton")
        bottom.addWidget(self.progress)
        bottom.addWidget(self.info_label, 1)
        for button in (self.translate_button, self.stop_button, self.copy_button, self.export_button):
            bottom.addWidget(button)

        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addLayout(bar)
        column.addWidget(self.splitter, 1)
        notice_row = QVBoxLayout()  # inset like the bars above and below (the strip has rounded corners)
        notice_row.setContentsMargins(12, 4, 12, 0)
        self.base_note = BaseModelNote(self.controller)
        notice_row.addWidget(self.base_note)
        notice_row.addWidget(self.notice)
        column.addLayout(notice_row)
        column.addWidget(self.warnings)
        column.addLayout(bottom)
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE)

        self._flush_timer = make_timer(self, FLUSH_MS, self._flush, single_shot=False)
        self._detect_timer = make_timer(self, DETECT_MS, self._detect)
        self._save_timer = make_timer(self, SAVE_MS, self._save_state)

    def _connect(self) -> None:
        c = self.controller
        c.busy_changed.connect(lambda _busy: self._update_controls())
        c.loaded.connect(lambda _m: self._update_controls())
        for sequence in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(sequence), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.translate)
        self.source_edit.submitted.connect(self.translate)
        self.source_edit.files_dropped.connect(self._open_dropped)
        self.source_edit.textChanged.connect(self._on_text_changed)
        self.translate_button.clicked.connect(self.translate)
        self.stop_button.clicked.connect(self.stop)
        self.copy_button.clicked.connect(self.copy)
        self.export_button.clicked.connect(self.export)
        self.open_button.clicked.connect(self.open_file)
        self.close_document_button.clicked.connect(self.close_document)
        self.glossary_button.clicked.connect(self.edit_glossary)
        self.swap_button.clicked.connect(self.swap)
        self.source_combo.currentIndexChanged.connect(lambda _i: self._save_timer.start())
        self.target_combo.currentIndexChanged.connect(lambda _i: self._save_timer.start())

    # ---- languages -------------------------------------------------------------------
    def source_code(self) -> str:
        return str(self.source_combo.currentData())

    def target_code(self) -> str:
        return str(self.target_combo.currentData())

    def _on_text_changed(self) -> None:
        self._detect_timer.start()
        self._save_timer.start()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Load the detection model in the background the first time the tab is shown."""
        super().showEvent(event)
        if not self._warmed:
            self._warmed = True
            run_task("langid-warm-up", warm_up, self)
        if self._detect_pending:
            self._detect_timer.start()

    def _detect(self) -> None:
        """Show the detected language in the "Auto" entry (a few ms once the model is loaded)."""
        if not self.isVisible():  # never load the model on the GUI thread for a hidden tab
            self._detect_pending = True
            return
        self._detect_pending = False
        document = self.document
        text = "\n".join(document.segments[:200]) if document is not None else self.source_edit.toPlainText()
        code, confidence = detect_language(text) if text.strip() else (UNDETERMINED, 0.0)
        self._detected = code if code != UNDETERMINED and confidence >= 0.5 else None
        if self._detected:
            detected = names.short_name(self._detected, self.ui_locale)
            self.source_combo.setItemText(0, self.tr("Auto (detected: %1)").replace("%1", detected))
        else:
            self.source_combo.setItemText(0, self.tr("Auto-detect"))
        self._update_controls()

    def swap(self) -> None:
        """Exchange the languages; a finished text translation becomes the new source."""
        if self._job is not None:
            return
        source = self.source_code()
        if source == names.AUTO:
            if self._detected is None:
                self.notice.show_message(self.tr("Choose the source language first: it could not be detected."))
                return
            source = self._detected
        target = self.target_code()
        names.select(self.source_combo, target)
        names.select(self.target_combo, source)
        translation = self.translation_view.toPlainText()
        if self.document is None and self.result is not None and translation.strip():
            old = self.source_edit.toPlainText()
            cursor = self.source_edit.textCursor()
            cursor.select(QTextCursor.SelectionType.Document)
            cursor.insertText(translation)  # one undo step: Ctrl+Z brings the typed text back
            self.translation_view.setPlainText(old)
            self.result = None
        self._update_controls()

    # ---- translating -----------------------------------------------------------------
    @property
    def translating(self) -> bool:
        return self._job is not None

    def translate(self) -> None:
        """Translate the typed text or the open document (Ctrl+Enter)."""
        if self._job is not None:
            return
        if self.document is None:
            text = self.source_edit.toPlainText()
            if not text.strip():
                self.notice.show_message(self.tr("Type or paste some text first, or open a document."))
                return
            document = document_from_text(text)
            if not document.segments:
                self.notice.show_message(self.tr("Nothing to translate: the text has no words."))
                return
        else:
            document = self.document
        if self.controller.model is None:
            self.notice.show_message(
                self.tr("No model is loaded yet. Wait for it, or open one with File › Open model file…"), "error")
            return
        if self.controller.busy:
            self.notice.show_message(
                self.tr("The model is busy with another answer. Try again when it has finished."), "error")
            return
        target = self.target_code()
        source = self.source_code()
        if source != names.AUTO and source == target:
            self.notice.show_message(self.tr("The source and target languages are the same."), "error")
            return
        glossary, cache = self.glossary, self._cache

        def job(engine: Engine, stop: threading.Event, report: Callable[[object], None]) -> TranslationResult:
            # runs on the engine thread; reads nothing from the widgets
            return translate_document(engine, document, target, None if source == names.AUTO else source,
                                      glossary, stop, report, cache=cache)

        self.notice.clear_message()
        self._clear_warnings()
        self.result = None
        self.translation_view.clear()
        self._segment_start = 0
        self._partial = None
        self.progress.setRange(0, len(document.segments))
        self.progress.setValue(0)
        self.progress.setVisible(len(document.segments) > 1)
        self.info_label.setText(self.tr("Translating…"))
        handle = self.controller.run_job(job)
        handle.job_progress.connect(self._on_progress)
        handle.done.connect(self._on_done)
        handle.failed.connect(lambda message: self.notice.show_message(message, "error"))
        handle.finished.connect(self._on_finished)
        self._job = handle
        self._flush_timer.start()
        self._update_controls()

    def stop(self) -> None:
        if self._job is not None:
            self._job.stop()

    def _on_progress(self, payload: object) -> None:
        if isinstance(payload, SegmentText):
            self._partial = payload.text
        elif isinstance(payload, SegmentDone):
            self._partial = None
            self._replace_tail(payload.text + "\n\n")
            self._segment_start = self._end_position()
            self.progress.setValue(payload.index + 1)
            self.info_label.setText(self._progress_text(payload))
            for warning in payload.warnings:
                self._add_warning(warning)
        elif isinstance(payload, TranslationStarted):
            self.progress.setRange(0, payload.total)
            if payload.detected and payload.source_lang:
                self._detected = payload.source_lang

    def _flush(self) -> None:
        if self._partial is not None:
            self._replace_tail(self._partial)
            self._partial = None

    def _on_done(self, result: object) -> None:
        if not isinstance(result, TranslationResult):
            return
        self.result = result
        self._flush_timer.stop()
        self._partial = None
        self.translation_view.setPlainText(result.text() if result.document.kind in ("text", "markdown")
                                           else self.translation_view.toPlainText().rstrip("\n"))
        self.info_label.setText(self._summary_text(result))
        if result.same_language:
            self.info_label.setText("")
            self.notice.show_message(self.tr("The text is already in %1: there is nothing to translate. Choose "
                                             "another target language.").replace(
                                                 "%1", names.short_name(result.target_lang, self.ui_locale)),
                                     "warning")
        elif result.error:
            self.notice.show_message(result.error, "error")

    def _on_finished(self) -> None:
        self._flush_timer.stop()
        self._job = None
        self.progress.setVisible(False)
        if self.result is None:
            self.info_label.setText("")
        elif self.result.cancelled:
            self.status_message.emit(self.tr("Stopped."))
        self._update_controls()

    def _update_controls(self) -> None:
        running = self._job is not None
        ready = self.controller.model is not None and not self.controller.busy
        self.translate_button.setEnabled(ready and not running)
        self.stop_button.setEnabled(running)
        has_output = bool(self.translation_view.toPlainText().strip()) and not running
        self.copy_button.setEnabled(has_output)
        self.export_button.setEnabled(has_output)
        self.export_button.setText(self.tr("Save document…") if self.document is not None else self.tr("Export…"))
        self.open_button.setEnabled(not running)
        self.close_document_button.setEnabled(not running)
        self.swap_button.setEnabled(not running)
        self.source_combo.setEnabled(not running)
        self.target_combo.setEnabled(not running)
        self.glossary_button.setEnabled(not running)

    def shutdown(self) -> None:
        """Stop a running translation and keep the draft."""
        self._save_state()
        if self._job is not None:
            self._job.stop()
