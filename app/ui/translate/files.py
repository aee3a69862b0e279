"""The translation panel's files: documents in (open, drop), translations out (copy, export),
the glossary on disk and the draft kept between sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QLocale, QTimer, SignalInstance
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from app.base import paths
from app.base.atomic import write_atomic
from app.translate.glossary import Glossary, GlossaryError
from app.translate.runner import SUPPORTED_SUFFIXES, DocumentError, SourceDocument, TranslationResult, load_document
from app.ui.translate import names
from app.ui.translate.glossary_dialog import GlossaryDialog
from app.ui.translate.source_edit import SourceEdit, dropped_files
from app.ui.widgets.notice import Notice


def glossary_path() -> Path:
    """The user's glossary, applied to every translation."""
    return paths.data_dir() / "glossary.json"


def state_path() -> Path:
    """Languages and the typed draft, so a restart loses nothing."""
    return paths.data_dir() / "translate_state.json"


class FilesMixin:
    """Mixed into TranslatePanel (a QWidget), which owns the widgets used here."""

    status_message: SignalInstance
    ui_locale: QLocale
    glossary: Glossary
    document: SourceDocument | None
    document_path: Path | None
    result: TranslationResult | None
    notice: Notice
    _save_timer: QTimer
    left: QStackedWidget
    document_page: QWidget
    document_label: QLabel
    document_view: QPlainTextEdit
    translation_view: QPlainTextEdit
    source_edit: SourceEdit
    info_label: QLabel
    glossary_button: QPushButton
    source_combo: QComboBox
    target_combo: QComboBox

    def _widget(self) -> QWidget:
        """This panel as the QWidget it is (parent for dialogs)."""
        return cast(QWidget, self)

    if TYPE_CHECKING:
        def tr(self, text: str, disambiguation: str | None = None, n: int = -1) -> str: ...
        @property
        def translating(self) -> bool: ...
        def _clear_warnings(self) -> None: ...
        def _detect(self) -> None: ...
        def _update_controls(self) -> None: ...
        def source_code(self) -> str: ...
        def target_code(self) -> str: ...

    # ---- documents -------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = dropped_files(event)
        if files:
            event.acceptProposedAction()
            self._open_dropped(files)

    def _open_dropped(self, files: list[Path]) -> None:
        if len(files) > 1:
            self.status_message.emit(self.tr("One document at a time: opening the first one."))
        self.open_document(files[0])

    def open_file(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in SUPPORTED_SUFFIXES)
        start = str(self.document_path.parent if self.document_path else Path.home())
        name, _ = QFileDialog.getOpenFileName(self._widget(), self.tr("Open a document to translate"), start,
                                              self.tr("Documents (%1)").replace("%1", patterns))
        if name:
            self.open_document(Path(name))

    def open_document(self, path: Path) -> bool:
        """Show a TXT/Markdown/DOCX/HTML file on the left; False (and a message) if it cannot be read."""
        if self.translating:
            self.notice.show_message(
                self.tr("Stop the current translation before opening another document."), "error")
            return False
        try:
            document = load_document(path)
        except DocumentError as exc:
            self.notice.show_message(str(exc), "error")
            return False
        self.document, self.document_path, self.result = document, Path(path), None
        kind = {"text": "TXT", "markdown": "Markdown", "docx": "DOCX", "html": "HTML"}[document.kind]
        n = len(document.segments)
        count = self.tr("1 segment") if n == 1 else self.tr("%1 segments").replace("%1", f"{n:,}")
        self.document_label.setText(f"{Path(path).name} · {kind} · {count}")
        preview = document.render_text([None] * len(document.segments))
        self.document_view.setPlainText(preview)
        self.left.setCurrentWidget(self.document_page)
        self.translation_view.clear()
        self._clear_warnings()
        self.notice.clear_message()
        self.info_label.setText("")
        self._detect()
        self._update_controls()
        return True

    def close_document(self) -> None:
        """Back to the typed text (which was kept all along)."""
        if self.translating:
            return
        self.document = self.document_path = self.result = None
        self.left.setCurrentWidget(self.source_edit)
        self.translation_view.clear()
        self._clear_warnings()
        self.info_label.setText("")
        self._detect()
        self._update_controls()


    # ---- output ----------------------------------------------------------------------
    def copy(self) -> None:
        QApplication.clipboard().setText(self.translation_view.toPlainText())
        self.status_message.emit(self.tr("Copied to the clipboard"))

    def export(self) -> None:
        """Save the translation: the translated document for files, a text file for typed text."""
        target = self.target_code()
        if self.document_path is not None and self.result is not None:
            start = self.document_path.with_name(f"{self.document_path.stem}.{target}{self.document_path.suffix}")
            suffix = self.document_path.suffix
            pattern = self.tr("Translated document (*%1)").replace("%1", suffix)
        else:
            start = Path.home() / f"translation.{target}.txt"
            pattern = self.tr("Text (*.txt);;Markdown (*.md)")
        name, _ = QFileDialog.getSaveFileName(self._widget(), self.tr("Save the translation"), str(start), pattern)
        if name:
            self.export_to(Path(name))

    def export_to(self, path: Path) -> bool:
        """Write the translation to ``path`` (never over the source document)."""
        if self.document_path is not None and path.resolve() == self.document_path.resolve():
            self.notice.show_message(
                self.tr("Choose another name: the original document is never overwritten."), "error")
            return False
        if self.document is not None and self.result is not None:
            data = self.result.render()
        else:
            data = self.translation_view.toPlainText().encode("utf-8")
        try:
            write_atomic(path, data)
        except OSError as exc:
            self.notice.show_message(self.tr("Could not save %1: %2").replace("%1", str(path))
                                     .replace("%2", exc.strerror or str(exc)), "error")
            return False
        self.status_message.emit(self.tr("Saved %1").replace("%1", str(path)))
        return True

    # ---- glossary --------------------------------------------------------------------
    def _load_glossary(self) -> None:
        path = glossary_path()
        if path.exists():
            try:
                self.glossary = Glossary.load(path)
            except GlossaryError as exc:
                self.notice.show_message(
                    self.tr("The glossary could not be read: %1").replace("%1", str(exc)), "error")
        self._update_glossary_button()

    def edit_glossary(self) -> None:
        dialog = GlossaryDialog(self.glossary, self._widget())
        if dialog.exec():
            self.set_glossary(dialog.glossary())

    def set_glossary(self, glossary: Glossary) -> None:
        """Use and store a new glossary (under the data folder)."""
        self.glossary = glossary
        try:
            glossary.save(glossary_path())
        except OSError as exc:
            self.notice.show_message(self.tr("The glossary could not be saved: %1").replace("%1", str(exc)), "error")
        self._update_glossary_button()

    def _update_glossary_button(self) -> None:
        n = len(self.glossary)
        self.glossary_button.setText(self.tr("Glossary (%1)…").replace("%1", str(n)) if n else self.tr("Glossary…"))

    # ---- state -----------------------------------------------------------------------
    def _load_state(self) -> None:
        try:
            state = json.loads(state_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        if not isinstance(state, dict):
            state = {}
        names.select(self.source_combo, str(state.get("source", names.AUTO)))
        ui = self.ui_locale.name().replace("_", "-")
        default_target = "zh-Hans" if ui.startswith("zh") else ui.split("-")[0]
        if not names.select(self.target_combo, str(state.get("target", ""))) and (
                default_target == "en" or not names.select(self.target_combo, default_target)):
            names.select(self.target_combo, "fr")
        draft = state.get("draft")
        if isinstance(draft, str) and draft:
            self.source_edit.setPlainText(draft)

    def _save_state(self) -> None:
        self._save_timer.stop()
        state = {"source": self.source_code(), "target": self.target_code(), "draft": self.source_edit.toPlainText()}
        try:
            write_atomic(state_path(), json.dumps(state, ensure_ascii=False))  # a crash never leaves half a draft
        except OSError:
            pass  # the draft is a convenience; the text is still in the box
