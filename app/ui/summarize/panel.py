"""The summarize panel: drop a document, see what it will cost, get a summary of all of it.

Threads: extraction runs on a short-lived Python thread (PDFs can take seconds); every
engine call (token count, speed probe, the summary itself) goes through
``controller.run_job`` and so runs on the engine thread. The GUI only renders: progress
arrives as ``job_progress`` payloads and is repainted at most ten times a second.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLabel, QVBoxLayout, QWidget

from app.core.extract import ExtractedDocument, ExtractionError, extract, extract_text
from app.core.settings import Settings
from app.core.summarize import (
    Speeds,
    SummaryOptions,
    SummaryPlan,
    SummaryProgress,
    SummaryResult,
    measure_speeds,
    plan_summary,
    summarize,
)
from app.llm.types import Engine, GenerationStats, LoadedModel
from app.ui.summarize.results import ResultArea
from app.ui.summarize.widgets import PANEL_STYLE, ControlBar, DropZone, file_filter, local_files
from app.ui.worker import EngineController
from app.ui.banner import show_banner


def eta_text(seconds: float) -> str:
    """'about 40 s', 'about 12 min', 'about 3 h 20 min'."""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"about {hours} h {minutes:02d} min"


class SummarizePanel(QWidget):
    """Everything about summarizing; the main window only places it in a tab."""

    status_message = Signal(str)
    _extracted = Signal(int, object)  # ticket, ExtractedDocument or an error message

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
        self._request: int | None = None
        self._job = ""  # "plan" or "summary"
        self._ticket = 0
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

        self.banner = QLabel("")
        self.banner.setObjectName("summarizeBanner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        column.addWidget(self.banner)

        self.results = ResultArea()
        self.results.chunk_lookup = self._chunk_text
        self.view, self.source_pane = self.results.view, self.results.source_pane
        self.copy_button, self.export_button = self.results.copy_button, self.results.export_button
        column.addWidget(self.results, 1)

    def _connect(self) -> None:
        c = self.controller
        c.job_progress.connect(self._on_job_progress)
        c.job_done.connect(self._on_job_done)
        c.failed.connect(self._on_failed)
        c.finished.connect(self._on_finished)
        c.stats.connect(self._on_stats)
        c.loaded.connect(self._on_model_loaded)
        c.busy_changed.connect(self._on_busy_changed)
        self._extracted.connect(self._on_extracted)
        self.zone.file_dropped.connect(self.load_file)
        self.zone.text_dropped.connect(self.load_text)
        self.zone.refused.connect(lambda reason: self._show_banner(self.tr("Can't use this: %1").replace("%1", reason),
                                                                   error=True))
        self.zone.open_requested.connect(self.open_file)
        self.zone.paste_requested.connect(self.paste)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.results.status_message.connect(self.status_message)
        self.results.error.connect(lambda text: self._show_banner(text, error=True))
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        self.lang_combo.currentIndexChanged.connect(lambda _i: self._request_plan())

    # ---- loading a document ----------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._request is not None and self._job == "summary"

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
            self._show_banner(self.tr("The clipboard holds no text to summarize."), error=True)

    def load_file(self, path: Path) -> None:
        """Extract a file off the GUI thread; the panel updates when it is read."""
        self._start_loading(Path(path).name, lambda: extract(path))

    def load_text(self, text: str) -> None:
        self._start_loading(self.tr("Pasted text"), lambda: extract_text(text, name="Pasted text"))

    def _start_loading(self, name: str, read: object) -> None:
        if self.running:
            self._show_banner(self.tr("A summary is running: cancel it before opening another document."), error=True)
            return
        self._ticket += 1
        ticket = self._ticket
        self._loading = True
        self._hide_banner()
        self.info_label.setText(self.tr("Reading %1…").replace("%1", name))
        self.plan_label.setText("")
        self._update_controls()

        def work() -> None:
            try:
                outcome: object = read()  # type: ignore[operator]
            except ExtractionError as exc:
                outcome = str(exc)
            except Exception as exc:  # noqa: BLE001 - a hostile file must not kill the app
                outcome = f"{name}: the file could not be read ({type(exc).__name__}: {exc})"
            try:
                self._extracted.emit(ticket, outcome)
            except RuntimeError:  # the panel was closed meanwhile
                pass

        threading.Thread(target=work, name="kestrel-extract", daemon=True).start()

    def _on_extracted(self, ticket: int, outcome: object) -> None:
        if ticket != self._ticket:
            return
        self._loading = False
        if not isinstance(outcome, ExtractedDocument):
            self.info_label.setText(self.tr("No document loaded.") if self.document is None else self._describe())
            self._show_plan()  # the document shown before stays usable
            self._show_banner(str(outcome), error=True)
            self._update_controls()
            return
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
            self._show_banner(self.tr("This is a very large document (%1 MB). It is read piece by piece, but "
                                      "summarizing all of it will take a long time; finished parts are kept if "
                                      "you cancel.").replace("%1", f"{outcome.size_bytes / 2**20:,.0f}"), error=False)
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

        def job(engine: Engine, _stop: threading.Event, _report: object) -> object:
            plan = plan_summary(engine, document, options)
            return key, plan, (measure_speeds(engine) if measure else None)

        self.plan_label.setText(self.tr("Counting tokens…"))
        self._job = "plan"
        self._request = self.controller.run_job(job)

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

        def job(engine: Engine, stop: threading.Event, report: object) -> object:
            return summarize(engine, document, options, stop=stop, on_progress=report,  # type: ignore[arg-type]
                             plan=plan, speeds=speeds)

        self.results.begin_stream(single=plan is not None and plan.mode == "single")
        self._hide_banner()
        self.progress.setRange(0, max(1, plan.chunk_count if plan else 1))
        self.progress.setValue(0)
        self.progress_label.setText(self.tr("Starting…"))
        self.progress_box.setVisible(True)
        self._job = "summary"
        self._request = self.controller.run_job(job)
        self._update_controls()

    def cancel(self) -> None:
        """Stop within a token; the parts already summarized are kept and shown."""
        if self.running:
            self.controller.stop()
            self.progress_label.setText(self.tr("Cancelling…"))

    def _on_job_progress(self, request_id: int, payload: object) -> None:
        if request_id != self._request or not isinstance(payload, SummaryProgress):
            return
        p = payload
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

    def _on_job_done(self, request_id: int, outcome: object) -> None:
        if request_id != self._request:
            return
        if self._job == "plan" and isinstance(outcome, tuple):
            key, plan, speeds = outcome
            if speeds is not None and isinstance(speeds, Speeds) and speeds.known and not self.speeds.known:
                self.speeds = speeds
            if key == self._plan_key():
                self.plan, self._plan_for = plan, key
                self._show_plan()
        elif self._job == "summary" and isinstance(outcome, SummaryResult):
            self._show_result(outcome)

    def _show_result(self, result: SummaryResult) -> None:
        self.results.show_result(result)
        if result.prefill_tps > 0 and result.decode_tps > 0:
            self.speeds = Speeds(result.prefill_tps, result.decode_tps)
        self.progress.setRange(0, max(1, result.chunks))
        self.progress.setValue(result.chunks_summarized)
        rate = result.input_tokens / result.seconds if result.seconds > 0 else 0.0
        if result.cancelled:
            text = self.tr("Cancelled: %1 of %2 parts summarized (kept below)").replace(
                "%1", str(result.chunks_summarized)).replace("%2", str(result.chunks))
        else:
            text = self.tr("Done in %1 · %2 parts").replace("%1", f"{result.seconds:.1f} s").replace(
                "%2", str(result.chunks))
            if result.cached_chunks:
                text += self.tr(" (%1 from the cache)").replace("%1", str(result.cached_chunks))
            else:
                text += self.tr(" · %1 tokens read at %2 tok/s").replace("%1", f"{result.input_tokens:,}").replace(
                    "%2", f"{rate:,.0f}")
        self.progress_label.setText(text)
        self.status_message.emit(text)

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id == self._request:
            self._show_banner(message, error=True)
            if self._job == "plan":
                self.plan_label.setText("")

    def _on_finished(self, request_id: int) -> None:
        if request_id != self._request:
            return
        job = self._job
        self._request, self._job = None, ""
        self.results.end_stream()
        if job == "summary" and self.result is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress_label.setText(self.tr("The summary could not be made."))
        self._update_controls()
        if self._plan_wanted or (self.document is not None and self._plan_for != self._plan_key()):
            QTimer.singleShot(0, self._request_plan)

    def _on_stats(self, _request_id: int, stats: GenerationStats) -> None:
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

    def _show_banner(self, text: str, *, error: bool) -> None:
        show_banner(self.banner, text, error=error)

    def _hide_banner(self) -> None:
        self.banner.setVisible(False)

    def shutdown(self) -> None:
        """Stop a running summary (its finished parts stay in the disk cache)."""
        if self.running:
            self.controller.stop()
