"""The summarize panel: drop a document, see what it will cost, get a summary of all of it.

Threads: extraction runs as a background task (``run_task``: PDFs can take seconds); every
engine call (token count, speed probe, the summary itself) goes through
``controller.run_job`` and so runs on the engine thread. The panel connects to the handle
of its own job; the GUI only renders: progress arrives as the handle's ``job_progress``
payloads and is repainted at most ten times a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLabel, QVBoxLayout, QWidget

from app.base.settings import Settings
from app.documents.document import ExtractedDocument, ExtractionError
from app.documents.extract import extract, extract_text
from app.engines.contract import Engine, GenerationStats, LoadedModel
from app.summarize.options import SummaryOptions
from app.summarize.plan import Speeds, SummaryPlan, measure_speeds, plan_summary
from app.summarize.results import SummaryProgress, SummaryResult
from app.summarize.run import summarize
from app.ui.engine.controller import EngineController
from app.ui.engine.handle import RequestHandle
from app.ui.summarize.results import ResultArea
from app.ui.summarize.widgets import PANEL_STYLE, ControlBar, DropZone, file_filter, local_files
from app.ui.widgets.base_model_note import BaseModelNote
from app.ui.widgets.notice import Notice
from app.ui.widgets.tasks import run_task

PlanOutcome = tuple[tuple[int, str, int], SummaryPlan, Speeds | None]


def eta_text(seconds: float) -> str:
    """'about 40 s', 'about 12 min', 'about 3 h 20 min'."""
    if seconds < 60:
        return QCoreApplication.translate("SummarizePanel", "about %1 s").replace("%1", str(max(1, round(seconds))))
    if seconds < 3600:
        return QCoreApplication.translate("SummarizePanel", "about %1 min").replace("%1", str(round(seconds / 60)))
    hours, minutes = divmod(round(seconds / 60), 60)
    return QCoreApplication.translate("SummarizePanel", "about %1 h %2 min").replace("%1", str(hours)).replace(
        "%2", f"{minutes:02d}")


class SummarizePanel(QWidget):
    """Everything about summarizing; the main window only places it in a tab."""

    status_message = Signal(str)

    def __init__(self, controller: EngineController, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summarizePanel")
        self.controller = controller
        self.settings = settings
        self.document: ExtractedDocument | None = None
        self.plan: SummaryPlan | None = None
        self.speeds = Speeds()
        self._plan_for: tuple[int, str, int] | None = None  # (document serial, lang, n_ctx) of the plan
        self._serial = 0  # bumped for every document loaded
        self._plan_wanted = False
        self._summary_job: RequestHandle | None = None  # the summary itself
        self._ticket = 0  # bumped for every document read; older reads are ignored
        self._loading = False
        self._build()
        self._connect()
        self._update_controls()

    # ---- construction ----------------------------------------------------------------
    def _build(self) -> None:
        self.setStyleSheet(PANEL_STYLE)
        column = QVBoxLayout(self)
        column.setContentsMargins(16, 12, 16, 10)
        column.setSpacing(8)
        self.zone = DropZone()
        column.addWidget(self.zone)

        self.info_label = QLabel(self.tr("No document yet."))
        self.info_label.setObjectName("documentInfo")
        self.info_label.setWordWrap(True)
        self.plan_label = QLabel("")
        self.plan_label.setObjectName("planLabel")
        self.plan_label.setWordWrap(True)
        column.addWidget(self.info_label)
        column.addWidget(self.plan_label)

        self.bar = ControlBar()
        b = self.bar
        self.preset_combo, self.lang_combo = b.preset_combo, b.lang_combo
        self.start_button, self.cancel_button = b.start_button, b.cancel_button
        self.progress, self.progress_label, self.progress_box = b.progress, b.progress_label, b.progress_box
        column.addWidget(self.bar)

        self.notice = Notice()
        self.base_note = BaseModelNote(self.controller)
        column.addWidget(self.base_note)
        column.addWidget(self.notice)

        self.results = ResultArea()
        self.results.chunk_lookup = self._chunk_text
        self.view, self.source_pane = self.results.view, self.results.source_pane
        self.copy_button, self.export_button = self.results.copy_button, self.results.export_button
        column.addWidget(self.results, 1)

    def _connect(self) -> None:
        c = self.controller
        c.stats.connect(self._on_stats)
        c.loaded.connect(self._on_model_loaded)
        c.busy_changed.connect(self._on_busy_changed)
        self.zone.file_dropped.connect(self.load_file)
        self.zone.text_dropped.connect(self.load_text)
        self.zone.refused.connect(lambda reason: self.notice.show_message(
            self.tr("Can't use this: %1").replace("%1", reason), "error"))
        self.zone.open_requested.connect(self.open_file)
        self.zone.paste_requested.connect(self.paste)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.results.status_message.connect(self.status_message)
        self.results.error.connect(lambda text: self.notice.show_message(text, "error"))
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        self.lang_combo.currentIndexChanged.connect(lambda _i: self._request_plan())

    # ---- loading a document ----------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._summary_job is not None

    def open_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Open a document"), str(Path.home()),
                                              file_filter(self.tr("All files"), self.tr("Documents")))
        if name:
            self.load_file(Path(name))

    def paste(self) -> None:
        """Paste text (or a copied file) from the clipboard."""
        mime = QGuiApplication.clipboard().mimeData()
        files = local_files(mime) if mime is not None else []
        if files:
            self.load_file(files[0])
        elif mime is not None and mime.hasText() and mime.text().strip():
            self.load_text(mime.text())
        else:
            self.notice.show_message(self.tr("The clipboard holds no text to summarize."), "error")

    def load_file(self, path: Path) -> None:
        """Extract a file off the GUI thread; the panel updates when it is read."""
        self._start_loading(Path(path).name, lambda: extract(path))

    def load_text(self, text: str) -> None:
        name = self.tr("Pasted text")  # the document's name in the interface's language
        self._start_loading(name, lambda: extract_text(text, name=name))

    def _start_loading(self, name: str, read: Callable[[], ExtractedDocument]) -> None:
        if self.running:
            self.notice.show_message(self.tr("A summary is running: cancel it before opening another document."),
                                     "error")
            return
        self._ticket += 1
        ticket = self._ticket
        self._loading = True
        self.notice.clear_message()
        self.info_label.setText(self.tr("Reading %1…").replace("%1", name))
        self.plan_label.setText("")
        self._update_controls()
        # every failure of extraction is an ExtractionError with a one-line reason; anything
        # else is a bug: run_task logs it and still reports it here
        task = run_task("extract", read, self, expected=(ExtractionError,))
        task.done.connect(lambda document: self._on_extracted(ticket, document))
        task.failed.connect(lambda message: self._on_extract_failed(ticket, message))

    def _on_extract_failed(self, ticket: int, message: str) -> None:
        if ticket != self._ticket:
            return
        self._loading = False
        self.info_label.setText(self.tr("No document loaded.") if self.document is None else self._describe())
        self._show_plan()  # the document shown before stays usable
        self.notice.show_message(message, "error")
        self._update_controls()

    def _on_extracted(self, ticket: int, outcome: ExtractedDocument) -> None:
        if ticket != self._ticket:
            return
        self._loading = False
        self.document, self.plan = outcome, None
        self._serial += 1
        self._plan_for = None
        self.results.reset()
        self.results.document_name = outcome.name
        self.progress.reset()
        self.progress_label.setText("")
        self.progress_box.setVisible(False)
        self.info_label.setText(self._describe())
        if outcome.large:
            self.notice.show_message(self.tr("This is a very large document (%1 MB). It is read piece by piece, but "
                                             "summarizing all of it will take a long time; finished parts are kept "
                                             "if you cancel.").replace("%1", f"{outcome.size_bytes / 2**20:,.0f}"))
        self._request_plan()
        self._update_controls()

    def _describe(self) -> str:
        doc = self.document
        if doc is None:
            return ""
        parts = [doc.name]
        if doc.pages is not None:
            parts.append(self.tr("1 page") if doc.pages == 1 else self.tr("%1 pages").replace("%1", f"{doc.pages:,}"))
        parts.append(self.tr("%1 characters").replace("%1", f"{doc.characters:,}"))
        return " · ".join(parts)

    # ---- planning: tokens and ETA ----------------------------------------------------
    def options(self) -> SummaryOptions:
        return SummaryOptions(preset=self.bar.preset(), lang=self.bar.lang())

    def _plan_key(self) -> tuple[int, str, int] | None:
        model = self.controller.model
        if self.document is None or model is None:
            return None
        return (self._serial, self.options().lang, model.n_ctx)

    def _request_plan(self) -> None:
        """Count tokens and measure speeds on the engine thread (now, or when it is free)."""
        key = self._plan_key()
        if self.document is None:
            return
        if key is None:
            self.plan_label.setText(self.tr("Load a model to count tokens and estimate the time."))
            return
        if key == self._plan_for and self.plan is not None:
            self._show_plan()
            return
        if self.controller.busy:
            self._plan_wanted = True
            self.plan_label.setText(self.tr("Counting tokens when the engine is free…"))
            return
        self._plan_wanted = False
        document, options, measure = self.document, self.options(), not self.speeds.known

        def job(engine: Engine, _stop: threading.Event, _report: Callable[[object], None]) -> PlanOutcome:
            plan = plan_summary(engine, document, options)
            return key, plan, (measure_speeds(engine) if measure else None)

        self.plan_label.setText(self.tr("Counting tokens…"))
        handle = self.controller.run_job(job)
        handle.done.connect(self._on_plan_done)
        handle.failed.connect(self._on_plan_failed)
        handle.finished.connect(lambda: self._on_plan_finished(key))

    def _show_plan(self) -> None:
        plan = self.plan
        if plan is None:
            return
        tokens = f"{'~' if plan.estimated else ''}{plan.total_tokens:,}"
        text = self.tr("%1 tokens").replace("%1", tokens)
        if plan.mode == "single":
            text += self.tr(" · fits the context: one pass")
        else:
            text += self.tr(" · %1 parts of up to %2 tokens").replace(
                "%1", f"{'~' if plan.estimated else ''}{plan.chunk_count:,}").replace("%2", f"{plan.budget:,}")
        text += " · " + eta_text(plan.eta(self.speeds, self.options().preset))
        self.plan_label.setText(text)

    # ---- running ---------------------------------------------------------------------
    def start(self) -> None:
        """Summarize the loaded document with the chosen format and language."""
        if self.document is None or self.controller.model is None or self.controller.busy:
            return
        document, options = self.document, self.options()
        plan = self.plan if self._plan_key() == self._plan_for else None
        speeds = Speeds(self.speeds.prefill_tps, self.speeds.decode_tps)

        def job(engine: Engine, stop: threading.Event, report: Callable[[object], None]) -> SummaryResult:
            return summarize(engine, document, options, stop=stop, on_progress=report, plan=plan, speeds=speeds)

        self.results.begin_stream(single=plan is not None and plan.mode == "single")
        self.notice.clear_message()
        self.progress.setRange(0, max(1, plan.chunk_count if plan else 1))
        self.progress.setValue(0)
        self.progress_label.setText(self.tr("Starting…"))
        self.progress_box.setVisible(True)
        handle = self.controller.run_job(job)
        handle.job_progress.connect(self._on_summary_progress)
        handle.done.connect(self._show_result)
        handle.failed.connect(lambda message: self.notice.show_message(message, "error"))
        handle.finished.connect(self._on_summary_finished)
        self._summary_job = handle
        self._update_controls()

    def cancel(self) -> None:
        """Stop within a token; the parts already summarized are kept and shown."""
        if self._summary_job is not None:
            self._summary_job.stop()
            self.progress_label.setText(self.tr("Cancelling…"))

    def _on_summary_progress(self, p: SummaryProgress) -> None:
        eta = eta_text(p.eta_s) if p.eta_s is not None else ""
        if p.phase == "map":
            self.progress.setRange(0, max(1, p.chunks))
            self.progress.setValue(p.chunk if p.point is not None else p.chunk - 1)
            label = self.tr("Part %1 of %2").replace("%1", str(p.chunk)).replace(
                "%2", f"{'~' if p.estimated else ''}{p.chunks:,}")
        elif p.phase == "single":
            self.progress.setRange(0, 0)
            label = self.tr("Reading the whole document in one pass")
        else:
            self.progress.setRange(0, 0)
            label = self.tr("Combining the parts")
        self.progress_label.setText(f"{label} · {eta}" if eta else label)
        self.results.add_progress(p)

    def _on_plan_done(self, outcome: PlanOutcome) -> None:
        key, plan, speeds = outcome
        if speeds is not None and speeds.known and not self.speeds.known:
            self.speeds = speeds
        if key == self._plan_key():
            self.plan, self._plan_for = plan, key
            self._show_plan()

    def _on_plan_failed(self, message: str) -> None:
        self.notice.show_message(message, "error")
        self.plan_label.setText("")

    def _on_plan_finished(self, key: tuple[int, str, int]) -> None:
        self._update_controls()
        if self._plan_wanted or key != self._plan_key():  # not after a failure: that would loop
            QTimer.singleShot(0, self._request_plan)

    def _show_result(self, result: SummaryResult) -> None:
        self.results.show_result(result)
        if result.prefill_tps > 0 and result.decode_tps > 0:
            self.speeds = Speeds(result.prefill_tps, result.decode_tps)
        self.progress.setRange(0, max(1, result.chunks))
        self.progress.setValue(result.chunks_summarized)
        rate = result.input_tokens / result.seconds if result.seconds > 0 else 0.0
        if result.cancelled:
            if result.mode == "single":  # one pass: what was written so far, not "0 of 1 parts"
                text = self.tr("Stopped before the end: what was written so far is kept below.")
            else:
                text = self.tr("Stopped: %1 of %2 parts summarized (their points are kept below)").replace(
                    "%1", str(result.chunks_summarized)).replace("%2", str(result.chunks))
            short = self.tr("Summary stopped.")
        else:
            text = self.tr("Done in %1 · %2 parts").replace("%1", f"{result.seconds:.1f} s").replace(
                "%2", str(result.chunks))
            if result.cached_chunks:
                text += self.tr(" (%1 from the cache)").replace("%1", str(result.cached_chunks))
            else:
                text += self.tr(" · %1 tokens read at %2 tok/s").replace("%1", f"{result.input_tokens:,}").replace(
                    "%2", f"{rate:,.0f}")
            short = self.tr("Summary done.")
        self.progress_label.setText(text)
        self.status_message.emit(short)  # the status bar is narrow: the details are on the panel

    def _on_summary_finished(self) -> None:
        self._summary_job = None
        self.results.end_stream()
        if self.result is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress_label.setText(self.tr("The summary could not be made."))
        self._update_controls()
        if self._plan_wanted or (self.document is not None and self._plan_for != self._plan_key()):
            QTimer.singleShot(0, self._request_plan)  # the language or the model changed meanwhile

    def _on_stats(self, stats: GenerationStats) -> None:
        self.speeds.learn(stats)  # chat replies teach the ETA too

    def _on_model_loaded(self, _model: LoadedModel) -> None:
        self._plan_for = None
        self._update_controls()
        QTimer.singleShot(0, self._request_plan)

    def _on_busy_changed(self, busy: bool) -> None:
        self._update_controls()
        if not busy and self._plan_wanted:
            QTimer.singleShot(0, self._request_plan)

    def _on_preset_changed(self, _index: int) -> None:
        """Only the final format changed: re-use every cached chunk summary at once."""
        self._show_plan()
        if self.result is not None and not self.result.cancelled and not self.controller.busy:
            self.start()

    # ---- result actions (the result area does the work) -------------------------------
    @property
    def result(self) -> SummaryResult | None:
        """The last finished (or cancelled) summary shown in the panel."""
        return self.results.result

    def _chunk_text(self, index: int) -> tuple[str, str] | None:
        chunks = self.plan.chunks if self.plan is not None else None
        if chunks is None or index >= len(chunks):
            return None
        return chunks[index].label, chunks[index].text

    def show_source(self, link: str) -> None:
        self.results.show_source(link)

    def copy(self) -> None:
        self.results.copy()

    def export(self, path: Path | None = None) -> Path | None:
        return self.results.export(path)

    # ---- state -----------------------------------------------------------------------
    def _update_controls(self) -> None:
        ready = self.document is not None and self.controller.model is not None and not self._loading
        self.start_button.setEnabled(ready and not self.controller.busy)
        self.cancel_button.setEnabled(self.running)
        self.zone.setEnabled(not self.running)

    def shutdown(self) -> None:
        """Stop a running summary (its finished parts stay in the disk cache)."""
        if self._summary_job is not None:
            self._summary_job.stop()
