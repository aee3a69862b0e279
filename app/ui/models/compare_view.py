"""Quant A/B: measure two or more variants of one model here, then a table, a chart and a pick.

The measuring is a job on the one engine thread (``controller.run_job``): it loads each
variant in turn in the window's own engine, and the worker loads the user's model again
afterwards, so there is never a second model in memory. It is refused while the engine is
busy, and warns that it takes the CPU for itself meanwhile.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.base.settings import QT_TRANSLATE_NOOP
from app.base.units import format_bytes
from app.engines.contract import Engine
from app.models.compare import Comparison, VariantResult, compare, recommend, remembered
from app.ui.engine.controller import EngineController
from app.ui.engine.handle import RequestHandle
from app.ui.models.chart import Bar, BarChart
from app.ui.models.common import ModelRow, cell_text, same_file

HEADERS = (QT_TRANSLATE_NOOP("CompareView", "Quant"), QT_TRANSLATE_NOOP("CompareView", "Size"),
           QT_TRANSLATE_NOOP("CompareView", "Time to first token"), QT_TRANSLATE_NOOP("CompareView", "Prefill t/s"),
           QT_TRANSLATE_NOOP("CompareView", "Decode t/s"), QT_TRANSLATE_NOOP("CompareView", "Memory"),
           QT_TRANSLATE_NOOP("CompareView", "KL divergence"))
_HIGHLIGHT = QColor(30, 142, 62, 45)
MIN_CTX = 512


class CompareView(QWidget):
    """Checkboxes for the variants, Run/Stop, and the results."""

    use_requested = Signal(object)  # Path

    def __init__(self, controller: EngineController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.controller = controller
        self.n_ctx = 2048
        self.max_tokens = 64
        self.n_gpu_layers = -1
        self._job: RequestHandle | None = None  # the comparison running now
        self._rows: list[ModelRow] = []
        self.recommended: str | None = None
        self.remembered_shown = False

        layout = QVBoxLayout(self)
        self.warning = QLabel(self.tr(
            "Compare loads each checked variant in turn, runs the same prompt and a short text on it and "
            "uses the CPU fully while it runs (a minute or more for large models). Quality is the KL "
            "divergence from the most precise variant checked."))
        self.warning.setObjectName("compareWarning")
        self.warning.setWordWrap(True)
        layout.addWidget(self.warning)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        self.variants = QListWidget()
        self.variants.setObjectName("compareVariants")
        self.variants.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.variants.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.variants.itemChanged.connect(lambda _item: self._refresh_buttons())
        column.addWidget(self.variants, 1)
        buttons = QHBoxLayout()
        self.run_button = QPushButton(self.tr("Run comparison"))
        self.run_button.setObjectName("compareRun")
        self.run_button.clicked.connect(self.run)
        buttons.addWidget(self.run_button)
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setObjectName("compareStop")
        self.stop_button.clicked.connect(self.stop)
        buttons.addWidget(self.stop_button)
        column.addLayout(buttons)
        split.addWidget(left)

        right = QWidget()
        results = QVBoxLayout(right)
        results.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("compareTable")
        self.table.setHorizontalHeaderLabels([self.tr(h) for h in HEADERS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        results.addWidget(self.table)
        self.chart = BarChart()
        results.addWidget(self.chart, 1)
        verdict = QHBoxLayout()
        self.recommendation = QLabel()
        self.recommendation.setObjectName("compareRecommendation")
        self.recommendation.setWordWrap(True)
        verdict.addWidget(self.recommendation, 1)
        self.use_button = QPushButton(self.tr("Use recommended"))
        self.use_button.setObjectName("compareUse")
        self.use_button.setVisible(False)
        self.use_button.clicked.connect(self._use_recommended)
        verdict.addWidget(self.use_button)
        results.addLayout(verdict)
        split.addWidget(right)
        split.setStretchFactor(1, 3)
        split.setSizes([260, 780])
        layout.addWidget(split, 1)
        self.status = QLabel()
        self.status.setObjectName("compareStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

        controller.busy_changed.connect(lambda _busy: self._refresh_buttons())
        self._refresh_buttons()

    # ---- input ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._job is not None

    def set_group(self, rows: list[ModelRow]) -> None:
        """The local variants of one model; all checked; remembered figures shown if any."""
        if self.running:
            return
        readable = [r for r in rows if r.info is not None]
        if [r.path for r in readable] == [r.path for r in self._rows]:
            return
        self._rows = readable
        self.variants.blockSignals(True)
        self.variants.clear()
        for row in readable:
            item = QListWidgetItem(f"{row.quant} · {format_bytes(row.info.size_bytes if row.info else 0)} · "
                                   f"{row.path.name}")
            item.setData(Qt.ItemDataRole.UserRole, str(row.path))
            item.setToolTip(str(row.path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.variants.addItem(item)
        self.variants.blockSignals(False)
        self._clear_results()
        if len(readable) < 2:
            self.status.setText(self.tr("Only one variant of this model is on this computer. Download or make "
                                        "another one to compare them."))
        else:
            self.status.setText("")
            self._show_remembered()
        self._refresh_buttons()

    def checked_paths(self) -> list[Path]:
        out = []
        for i in range(self.variants.count()):
            item = self.variants.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(Path(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def _refresh_buttons(self) -> None:
        busy = self.controller.busy
        enough = len(self.checked_paths()) >= 2
        self.run_button.setEnabled(enough and not busy and not self.running)
        self.run_button.setToolTip(self.tr("Wait until the model has finished answering or loading") if busy
                                   else "" if enough else self.tr("Check at least two variants"))
        self.stop_button.setEnabled(self.running)
        self.variants.setEnabled(not self.running)

    # ---- running -------------------------------------------------------------------------
    def run(self) -> None:
        paths = self.checked_paths()
        if len(paths) < 2 or self.running or self.controller.busy:
            return
        self._clear_results()
        self.status.setText(self.tr("Starting…"))
        # llama.cpp aborts the process if the built-in text does not fit the context: keep room for it
        n_ctx, max_tokens, gpu = max(self.n_ctx, MIN_CTX), self.max_tokens, self.n_gpu_layers

        def job(engine: Engine, stop: threading.Event, report: Callable[[object], None]) -> Comparison:
            # on the engine thread, in the window's engine; the worker reloads the user's model after it
            return compare(engine, paths, n_ctx=n_ctx, max_tokens=max_tokens, n_gpu_layers=gpu, stop=stop,
                           report=report)

        handle = self.controller.run_job(job)
        handle.job_progress.connect(lambda line: self.status.setText(str(line)))
        handle.done.connect(self._on_done)
        handle.failed.connect(self._on_failed)
        handle.finished.connect(self._on_finished)
        self._job = handle
        self._refresh_buttons()

    def stop(self) -> None:
        if self._job is not None:
            self._job.stop()
            self.stop_button.setEnabled(False)
            self.status.setText(self.tr("Stopping after the current variant…"))

    def _use_recommended(self) -> None:
        if self.recommended:
            self.use_requested.emit(Path(self.recommended))

    def shutdown(self) -> None:
        if self._job is not None:
            self._job.stop()

    def _on_done(self, comparison: Comparison) -> None:
        stopped = self._job is not None and self._job.stop_event.is_set()
        self._show(comparison.variants, comparison.recommended, comparison.reason)
        took = self.tr("Measured in %1 s.").replace("%1", f"{comparison.seconds:.1f}")
        self.status.setText(self.tr("Stopped early. ") + took if stopped else took)

    def _on_failed(self, message: str) -> None:
        self.status.setText(self.tr("The comparison failed: ") + message)
        self.status.setStyleSheet("color: #d93025;")

    def _on_finished(self) -> None:
        self._job = None
        self._refresh_buttons()

    # ---- results -------------------------------------------------------------------------
    def _clear_results(self) -> None:
        self.table.setRowCount(0)
        self._fit_table()
        self.chart.set_bars([])
        self.recommendation.setText("")
        self.use_button.setVisible(False)
        self.recommended = None
        self.remembered_shown = False
        self.status.setStyleSheet("")

    def _show_remembered(self) -> None:
        names = {f.name for f in dataclasses.fields(VariantResult)}
        found, when = [], 0.0
        for row in self._rows:
            data = remembered(str(row.path))
            if data is not None:
                found.append(VariantResult(**{k: v for k, v in data.items() if k in names}))
                when = max(when, float(data.get("measured_at", 0.0)))
        if not found:
            return
        choice, reason = recommend(found)
        self._show(found, choice, reason)
        self.remembered_shown = True
        date = datetime.datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M") if when else "?"
        self.status.setText(self.tr("Figures measured earlier on this computer (%1). Run again to refresh them.")
                            .replace("%1", date))

    def _show(self, variants: Sequence[VariantResult], recommended: str | None, reason: str) -> None:
        self.recommended = recommended
        self.table.setRowCount(len(variants))
        bars = []
        for r, v in enumerate(variants):
            best = same_file(v.path, recommended)
            if v.error:
                cells = [v.quant, format_bytes(v.size_bytes), self.tr("failed: ") + v.error, "", "", "", ""]
            else:
                kl = self.tr("reference") if v.reference else "n/a" if v.kl_divergence is None \
                    else f"{v.kl_divergence:.4f}"
                memory = format_bytes(v.memory_bytes, approximate=not v.memory_measured)
                cells = [("★ " if best else "") + v.quant, format_bytes(v.size_bytes),
                         "n/a" if v.ttft_s is None else f"{v.ttft_s * 1000:.0f} ms",
                         "n/a" if v.prefill_tps is None else f"{v.prefill_tps:.1f}",
                         "n/a" if v.decode_tps is None else f"{v.decode_tps:.1f}", memory, kl]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(v.error or v.path)
                if c >= 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if best:
                    item.setBackground(_HIGHLIGHT)
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
            if not v.error:
                bars.append(Bar(v.quant, v.decode_tps, v.kl_divergence, best))
        self.chart.set_bars(bars)
        self._fit_table()
        if recommended:
            quant = next((v.quant for v in variants if same_file(v.path, recommended)), "")
            self.recommendation.setText(self.tr("Recommended: %1. ").replace("%1", quant) + reason)
            self.use_button.setVisible(True)
        else:
            self.recommendation.setText(reason)
            self.use_button.setVisible(False)

    def _fit_table(self) -> None:
        """Tall enough for every variant (up to six) so the highlighted one is never scrolled away."""
        rows = min(max(self.table.rowCount(), 2), 6)
        height = self.table.horizontalHeader().sizeHint().height() + rows * self.table.verticalHeader() \
            .defaultSectionSize() + 2 * self.table.frameWidth() + 2
        self.table.setFixedHeight(height)

    def result_rows(self) -> list[list[str]]:
        """The table as text (tests and accessibility)."""
        return [[cell_text(self.table, r, c) for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]
