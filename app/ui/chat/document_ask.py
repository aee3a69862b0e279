"""A chat's attached document: read off the GUI thread, asked on the engine thread, its sources shown.

While a document is attached, the chat's next question is answered by ``app.ask`` over the
whole document (every part read when it does not fit the context). The answer is stored
in the history as an assistant message whose source links (``source:N``) name the pages
or sections; the message's stats keep the document's path and each source's section
range, so a source can be shown again after a restart (the document is read again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.ask.render import AskWords, render_answer
from app.ask.results import AskResult
from app.ask.run import ask
from app.documents.document import ExtractedDocument, ExtractionError
from app.documents.extract import extract
from app.engines.contract import Engine
from app.summarize.results import SummaryProgress
from app.ui.chat.attachment import AttachButton, AttachmentBar, dropped_document
from app.ui.engine.controller import EngineController
from app.ui.engine.handle import RequestHandle
from app.ui.summarize.panel import eta_text
from app.ui.summarize.widgets import file_filter
from app.ui.widgets.tasks import run_task

ASK_KEY = "ask"  # where a document answer's facts live in its message's stats


def section_text(document: ExtractedDocument, first: int, last: int) -> str:
    """The text of sections ``first``..``last`` (read lazily: a large document is never held whole)."""
    texts: list[str] = []
    for section in document.iter_sections():
        if section.index > last:
            break
        if section.index >= first:
            texts.append(section.text)
    return "\n\n".join(texts)


class SourceDialog(QDialog):
    """The text an answer came from, beside the chat (one window, reused)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourceDialog")
        self.resize(640, 480)
        layout = QVBoxLayout(self)
        self.title = QLabel("")
        self.title.setObjectName("sourceTitle")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.text = QPlainTextEdit()
        self.text.setObjectName("sourceText")
        self.text.setReadOnly(True)
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

    def show_source(self, title: str, text: str) -> None:
        self.setWindowTitle(title)
        self.title.setText(title)
        self.text.setPlainText(text)
        self.text.moveCursor(self.text.textCursor().MoveOperation.Start)
        self.show()
        self.raise_()


class DocumentAsk(QObject):
    """The attached document (one at a time): the paperclip and the chip, the question job, past sources.

    The chat panel places ``button`` and ``bar``, shows ``message`` in its notice strip and
    calls :meth:`set_locked` while an answer is written (nothing is attached or removed then).
    """

    attached = Signal(object)  # ExtractedDocument
    message = Signal(str, str)  # text, notice kind ("info", "warning", "error")

    def __init__(self, controller: EngineController, parent: QWidget) -> None:
        super().__init__(parent)
        self.controller = controller
        self.document: ExtractedDocument | None = None
        self.loading = False
        self.locked = False
        self.button = AttachButton()
        self.bar = AttachmentBar()
        self.button.clicked.connect(self.choose)
        self.bar.remove_requested.connect(self.detach)
        self._ticket = 0  # bumped for every document attached: an older read is ignored
        self._results: dict[int, AskResult] = {}  # answers of this session, by message id: their texts are here
        self.dialog: SourceDialog | None = None
        self._parent = parent

    # ---- attaching -------------------------------------------------------------------
    def choose(self) -> None:
        """The paperclip: pick a document to ask about."""
        name, _ = QFileDialog.getOpenFileName(self._parent, self.tr("Attach a document"), str(Path.home()),
                                              file_filter(self.tr("All files"), self.tr("Documents")))
        if name:
            self.attach(Path(name))

    def attach(self, path: Path) -> None:
        """Read ``path`` off the GUI thread; until removed, questions are answered from all of it."""
        if self.locked:
            self.message.emit(self.tr("Stop the current answer before attaching a document."), "info")
            return
        self._ticket += 1
        ticket = self._ticket
        self.loading = True
        self.bar.show_reading(Path(path).name)
        task = run_task("attach", lambda: extract(path), self, expected=(ExtractionError,))
        task.done.connect(lambda document: self._on_read(ticket, document))
        task.failed.connect(lambda message: self._on_failed(ticket, message))

    def attach_dropped(self, mime: QMimeData) -> None:
        """A file dropped on the chat or pasted into the input; a refused one says why."""
        path, reason = dropped_document(mime)
        if reason is not None:
            self.refuse(reason)
        elif path is not None:
            self.attach(path)

    def refuse(self, reason: str) -> None:
        self.message.emit(self.tr("Can't attach this: %1").replace("%1", reason), "error")

    def _on_read(self, ticket: int, document: ExtractedDocument) -> None:
        if ticket != self._ticket:
            return
        self.loading, self.document = False, document
        self.bar.show_document(document)
        if document.large:
            self.message.emit(self.tr("This is a very large document (%1 MB): every part of it is read for each "
                                      "question, which takes a long time.").replace(
                                          "%1", f"{document.size_bytes / 2**20:,.0f}"), "warning")
        self.attached.emit(document)

    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket == self._ticket:
            self.loading, self.document = False, None
            self.bar.clear()
            self.message.emit(self.tr("The document could not be attached: %1").replace("%1", message), "error")

    def detach(self) -> None:
        """The × on the chip: questions go to the chat again."""
        if self.locked:
            return
        self._ticket += 1
        self.loading, self.document = False, None
        self.bar.clear()

    def set_locked(self, locked: bool) -> None:
        """While an answer is written nothing is attached or removed."""
        self.locked = locked
        self.button.setEnabled(not locked)
        self.bar.remove_button.setEnabled(not locked)

    @property
    def ready(self) -> bool:
        return self.document is not None and not self.loading

    # ---- asking ----------------------------------------------------------------------
    def start(self, question: str) -> RequestHandle:
        """Ask the attached document on the engine thread: ``job_progress`` reports, ``done`` brings the result."""
        document = self.document
        assert document is not None

        def job(engine: Engine, stop: threading.Event, report: Callable[[object], None]) -> AskResult:
            return ask(engine, document, question, stop=stop, on_progress=report)

        handle = self.controller.run_job(job)
        self.bar.show_starting()
        handle.job_progress.connect(lambda p: self._on_progress(handle, p))
        handle.finished.connect(self.bar.hide_progress)
        return handle

    def _on_progress(self, handle: RequestHandle, p: SummaryProgress) -> None:
        if handle.stop_event.is_set():
            self.bar.show_stopping()
        else:
            self.bar.show_progress(p, eta_text(p.eta_s) if p.eta_s is not None else "")

    def words(self) -> AskWords:
        """The words around an answer, in the interface's language."""
        return AskWords(
            sources=self.tr("Sources:"), found_in=self.tr("What each part says:"),
            none_found=self.tr("None of the %1 parts of %2 answers this question."),
            no_answer=self.tr("The model gave no answer."),
            stopped=self.tr("Stopped after reading %1 of %2 parts of %3."),
            read_all=self.tr("Read all %1 parts of %2; %3 had an answer."),
            read_whole=self.tr("Read the whole of %1 at once."))

    def reply(self, result: AskResult) -> tuple[str, dict[str, object]]:
        """The answer as the chat shows and stores it: Markdown with source links, and its stats."""
        document = self.document
        facts: dict[str, object] = {
            "document": result.document, "path": str(document.path) if document and document.path else None,
            "question": result.question, "mode": result.mode, "parts": result.chunk_total,
            "read": result.chunks_read, "answered": result.chunks_answered, "cancelled": result.cancelled,
            "seconds": round(result.seconds, 3),
            "sources": [{"label": s["label"], "chunks": s["chunks"], "sections": s["sections"]}
                        for s in result.sources()]}
        stats: dict[str, object] = {ASK_KEY: facts, "completion_tokens": result.completion_tokens}
        if result.decode_tps > 0:
            stats["decode_tps"] = result.decode_tps
        return render_answer(result, self.words(), links=True), stats

    def remember(self, message_id: int, result: AskResult) -> None:
        self._results[message_id] = result

    # ---- sources ---------------------------------------------------------------------
    def show_source(self, message_id: int, link: str, stats: Mapping[str, object] | None) -> bool:
        """Show the text behind ``source:N`` of a document answer; False when the link is not one."""
        kind, _, number = link.partition(":")
        facts = stats.get(ASK_KEY) if stats else None
        if kind != "source" or not number.isdigit() or not isinstance(facts, dict):
            return False
        n = int(number)
        sources = facts.get("sources")
        if not isinstance(sources, list) or n >= len(sources) or not isinstance(sources[n], dict):
            return False
        label, name = str(sources[n].get("label", "")), str(facts.get("document", ""))
        title = self.tr("Source: %1 · %2").replace("%1", label).replace("%2", name)
        result = self._results.get(message_id)
        texts = [p.text for p in result.source_parts(n) if p.text] if result is not None else []
        if texts:
            self._show(title, "\n\n⋯\n\n".join(texts))
            return True
        sections, path = sources[n].get("sections"), facts.get("path")
        if not (isinstance(sections, list) and len(sections) == 2 and isinstance(path, str)):
            self._show(title, self.tr("The text of this source was not kept."))
            return True
        first, last = int(sections[0]), int(sections[1])
        document = self.document
        if document is not None and document.path is not None and str(document.path) == path:
            self._show(title, section_text(document, first, last))
            return True
        self._show(title, self.tr("Reading %1…").replace("%1", name))
        task = run_task("source", lambda: section_text(extract(path), first, last), self, expected=(ExtractionError,))
        task.done.connect(lambda text: self._show(title, str(text)))
        task.failed.connect(lambda message: self._show(title, self.tr(
            "The document cannot be read again, so this source cannot be shown: %1").replace("%1", message)))
        return True

    def _show(self, title: str, text: str) -> None:
        if self.dialog is None:
            self.dialog = SourceDialog(self._parent)
        self.dialog.show_source(title, text)
