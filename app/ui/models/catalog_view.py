"""The catalog to browse: every model of ``models/catalog.json`` with its sizes per quantization,
the fit badge for this machine, its licence, and one click to download, pause and resume.

At the top, the pick recommended for this machine (``app.models.catalog.recommend``) with one
button. Files already on this computer say so and offer "Use" instead of a second download.
Downloads go through ``DownloadRunner`` (the same machinery as the Download section): verified
against the hub's SHA-256, the partial file kept on pause, resumed from there.

Nothing here touches the network until a Download button is pressed. Which files have a
partial download kept is looked up once in a background task (it imports the download package).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.base.settings import QT_TRANSLATE_NOOP
from app.base.units import format_bytes
from app.models.catalog import (
    COMFORTABLE_SHARE,
    RECOMMENDED_QUANT,
    Family,
    Recommendation,
    Variant,
    load_catalog,
    recommend,
)
from app.models.library import Library
from app.ui.models.common import (
    FIT_ROLE,
    Estimate,
    FitChipDelegate,
    Machine,
    ModelRow,
    estimate_info,
    estimate_variant,
    fit_text,
    format_params,
    same_file,
)
from app.ui.models.download_view import DownloadRunner, progress_text
from app.ui.widgets.tasks import run_task

if TYPE_CHECKING:
    from app.models.download import DownloadProgress, DownloadResult

#: Marked for lupdate: the headers are translated where the tree is built.
#: A model's own row spans them all (name, parameters, licence); its quantizations fill the columns.
COLUMNS = (QT_TRANSLATE_NOOP("CatalogView", "Model"), QT_TRANSLATE_NOOP("CatalogView", "Size"),
           QT_TRANSLATE_NOOP("CatalogView", "Memory (est.)"), QT_TRANSLATE_NOOP("CatalogView", "Fit"),
           QT_TRANSLATE_NOOP("CatalogView", "Status"), "")
COL_NAME, COL_SIZE, COL_MEMORY, COL_FIT, COL_STATUS, COL_ACTION = range(len(COLUMNS))
#: What a catalog file is here: in use, in the library, bundled, being fetched, paused, or only on the hub
#: ("waiting": another catalog download is running; one at a time).
State = Literal["in_use", "local", "bundled", "downloading", "stopping", "waiting", "partial", "remote"]
ACTIVE: tuple[State, ...] = ("local", "downloading", "partial", "remote")  # states whose button does something
FAMILY_ROLE = Qt.ItemDataRole.UserRole + 9  # the family id on every row of the tree
STYLE = """
#recommendedBox { background: rgba(30, 142, 62, 0.10); border: 1px solid rgba(30, 142, 62, 0.45);
                  border-radius: 8px; }
#recommendedTitle { font-weight: 600; }
"""


def _html(text: str) -> str:
    return html.escape(text, quote=False)


class CatalogView(QWidget):
    """The catalog page of the Models tab; the panel feeds it the machine, the library rows and the context."""

    use_requested = Signal(object)  # Path of a catalog file already on this computer
    downloaded = Signal(object)  # Path, downloaded, verified and registered in the library

    def __init__(self, library: Library, endpoint: Callable[[], str | None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("catalogView")
        self.setStyleSheet(STYLE)
        self.families = load_catalog()
        self.runner = DownloadRunner(library, self)
        self.endpoint = endpoint or (lambda: None)  # the hub address (Download › Advanced); None: the usual hub
        self.machine: Machine | None = None
        self.recommendation: Recommendation | None = None
        self.n_ctx = 4096
        self._rows: list[ModelRow] = []
        self._current: Path | None = None
        self._partials: dict[tuple[str, str], int] = {}
        self._looked_for_partials = False
        self._want_recommended = False
        self._active: Variant | None = None  # the variant being downloaded (or last started)
        self._items: dict[tuple[str, str], QTreeWidgetItem] = {}  # (family id, quant) -> its row

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._build_recommended())
        self.tree = QTreeWidget()
        self.tree.setObjectName("catalogTree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels([self.tr(c) if c else "" for c in COLUMNS])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setAlternatingRowColors(True)
        self.tree.setItemDelegate(FitChipDelegate(self.tree))
        self.tree.setUniformRowHeights(False)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Interactive)  # quantization names: short
        header.resizeSection(COL_NAME, self.fontMetrics().horizontalAdvance("M") * 14)
        header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        layout.addWidget(self.tree, 1)

        bottom = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("catalogProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        bottom.addWidget(self.progress)
        self.status = QLabel(self.tr("Sizes marked ~ are estimates until the download starts. Every file is checked "
                                     "against the hub's SHA-256 before it is used."))
        self.status.setObjectName("catalogStatus")
        self.status.setWordWrap(True)
        bottom.addWidget(self.status, 1)
        layout.addLayout(bottom)

        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_done)
        self.runner.stopped.connect(self._on_stopped)
        self.runner.failed.connect(self._on_failed)
        self._fill()
        self._show_recommendation()

    def _build_recommended(self) -> QFrame:
        box = QFrame()
        box.setObjectName("recommendedBox")
        row = QHBoxLayout(box)
        row.setContentsMargins(12, 10, 12, 10)
        column = QVBoxLayout()
        column.setSpacing(3)
        self.rec_title = QLabel(self.tr("Recommended for this machine"))
        self.rec_title.setObjectName("recommendedTitle")
        font = QFont(self.rec_title.font())
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.rec_title.setFont(font)
        column.addWidget(self.rec_title)
        self.rec_text = QLabel()
        self.rec_text.setObjectName("recommendedText")
        self.rec_text.setWordWrap(True)
        self.rec_text.setTextFormat(Qt.TextFormat.RichText)
        column.addWidget(self.rec_text)
        self.rec_why = QLabel()
        self.rec_why.setObjectName("recommendedWhy")
        self.rec_why.setWordWrap(True)
        column.addWidget(self.rec_why)
        row.addLayout(column, 1)
        self.rec_button = QPushButton()
        self.rec_button.setObjectName("recommendedButton")
        self.rec_button.clicked.connect(self._on_recommended_clicked)
        row.addWidget(self.rec_button, 0, Qt.AlignmentFlag.AlignVCenter)
        return box

    # ---- input ---------------------------------------------------------------------------
    def set_machine(self, machine: Machine | None) -> None:
        """What this computer has: the fit badges and the recommendation follow from it."""
        self.machine = machine
        self.recommendation = recommend(machine.memory, machine.gpu_capable, self.families) if machine else None
        self._fill()
        self._show_recommendation()
        if self._want_recommended:
            self.show_recommended()

    def set_rows(self, rows: list[ModelRow], current: Path | None) -> None:
        """The library's models (so files already here say so) and the one in use."""
        self._rows, self._current = list(rows), current
        self._fill()
        self._show_recommendation()

    def set_context(self, n_ctx: int) -> None:
        """The context the memory estimates and fit badges are for (Settings › Model)."""
        self.n_ctx = n_ctx
        self._fill()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        if not self._looked_for_partials:
            self._looked_for_partials = True
            self._look_for_partials()
        super().showEvent(event)

    def _look_for_partials(self) -> None:
        """Which catalog files have a partial download kept (from an earlier pause or session)."""
        runner = self.runner
        files = [(v.repo, v.file) for f in self.families for v in f.variants if v.repo]

        def body() -> dict[tuple[str, str], int]:
            return {(repo, name): size for repo, name in files if (size := runner.partial(repo, name))}

        task = run_task("catalog-partials", body, self)
        task.done.connect(self._on_partials)

    def _on_partials(self, partials: dict[tuple[str, str], int]) -> None:
        self._partials = dict(partials)
        self._fill()
        self._show_recommendation()

    # ---- what each file is here -----------------------------------------------------------
    def local_row(self, family: Family, variant: Variant) -> ModelRow | None:
        """The library's copy of ``variant``: the same file name, or the same family and quantization."""
        readable = [r for r in self._rows if r.info is not None]
        return (next((r for r in readable if r.path.name.lower() == variant.file.lower()), None)
                or next((r for r in readable if r.family is not None and r.family.id == family.id
                         and r.quant == variant.quant), None))

    def _state(self, family: Family, variant: Variant) -> State:
        local = self.local_row(family, variant)
        if local is not None:
            return "in_use" if same_file(local.path, self._current) else "local"
        if not variant.repo:
            return "bundled"
        if self.runner.running:
            if self._active is variant:
                return "stopping" if self.runner.stopping else "downloading"
            return "waiting"
        return "partial" if self._partials.get((variant.repo, variant.file)) else "remote"

    def _status_text(self, state: State, variant: Variant) -> str:
        if state == "partial":
            kept = self._partials.get((variant.repo or "", variant.file), 0)
            return self.tr("Paused at %1").replace("%1", format_bytes(kept))
        return {"in_use": self.tr("In use"), "local": self.tr("On this computer"),
                "bundled": self.tr("Bundled with Kestrel"), "downloading": self.tr("Downloading…"),
                "stopping": self.tr("Pausing…")}.get(state, "")

    def _button_text(self, state: State) -> str:
        return {"in_use": self.tr("In use"), "local": self.tr("Use"), "bundled": "—",
                "downloading": self.tr("Pause"), "stopping": self.tr("Pause"),
                "partial": self.tr("Resume")}.get(state, self.tr("Download"))

    def _estimate(self, family: Family, variant: Variant) -> Estimate:
        local = self.local_row(family, variant)
        if local is not None and local.info is not None:
            return estimate_info(local.info, self.n_ctx, self.machine)
        template = next((r.info for r in self._rows if r.info is not None and r.family is not None
                         and r.family.id == family.id), None)
        return estimate_variant(variant, family, template, self.n_ctx, self.machine)

    # ---- the tree -------------------------------------------------------------------------
    def _fill(self) -> None:
        tops = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        collapsed = {self._family_id(item) for item in tops if item is not None and not item.isExpanded()}
        scroll = self.tree.verticalScrollBar().value()
        current = self.tree.currentItem()
        keep = (self._family_id(current), current.text(COL_NAME) if current.parent() else "") if current else None
        self.tree.setUpdatesEnabled(False)
        try:
            self.tree.clear()
            self._items.clear()
            picked = self.recommendation.family if self.recommendation else None
            for family in self.families:
                item = self._family_item(family, picked is not None and family.id == picked.id)
                self.tree.addTopLevelItem(item)
                item.setFirstColumnSpanned(True)
                for variant in family.variants:
                    child = self._variant_item(family, variant)
                    item.addChild(child)
                    self._items[(family.id, variant.quant)] = child
                    self.tree.setItemWidget(child, COL_ACTION, self._button(family, variant))
                item.setExpanded(family.id not in collapsed)
            again = (self._items.get(keep) or self._top(keep[0])) if keep is not None else None
            if again is not None:
                self.tree.setCurrentItem(again)
        finally:
            self.tree.setUpdatesEnabled(True)
        self.tree.verticalScrollBar().setValue(scroll)

    def _top(self, family_id: str) -> QTreeWidgetItem | None:
        tops = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return next((item for item in tops if item is not None and self._family_id(item) == family_id), None)

    @staticmethod
    def _family_id(item: QTreeWidgetItem | None) -> str:
        return str(item.data(COL_NAME, FAMILY_ROLE)) if item is not None else ""

    def _family_item(self, family: Family, recommended: bool) -> QTreeWidgetItem:
        """One line for the model: name, parameters, licence, and "Recommended" or "Base model"."""
        parts = [family.name, self.tr("%1 parameters").replace("%1", format_params(family.params)), family.license]
        if family.base:
            parts.append(self.tr("Base model"))
        elif recommended:
            parts.append(self.tr("Recommended"))
        item = QTreeWidgetItem(["  ·  ".join(parts)])
        item.setData(COL_NAME, FAMILY_ROLE, family.id)
        font = QFont(item.font(COL_NAME))
        font.setBold(True)
        item.setFont(COL_NAME, font)
        tip = self.tr("%1 parameters · trained for %2 tokens of context").replace(
            "%1", format_params(family.params)).replace("%2", f"{family.n_ctx_train:,}")
        if family.base:
            tip += "\n" + self.tr("A base model: it continues text rather than following instructions.")
        if family.repo:
            tip += "\n" + self.tr("From %1 on the Hugging Face hub").replace("%1", family.repo)
        item.setToolTip(COL_NAME, tip)
        return item

    def _variant_item(self, family: Family, variant: Variant) -> QTreeWidgetItem:
        state = self._state(family, variant)
        local = self.local_row(family, variant)
        size, approximate = ((local.info.size_bytes, False) if local is not None and local.info is not None
                             else (variant.size_bytes, variant.approximate))
        est = self._estimate(family, variant)
        fit = fit_text(est.fit) if est.fit != "unknown" else "…"
        item = QTreeWidgetItem([variant.quant, format_bytes(size, approximate), est.memory_text(), fit,
                                self._status_text(state, variant), ""])
        item.setData(COL_NAME, FAMILY_ROLE, family.id)
        if est.fit != "unknown":
            item.setData(COL_FIT, FIT_ROLE, est.fit)
            item.setToolTip(COL_FIT, self.tr("At %1 tokens of context").replace("%1", f"{self.n_ctx:,}"))
        if approximate:
            item.setToolTip(COL_SIZE, self.tr("Approximate: parameters × bits per weight; the hub gives the exact "
                                              "size when the download starts"))
        item.setToolTip(COL_NAME, str(local.path) if local is not None else variant.file)
        item.setToolTip(COL_MEMORY, self.tr("Weights, KV cache and compute buffer at %1 tokens of context")
                        .replace("%1", f"{self.n_ctx:,}"))
        item.setTextAlignment(COL_SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def _button(self, family: Family, variant: Variant) -> QPushButton:
        state = self._state(family, variant)
        button = QPushButton(self._button_text(state))
        button.setObjectName("catalogAction")
        button.setEnabled(state in ACTIVE)
        button.clicked.connect(lambda _checked=False, f=family, v=variant: self.act(f, v))
        return button

    def item(self, family_id: str, quant: str) -> QTreeWidgetItem:
        """The row of one variant (tests and accessibility)."""
        return self._items[(family_id, quant)]

    def button(self, family_id: str, quant: str) -> QPushButton:
        """The action button of one variant."""
        widget = self.tree.itemWidget(self.item(family_id, quant), COL_ACTION)
        assert isinstance(widget, QPushButton)
        return widget

    # ---- the recommendation ----------------------------------------------------------------
    def _show_recommendation(self) -> None:
        rec = self.recommendation
        if self.machine is None:
            self.rec_text.setText(_html(self.tr("Looking at this computer's memory…")))
            self.rec_why.setText("")
            self.rec_button.setVisible(False)
            return
        if rec is None or rec.family is None or rec.variant is None:
            room = rec.room_bytes if rec else 0
            need = rec.need_bytes if rec else 0
            self.rec_text.setText(_html(self.tr("No chat model in the catalog fits comfortably in this computer's "
                                                "free memory: %1 is free, the smallest needs about %2.")
                                        .replace("%1", format_bytes(room)).replace("%2", format_bytes(need))))
            self.rec_why.setText(self.tr("Close other programs and open Kestrel again, or use a model you already "
                                         "have."))
            self.rec_button.setVisible(False)
            return
        family, variant = rec.family, rec.variant
        size = self.tr("%1 download").replace("%1", format_bytes(variant.size_bytes, variant.approximate))
        self.rec_text.setText(f"<b>{_html(family.name)}</b> · {variant.quant} · {_html(size)} · "
                              f"{_html(family.license)}")
        where = self.tr("free GPU memory") if rec.on_gpu else self.tr("free memory")
        self.rec_why.setText(self.tr("The largest chat model whose %1 file fits comfortably in this computer's %2: "
                                     "it needs about %3 of the %4 free, at most %5 %, so your other programs keep "
                                     "room.")
                             .replace("%1", RECOMMENDED_QUANT).replace("%2", where)
                             .replace("%3", format_bytes(rec.need_bytes)).replace("%4", format_bytes(rec.room_bytes))
                             .replace("%5", str(round(COMFORTABLE_SHARE * 100))))
        state = self._state(family, variant)
        self.rec_button.setText(self._button_text(state))
        self.rec_button.setEnabled(state in ACTIVE)
        self.rec_button.setVisible(True)

    def _on_recommended_clicked(self) -> None:
        rec = self.recommendation
        if rec is not None and rec.family is not None and rec.variant is not None:
            self.act(rec.family, rec.variant)

    def show_recommended(self) -> None:
        """Bring the recommended pick into view (the base-model note's "Get a chat model…" leads here)."""
        rec = self.recommendation
        self._want_recommended = self.machine is None  # not known yet: done when the machine is
        if rec is None or rec.family is None or rec.variant is None:
            return
        item = self.item(rec.family.id, rec.variant.quant)
        self.tree.setCurrentItem(item)
        self.tree.scrollToItem(item, QAbstractItemView.ScrollHint.PositionAtCenter)
        if self.rec_button.isEnabled():
            self.rec_button.setFocus(Qt.FocusReason.OtherFocusReason)

    # ---- actions ---------------------------------------------------------------------------
    def act(self, family: Family, variant: Variant) -> None:
        """What the variant's button says: use it, download it, pause it, or resume it."""
        state = self._state(family, variant)
        local = self.local_row(family, variant)
        if state == "local" and local is not None:
            self.use_requested.emit(local.path)
        elif state == "downloading":
            self.runner.stop()
            self._show(self.tr("Pausing…"))
            self._refresh()
        elif state in ("remote", "partial") and variant.repo:
            self.download(variant)

    def download(self, variant: Variant) -> None:
        """Download (or resume) ``variant``; its progress shows in the bar below and on its row."""
        assert variant.repo is not None
        if not self.runner.start(variant.repo, variant.file, self.endpoint()):
            return
        self._active = variant
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)  # busy until the size is known
        self._show(self.tr("Connecting…"))
        self._refresh()

    def shutdown(self) -> None:
        """Stop a download (its partial file is kept for the next start)."""
        self.runner.stop()

    def _refresh(self) -> None:
        self._fill()
        self._show_recommendation()

    # ---- results (GUI thread) ----------------------------------------------------------------
    def _on_progress(self, p: DownloadProgress) -> None:
        fraction = p.fraction
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        self._show(f"{p.filename}: {progress_text(p)}")
        variant = self._active
        if variant is not None and fraction is not None and not self.runner.stopping:
            item = self._items.get((variant.family, variant.quant))
            if item is not None:
                item.setText(COL_STATUS, self.tr("Downloading %1 %").replace("%1", str(int(fraction * 100))))

    def _on_done(self, result: DownloadResult) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self._partials.pop((result.repo_id, result.filename), None)
        verified = self.tr("verified") if result.verified else self.tr("not verified")
        resumed = (self.tr(", resumed from %1").replace("%1", format_bytes(result.resumed_from))
                   if result.resumed_from else "")
        self._show(self.tr("Downloaded %1 (%2, %3%4). It is on this computer now.").replace("%1", result.path.name)
                   .replace("%2", format_bytes(result.size)).replace("%3", verified).replace("%4", resumed))
        self._refresh()
        self.downloaded.emit(result.path)

    def _on_stopped(self) -> None:
        self._note_partial()
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        self._show(self.tr("Paused. The partial file is kept; press Resume to continue."))
        self._refresh()

    def _on_failed(self, message: str) -> None:
        self._note_partial()
        self.progress.setVisible(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        self._show(message, error=True)
        self._refresh()

    def _note_partial(self) -> None:
        repo, name = self.runner.repo, self.runner.filename
        kept = self.runner.partial(repo, name)  # the download package is imported by now
        if kept:
            self._partials[(repo, name)] = kept
        else:
            self._partials.pop((repo, name), None)

    def _show(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("error", error)
        self.status.setStyleSheet("color: #d93025;" if error else "")
