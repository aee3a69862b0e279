"""Quant A/B: measure two or more variants of one model here, then a table, a chart and a pick.

The measuring loads each variant in turn in its own llama.cpp engine on a worker thread (the
chat's engine keeps its model), so it is refused while the chat engine is busy and warns that
it takes the CPU for itself meanwhile.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

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

from app.ui.models.chart import Bar, BarChart
from app.ui.models.common import ModelRow, format_bytes, safe_emit, same_file, start_thread
from app.ui.worker import EngineController

if TYPE_CHECKING:  # app.llm.compare imports the engine: only on first use
    from app.llm.compare import Comparison, VariantResult

HEADERS = ("Quant", "Size", "Time to first token", "Prefill t/s", "Decode t/s", "Memory", "KL divergence")
_HIGHLIGHT = QColor(30, 142, 62, 45)
MIN_CTX = 512


class CompareView(QWidget):
    """Checkboxes for the variants, Run/Stop, and the results."""

    use_requested = Signal(object)  # Path
    _report = Signal(str)
    _done = Signal(object)  # Comparison
    _failed = Signal(str)

    def __init__(self, controller: EngineController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.controller = controller
        self.n_ctx = 2048
        self.max_tokens = 64
        self.n_gpu_layers = -1
        self._stop: threading.Event | None = None
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

        self._report.connect(self.status.setText)
        self._done.connect(self._on_done)
        self._failed.connect(self._on_failed)
        controller.busy_changed.connect(lambda _busy: self._refresh_buttons())
        self._refresh_buttons()

    # ---- input ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._stop is not None

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
        stop = threading.Event()
        self._stop = stop
        self._clear_results()
        self.status.setText(self.tr("Starting…"))
        self._refresh_buttons()
        # llama.cpp aborts the process if the built-in text does not fit the context: keep room for it
        n_ctx, max_tokens, gpu = max(self.n_ctx, MIN_CTX), self.max_tokens, self.n_gpu_layers

        def body() -> None:
            try:
                from app.llm.compare import compare  # noqa: PLC0415

                result = compare(paths, n_ctx=n_ctx, max_tokens=max_tokens, n_gpu_layers=gpu, stop=stop,
                                 report=lambda line: safe_emit(self._report, line))
            except Exception as exc:  # noqa: BLE001 - a bad file or anything else: tell the user
                safe_emit(self._failed, str(exc))
            else:
                safe_emit(self._done, result)

        start_thread("compare", body)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.stop_button.setEnabled(False)
            self.status.setText(self.tr("Stopping after the current variant…"))

    def _use_recommended(self) -> None:
        if self.recommended:
            self.use_requested.emit(Path(self.recommended))

    def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _on_done(self, comparison: Comparison) -> None:
        stopped = self._stop is not None and self._stop.is_set()
        self._stop = None
        self._show(comparison.variants, comparison.recommended, comparison.reason)
        took = self.tr("Measured in %1 s.").replace("%1", f"{comparison.seconds:.1f}")
        self.status.setText(self.tr("Stopped early. ") + took if stopped else took)
        self._refresh_buttons()

    def _on_failed(self, message: str) -> None:
        self._stop = None
        self.status.setText(self.tr("The comparison failed: ") + message)
        self.status.setStyleSheet("color: #d93025;")
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
        from app.llm.compare import VariantResult, recommend, remembered  # noqa: PLC0415

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
                cells = [("★ " if best else "") + v.quant, format_bytes(v.size_bytes), f"{v.ttft_s * 1000:.0f} ms",
                         f"{v.prefill_tps:.1f}", f"{v.decode_tps:.1f}", memory, kl]
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
        return [[self.table.item(r, c).text() if self.table.item(r, c) else "" for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]
