"""The library list (one row per local model; .gguf files dropped onto it are imported in place)
and the library's background jobs (header reads, imports, rescans of other apps' folders)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QFont, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from app.base.settings import QT_TRANSLATE_NOOP
from app.base.units import format_bytes
from app.gguf.reader import GGUFError, read_gguf_info
from app.models.library import Library
from app.ui.models.common import (
    FIT_ROLE,
    PATH_ROLE,
    Estimate,
    FitChipDelegate,
    ModelRow,
    cell_text,
    fit_text,
    format_params,
    same_file,
    scan_library,
    source_text,
    tr,
)
from app.ui.widgets.tasks import run_task

#: Marked for lupdate: the headers are translated where the table is built.
COLUMNS = ("", QT_TRANSLATE_NOOP("ModelsPanel", "Name"), QT_TRANSLATE_NOOP("ModelsPanel", "Quant"),
           QT_TRANSLATE_NOOP("ModelsPanel", "Parameters"), QT_TRANSLATE_NOOP("ModelsPanel", "Size"),
           QT_TRANSLATE_NOOP("ModelsPanel", "Context"), QT_TRANSLATE_NOOP("ModelsPanel", "Chat template"),
           QT_TRANSLATE_NOOP("ModelsPanel", "Source"), QT_TRANSLATE_NOOP("ModelsPanel", "Memory (est.)"),
           QT_TRANSLATE_NOOP("ModelsPanel", "Fit"))
COL_CURRENT, COL_NAME, COL_QUANT, COL_PARAMS, COL_SIZE, COL_CTX, COL_TEMPLATE, COL_SOURCE, COL_MEMORY, COL_FIT = \
    range(len(COLUMNS))


def gguf_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[Path]:
    """Local .gguf files among what is being dragged."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls()
            if url.isLocalFile() and url.toLocalFile().lower().endswith(".gguf")]


class LibraryTable(QTableWidget):
    """Sortable-looking but stable list of models; emits ``files_dropped`` for dropped .gguf files."""

    files_dropped = Signal(list)  # list[Path]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("modelLibrary")
        self.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.setItemDelegate(FitChipDelegate(self))
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setToolTip(tr("Drop .gguf files here to add them (they stay where they are)"))
        self._rows: list[ModelRow] = []

    # ---- content -------------------------------------------------------------------------
    def set_rows(self, rows: list[ModelRow], estimates: dict[Path, Estimate], current: Path | None,
                 n_ctx: int) -> None:
        """Show ``rows``; the selection follows the same file across refreshes."""
        selected = self.selected_path()
        self._rows = list(rows)
        self.setUpdatesEnabled(False)
        try:
            self.setRowCount(len(rows))
            for r, row in enumerate(rows):
                self._fill(r, row, estimates.get(row.path), same_file(row.path, current), n_ctx)
        finally:
            self.setUpdatesEnabled(True)
        if selected is not None:
            self.select_path(selected)

    def _fill(self, r: int, row: ModelRow, est: Estimate | None, is_current: bool, n_ctx: int) -> None:
        info = row.info
        if info is None:
            fit_cell = fit_text("unknown")
        elif est is not None and est.fit != "unknown":
            fit_cell = fit_text(est.fit)
        else:
            fit_cell = "…"  # the machine is still being looked at
        cells = [
            "●" if is_current else "",
            row.name,
            row.quant,
            format_params(info.params) if info else "",
            format_bytes(info.size_bytes) if info else "",
            f"{info.n_ctx_train:,}" if info and info.n_ctx_train else "",
            (tr("yes") if info.has_chat_template else tr("no")) if info else "",
            source_text(row.source),
            est.memory_text() if est else "",
            fit_cell,
        ]
        tip = str(row.path) + ("\n" + tr("Current model") if is_current else "")
        if row.problem:
            tip += "\n" + tr("Cannot be used: ") + row.problem
        items = [QTableWidgetItem(text) for text in cells]
        for c, item in enumerate(items):
            item.setToolTip(tip)
            if c == COL_CURRENT:
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setData(PATH_ROLE, str(row.path))
            if c in (COL_PARAMS, COL_SIZE, COL_CTX):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if is_current:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.setItem(r, c, item)
        fit_item = items[COL_FIT]
        if not info:
            fit_item.setData(FIT_ROLE, "unknown")
        elif est is not None and est.fit != "unknown":
            fit_item.setData(FIT_ROLE, est.fit)
            fit_item.setToolTip(tr("At %1 tokens of context; %2 GPU layers")
                                .replace("%1", f"{n_ctx:,}")
                                .replace("%2", tr("all") if est.gpu_layers < 0 else str(est.gpu_layers)))
        if est is not None:
            items[COL_MEMORY].setToolTip(tr("Weights, KV cache and compute buffer at %1 tokens of context")
                                                .replace("%1", f"{n_ctx:,}"))

    # ---- selection -----------------------------------------------------------------------
    def rows(self) -> list[ModelRow]:
        return list(self._rows)

    def selected_row(self) -> ModelRow | None:
        indexes = self.selectionModel().selectedRows() if self.selectionModel() else []
        if not indexes:
            return None
        r = indexes[0].row()
        return self._rows[r] if 0 <= r < len(self._rows) else None

    def selected_path(self) -> Path | None:
        row = self.selected_row()
        return row.path if row else None

    def select_path(self, path: Path) -> bool:
        for r, row in enumerate(self._rows):
            if same_file(row.path, path):
                self.selectRow(r)
                self.scrollTo(self.model().index(r, COL_NAME))
                return True
        return False

    def row_text(self, path: Path) -> list[str]:
        """The cells shown for ``path`` (tests and accessibility)."""
        for r, row in enumerate(self._rows):
            if same_file(row.path, path):
                return [cell_text(self, r, c) for c in range(self.columnCount())]
        raise KeyError(str(path))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             tr("No models yet. Drop .gguf files here, use “Add model file…”, "
                                "or download one below."))

    # ---- drops ---------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if gguf_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if gguf_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = gguf_paths(event)
        if not files:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.LinkAction if event.possibleActions() & Qt.DropAction.LinkAction
                            else Qt.DropAction.CopyAction)
        event.accept()
        self.files_dropped.emit(files)


class LibraryJobs(QObject):
    """Library work that reads files, as background tasks; results arrive as signals on the GUI thread."""

    scanned = Signal(int, object)  # generation, list[ModelRow] or an error message
    imported = Signal(object, object)  # added paths, problems (one line each)
    rescanned = Signal(object)  # how many new models, or an error message

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library

    def scan(self, generation: int) -> None:
        library = self.library
        task = run_task("scan-library", lambda: scan_library(library), self)
        task.done.connect(lambda rows: self.scanned.emit(generation, rows))
        task.failed.connect(lambda message: self.scanned.emit(generation, message))

    def import_files(self, files: list[Path]) -> None:
        """Check each header, then link the file in place (never copied)."""
        library = self.library

        def body() -> tuple[list[Path], list[str]]:
            added, problems = [], []
            for path in files:
                try:
                    read_gguf_info(path)
                    library.add(path, "imported")
                    added.append(Path(path))
                except GGUFError as exc:
                    problems.append(str(exc))
                except OSError as exc:
                    problems.append(f"{Path(path).name}: {exc}")
            return added, problems

        task = run_task("import", body, self)
        task.done.connect(lambda outcome: self.imported.emit(*outcome))
        task.failed.connect(lambda message: self.imported.emit([], [message]))

    def rescan(self) -> None:
        library = self.library
        task = run_task("rescan", library.sync_discovered, self)
        task.done.connect(self.rescanned.emit)
        task.failed.connect(self.rescanned.emit)
