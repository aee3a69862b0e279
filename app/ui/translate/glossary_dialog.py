"""The glossary editor: a table of term / translation / keep as is.

Rows are edited in place; the panel saves the result under the data folder, so the
glossary applies to every translation until the user changes it. Import and export
read and write the same JSON or TSV files the CLI's ``--glossary`` takes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.translate.glossary import Glossary, GlossaryEntry, GlossaryError

TERM, TRANSLATION, KEEP = range(3)


class GlossaryDialog(QDialog):
    """Edits a copy of a glossary; ``glossary()`` returns what the table holds."""

    def __init__(self, glossary: Glossary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("glossaryDialog")
        self.setWindowTitle(self.tr("Glossary"))
        self.resize(560, 420)
        layout = QVBoxLayout(self)
        note = QLabel(self.tr("Terms that must always be translated the same way, or kept as they are "
                              "(names, brands). Each translation is checked for them."))
        note.setWordWrap(True)
        layout.addWidget(note)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("glossaryTable")
        self.table.setHorizontalHeaderLabels([self.tr("Term"), self.tr("Translation"), self.tr("Keep as is")])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(TERM, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(TRANSLATION, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(KEEP, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton(self.tr("Add term"))
        self.remove_button = QPushButton(self.tr("Remove"))
        self.import_button = QPushButton(self.tr("Import…"))
        self.export_button = QPushButton(self.tr("Export…"))
        for button in (self.add_button, self.remove_button, self.import_button, self.export_button):
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.add_button.clicked.connect(lambda: self.add_row())  # noqa: PLW0108 - not clicked's bool as the entry
        self.remove_button.clicked.connect(self.remove_selected)
        self.import_button.clicked.connect(self._import)
        self.export_button.clicked.connect(self._export)
        for entry in glossary.entries:
            self.add_row(entry)

    def add_row(self, entry: GlossaryEntry | None = None) -> int:
        """Append a row (empty for a new term) and return its index."""
        entry = entry or GlossaryEntry("")
        row = self.table.rowCount()
        self.table.insertRow(row)
        term = QTableWidgetItem(entry.term)
        self.table.setItem(row, TERM, term)
        self.table.setItem(row, TRANSLATION, QTableWidgetItem("" if entry.keep else entry.translation))
        keep = QTableWidgetItem()
        keep.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        keep.setCheckState(Qt.CheckState.Checked if entry.keep else Qt.CheckState.Unchecked)
        self.table.setItem(row, KEEP, keep)
        if not entry.term:
            self.table.setCurrentCell(row, TERM)
            self.table.editItem(term)
        return row

    def remove_selected(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)

    def glossary(self) -> Glossary:
        """The rows as a glossary (rows without a term are dropped)."""
        entries: list[GlossaryEntry] = []
        for row in range(self.table.rowCount()):
            term = (self.table.item(row, TERM) or QTableWidgetItem()).text().strip()
            translation = (self.table.item(row, TRANSLATION) or QTableWidgetItem()).text().strip()
            keep_item = self.table.item(row, KEEP)
            keep = keep_item is not None and keep_item.checkState() == Qt.CheckState.Checked
            if term:
                entries.append(GlossaryEntry(term, translation, keep or not translation))
        return Glossary(entries)

    def _import(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Import glossary"), str(Path.home()),
                                              self.tr("Glossaries (*.json *.tsv *.txt)"))
        if not name:
            return
        try:
            imported = Glossary.load(Path(name))
        except GlossaryError as exc:
            QMessageBox.warning(self, self.tr("Glossary not imported"), str(exc))
            return
        for entry in imported.entries:
            self.add_row(entry)

    def _export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Export glossary"), str(Path.home() / "glossary.json"),
                                              self.tr("JSON (*.json);;Tab-separated (*.tsv)"))
        if name:
            try:
                self.glossary().save(Path(name))
            except OSError as exc:
                QMessageBox.warning(self, self.tr("Glossary not exported"), str(exc))
