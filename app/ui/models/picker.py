"""The quantization picker: every variant of one model, on disk or downloadable, with its fit here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.base.settings import QT_TRANSLATE_NOOP
from app.base.units import format_bytes
from app.gguf.reader import GGUFInfo
from app.models.catalog import Family, Variant
from app.ui.models.common import (
    FIT_ROLE,
    Estimate,
    FitChipDelegate,
    Machine,
    ModelRow,
    estimate_info,
    estimate_variant,
    fit_text,
    same_file,
)

# Most compact first, so the list reads from "smallest, fastest" to "closest to the original".
_ORDER = ["IQ1_S", "IQ1_M", "Q2_K", "Q2_K_S", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "Q3_K_S", "IQ3_XXS",
          "IQ3_XS", "IQ3_S", "Q3_K_M", "IQ3_M", "Q3_K_L", "IQ4_XS", "IQ4_NL", "Q4_0", "Q4_1", "Q4_K_S",
          "Q4_K_M", "Q5_0", "Q5_1", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0", "F16", "BF16", "F32"]


def _rank(quant: str) -> int:
    return _ORDER.index(quant) if quant in _ORDER else len(_ORDER)


@dataclass(frozen=True)
class Choice:
    """One line of the picker: a local file, or a catalog variant to download."""

    quant: str
    local: ModelRow | None
    remote: Variant | None
    size_bytes: int
    approximate: bool


def variant_choices(rows: list[ModelRow], family: Family | None) -> list[Choice]:
    """Local files of the model, plus every catalog variant of its family that is not on disk."""
    local: dict[str, list[ModelRow]] = {}
    for row in rows:
        if row.info is not None:
            local.setdefault(row.quant, []).append(row)
    choices = [Choice(q, r, None, r.info.size_bytes, False) for q, rs in local.items() for r in rs if r.info]
    if family is not None:
        choices += [Choice(v.quant, None, v, v.size_bytes, v.approximate)
                    for v in family.variants if v.quant not in local]
    return sorted(choices, key=lambda c: (_rank(c.quant), c.local is None, c.size_bytes))


class QuantPicker(QWidget):
    """Lists the variants; one click switches to a local one or prefills a download."""

    use_requested = Signal(object)  # Path
    download_requested = Signal(str, str)  # repo, file

    HEADERS = (QT_TRANSLATE_NOOP("QuantPicker", "Quant"), QT_TRANSLATE_NOOP("QuantPicker", "Size"),
               QT_TRANSLATE_NOOP("QuantPicker", "Where"), QT_TRANSLATE_NOOP("QuantPicker", "Memory (est.)"),
               QT_TRANSLATE_NOOP("QuantPicker", "Fit"), "")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quantPicker")
        self._rows: list[ModelRow] = []
        self._family: Family | None = None
        self._template: GGUFInfo | None = None
        self._current: Path | None = None
        self._machine: Machine | None = None
        self.choices: list[Choice] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.title = QLabel(self.tr("Select a model to see its variants."))
        self.title.setObjectName("pickerTitle")
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        top.addWidget(self.title, 1)
        top.addWidget(QLabel(self.tr("Estimates at")))
        self.context = QSpinBox()
        self.context.setObjectName("pickerContext")
        self.context.setRange(256, 131072)
        self.context.setSingleStep(256)
        self.context.setValue(4096)
        self.context.setSuffix(self.tr(" tokens"))
        self.context.setToolTip(self.tr("Context size for the memory estimates; the model's own setting is in "
                                        "Settings › Model"))
        self.context.valueChanged.connect(lambda _v: self._fill())
        top.addWidget(self.context)
        layout.addLayout(top)

        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setObjectName("pickerTable")
        self.table.setHorizontalHeaderLabels([self.tr(h) for h in self.HEADERS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setItemDelegate(FitChipDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)

    # ---- input ---------------------------------------------------------------------------
    def set_group(self, rows: list[ModelRow], family: Family | None, template: GGUFInfo | None,
                  current: Path | None) -> None:
        """The model's local files, its catalog family (if known) and the header to estimate from."""
        self._rows, self._family, self._template, self._current = list(rows), family, template, current
        if family is not None:
            self.title.setText(self.tr("Variants of %1").replace("%1", family.name))
        elif rows:
            self.title.setText(self.tr("Variants of %1 on this computer (not in the catalog)")
                               .replace("%1", rows[0].name))
        else:
            self.title.setText(self.tr("Select a model to see its variants."))
        self._fill()

    def set_machine(self, machine: Machine | None) -> None:
        self._machine = machine
        self._fill()

    def set_current(self, current: Path | None) -> None:
        self._current = current
        self._fill()

    # ---- output --------------------------------------------------------------------------
    def estimate(self, choice: Choice) -> Estimate:
        n_ctx = self.context.value()
        if choice.local is not None and choice.local.info is not None:
            return estimate_info(choice.local.info, n_ctx, self._machine)
        assert choice.remote is not None and self._family is not None
        return estimate_variant(choice.remote, self._family, self._template, n_ctx, self._machine)

    def _fill(self) -> None:
        self.choices = variant_choices(self._rows, self._family)
        self.table.setRowCount(len(self.choices))
        for r, choice in enumerate(self.choices):
            est = self.estimate(choice)
            is_current = choice.local is not None and same_file(choice.local.path, self._current)
            if choice.local is not None:
                where = self.tr("On this computer") + (self.tr(" · in use") if is_current else "")
                tip = str(choice.local.path)
            elif choice.remote is not None and choice.remote.repo:
                where = self.tr("Download from %1").replace("%1", choice.remote.repo)
                tip = choice.remote.file
            else:
                where, tip = self.tr("Bundled with Kestrel"), ""
            cells = [choice.quant, format_bytes(choice.size_bytes, choice.approximate), where,
                     est.memory_text(), fit_text(est.fit) if est.fit != "unknown" else "…"]
            items = [QTableWidgetItem(text) for text in cells]
            for c, item in enumerate(items):
                item.setToolTip(tip if c != 1 or not choice.approximate else
                                self.tr("Approximate: parameters × bits per weight; the hub listing gives the "
                                        "exact size"))
                if is_current:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
            if est.fit != "unknown":
                items[4].setData(FIT_ROLE, est.fit)
            self.table.setCellWidget(r, 5, self._action(choice, is_current))
        self.table.resizeRowsToContents()

    def _action(self, choice: Choice, is_current: bool) -> QWidget:
        button = QPushButton()
        button.setObjectName("pickerAction")
        if choice.local is not None:
            button.setText(self.tr("In use") if is_current else self.tr("Use"))
            button.setEnabled(not is_current)
            path = choice.local.path
            button.clicked.connect(lambda _checked=False, p=path: self.use_requested.emit(p))
        elif choice.remote is not None and choice.remote.repo:
            button.setText(self.tr("Download…"))
            repo, file = choice.remote.repo, choice.remote.file
            button.clicked.connect(lambda _checked=False, r=repo, f=file: self.download_requested.emit(r, f))
        else:
            button.setText("—")
            button.setEnabled(False)
        return button

    def action_button(self, quant: str, local: bool | None = None) -> QPushButton:
        """The button on the first line for ``quant`` (local only, remote only, or either)."""
        for r, choice in enumerate(self.choices):
            if choice.quant == quant and (local is None or (choice.local is not None) == local):
                widget = self.table.cellWidget(r, 5)
                assert isinstance(widget, QPushButton)
                return widget
        raise KeyError(quant)
