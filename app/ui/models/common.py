"""Shared pieces of the Models tab: rows, estimates, formatting, the fit chip, safe signals.

Why here: the library list, the quantization picker and the compare view all show the same
figures (size, memory at a context, fit badge) and must agree; they compute them only here.
Everything slow (header reads, the machine probe) runs as a background task
(``app.ui.widgets.tasks.run_task``); the estimates themselves are arithmetic on headers
already read and run on the GUI thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, SignalInstance
from PySide6.QtGui import QColor, QPainter, QPainterPath
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableWidget

from app.base.translatable import QT_TRANSLATE_NOOP
from app.base.units import format_bytes
from app.gguf.memory import MachineMemory, estimate, fit, machine_memory
from app.gguf.reader import GGUFInfo
from app.models.catalog import Family, Variant, family_of
from app.models.library import OWNED, Library

log = logging.getLogger(__name__)

FIT_ROLE = Qt.ItemDataRole.UserRole + 7  # the fit key ("gpu_full", ...) on a badge cell
PATH_ROLE = Qt.ItemDataRole.UserRole + 8  # the model path on a row's first cell

FIT_COLORS = {"gpu_full": "#1e8e3e", "gpu_partial": "#00796b", "ram": "#1a73e8",
              "too_large": "#d93025", "unknown": "#80868b"}
_FIT_TEXT = {"gpu_full": QT_TRANSLATE_NOOP("ModelsPanel", "Fits fully on GPU"),
             "gpu_partial": QT_TRANSLATE_NOOP("ModelsPanel", "Partial GPU offload"),
             "ram": QT_TRANSLATE_NOOP("ModelsPanel", "Fits in RAM"),
             "too_large": QT_TRANSLATE_NOOP("ModelsPanel", "Too large"),
             "unknown": QT_TRANSLATE_NOOP("ModelsPanel", "Unreadable")}
_SOURCE_TEXT = {"starter": QT_TRANSLATE_NOOP("ModelsPanel", "Starter"),
                "imported": QT_TRANSLATE_NOOP("ModelsPanel", "Imported"),
                "discovered": QT_TRANSLATE_NOOP("ModelsPanel", "Other app"),
                "downloaded": QT_TRANSLATE_NOOP("ModelsPanel", "Downloaded"),
                "quantized": QT_TRANSLATE_NOOP("ModelsPanel", "Made here")}
# ggml type of the big matrices for each file type, so a made-up header repacks like the real one
_MATRIX_TYPE = {"Q4_K_M": 12, "Q5_K_M": 13, "Q6_K": 14, "Q8_0": 8, "F16": 1, "BF16": 30, "F32": 0}
_OVERHEAD = 64 << 20  # compute buffer and runtime for a variant whose header we have never seen


def tr(text: str) -> str:
    return QCoreApplication.translate("ModelsPanel", text)


def fit_text(key: str) -> str:
    return tr(_FIT_TEXT.get(key, key))


def source_text(source: str) -> str:
    return tr(_SOURCE_TEXT.get(source, source))


def format_params(n: int) -> str:
    """``494M``, ``1.54B``, ``268K``."""
    for limit, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= limit:
            value = n / limit
            return f"{value:.2f}{unit}" if value < 10 else f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return str(n)


# ---- rows ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelRow:
    """One library entry with its header (or why it cannot be read) and its catalog family."""

    path: Path
    source: str
    info: GGUFInfo | None
    problem: str | None
    family: Family | None

    @property
    def name(self) -> str:
        return self.info.name if self.info else self.path.name

    @property
    def quant(self) -> str:
        return self.info.quant if self.info else "?"

    @property
    def owned(self) -> bool:
        return self.source in OWNED

    @property
    def group(self) -> str:
        """Variants of one model share this key: the catalog family, else name and parameter count."""
        if self.family is not None:
            return "family:" + self.family.id
        if self.info is not None:
            return f"model:{self.info.architecture}|{self.info.name}|{self.info.params}"
        return "file:" + str(self.path)


def scan_library(library: Library) -> list[ModelRow]:
    """Every entry with its header read; run as a background task (one read per file)."""
    rows = []
    for listing in library.listings():
        info = listing.info
        path = Path(listing.entry.path)
        family = (family_of(info.name, info.params) if info else None) or family_of(path.name)
        rows.append(ModelRow(path, listing.entry.source, info, listing.problem, family))
    return rows


def cell_text(table: QTableWidget, row: int, column: int) -> str:
    """The text of one cell, "" where there is no item (tests and accessibility read tables with it)."""
    item = table.item(row, column)
    return item.text() if item is not None else ""


def same_file(a: Path | str | None, b: Path | str | None) -> bool:
    if not a or not b:
        return False
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return str(a) == str(b)


# ---- the machine and the estimates -------------------------------------------------------------

@dataclass(frozen=True)
class Machine:
    memory: MachineMemory
    gpu_capable: bool  # this llama.cpp build can offload and a GPU with free memory was found
    gpu_build: bool  # this llama.cpp build can offload at all
    system_info: str


def probe_machine() -> Machine:
    """RAM, VRAM and what this build of llama.cpp supports (slow: nvidia-smi, loading llama.cpp)."""
    memory = machine_memory()
    try:
        from app.engines.llama import native  # noqa: PLC0415 - loads llama.cpp: only ever in a background task

        build, info = native.gpu_offload_supported(), native.system_info().strip()
    except Exception as exc:  # noqa: BLE001 - a missing or broken build must not break the tab
        log.warning("could not query llama.cpp: %s", exc)
        build, info = False, tr("llama.cpp could not be queried: ") + str(exc)
    return Machine(memory, build and bool(memory.vram_free), build, info)


@dataclass(frozen=True)
class Estimate:
    ram_bytes: int
    vram_bytes: int
    fit: str  # a memory.Fit key, or "unknown" before the machine is known
    gpu_layers: int
    approximate: bool = False

    def memory_text(self) -> str:
        ram = format_bytes(self.ram_bytes, self.approximate)
        if not self.vram_bytes:
            return tr("%1 RAM").replace("%1", ram)
        return tr("%1 RAM + %2 VRAM").replace("%1", ram).replace("%2", format_bytes(self.vram_bytes, self.approximate))


def estimate_info(info: GGUFInfo, n_ctx: int, machine: Machine | None, approximate: bool = False) -> Estimate:
    """Memory at ``n_ctx`` in the configuration the fit badge picks (all on GPU, some, or CPU)."""
    if machine is None:
        cpu = estimate(info, n_ctx, 0)
        return Estimate(cpu.ram_bytes, 0, "unknown", 0, approximate)
    badge, layers = fit(info, n_ctx, machine.memory, machine.gpu_capable)
    used = estimate(info, n_ctx, layers if badge in ("gpu_full", "gpu_partial") else 0)
    return Estimate(used.ram_bytes, used.vram_bytes, badge, layers, approximate)


def made_up_info(variant: Variant, params: int, template: GGUFInfo) -> GGUFInfo:
    """A header for a variant not on disk: ``template``'s layout (layers, heads, vocabulary, so
    KV cache and compute buffer) with the matrices resized to the catalog's size for ``variant``."""
    vectors = sum(t.n_bytes for t in template.tensors if len(t.shape) != 2)
    matrices = sum(t.n_bytes for t in template.tensors if len(t.shape) == 2) or 1
    factor = max(0, variant.size_bytes - vectors) / matrices
    kind = _MATRIX_TYPE.get(variant.quant)
    tensors = tuple(
        replace(t, n_bytes=int(t.n_bytes * factor), ggml_type=kind if kind is not None else t.ggml_type)
        if len(t.shape) == 2 else t for t in template.tensors)
    return replace(template, size_bytes=variant.size_bytes, quant=variant.quant, params=params, tensors=tensors)


def estimate_variant(variant: Variant, family: Family, template: GGUFInfo | None, n_ctx: int,
                     machine: Machine | None) -> Estimate:
    """Estimate for a downloadable variant: catalog size plus KV/compute from a local sibling's header."""
    if template is not None and template.tensors:
        return estimate_info(made_up_info(variant, family.params, template), n_ctx, machine, approximate=True)
    ram = variant.size_bytes + _OVERHEAD  # no header: weights and a typical compute buffer, no KV cache
    if machine is None:
        return Estimate(ram, 0, "unknown", 0, True)
    mem = machine.memory
    if machine.gpu_capable and mem.vram_free and ram <= mem.vram_free * 0.9:
        return Estimate(_OVERHEAD // 4, ram, "gpu_full", -1, True)
    return Estimate(ram, 0, "ram" if ram <= mem.ram_available else "too_large", 0, True)


# ---- the fit chip ------------------------------------------------------------------------------

def paint_chip(painter: QPainter, rect: QRectF, key: str, text: str) -> None:
    """A rounded, colored chip with white text, vertically centered in ``rect``."""
    metrics = painter.fontMetrics()
    width = min(rect.width() - 4, metrics.horizontalAdvance(text) + 16)
    height = metrics.height() + 6
    chip = QRectF(rect.left() + 4, rect.center().y() - height / 2, width, height)
    path = QPainterPath()
    path.addRoundedRect(chip, height / 2, height / 2)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.fillPath(path, QColor(FIT_COLORS.get(key, FIT_COLORS["unknown"])))
    painter.setPen(QColor("white"))
    painter.drawText(chip, Qt.AlignmentFlag.AlignCenter,
                     metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width) - 8))
    painter.restore()


class FitChipDelegate(QStyledItemDelegate):
    """Draws a cell carrying FIT_ROLE as a colored chip (its display text is the chip's label)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        key = index.data(FIT_ROLE)
        if not key:
            super().paint(painter, option, index)
            return
        style = option.widget.style() if option.widget else None
        if style is not None and option.state & QStyle.StateFlag.State_Selected:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        paint_chip(painter, QRectF(option.rect), str(key), str(index.data() or ""))

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt override
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        height = option.fontMetrics.height() + 10
        return QSize(hint.width() + 24, max(hint.height(), height))


# ---- signals from other threads -----------------------------------------------------------

def safe_emit(signal: SignalInstance, *args: object) -> None:
    """Emit from a background task's progress callback; the receiving widget may be gone (the app closed)."""
    try:
        signal.emit(*args)
    except RuntimeError:
        pass  # the C++ object was deleted: nobody is left to tell
