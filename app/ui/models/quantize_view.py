"""'Make smaller copy': quantize an F16/BF16/Q8_0 model as a background task, with progress and Cancel."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.base import paths
from app.base.units import format_bytes
from app.models.library import Library
from app.ui.models.common import ModelRow, safe_emit
from app.ui.widgets.tasks import run_task

if TYPE_CHECKING:
    from app.engines.llama.quantize import QuantizeResult

TARGET_CHOICES = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
SOURCE_TYPES = frozenset({"F32", "F16", "BF16", "Q8_0"})  # as app.engines.llama.quantize.SOURCES
_TARGET_HINTS = {"Q4_K_M": "smallest, fastest; a little quality lost",
                 "Q5_K_M": "a balance of size and quality",
                 "Q6_K": "close to the original",
                 "Q8_0": "nearly identical to the original, half the size of F16"}


class QuantizeBox(QGroupBox):
    """Shown under the picker; enabled for models that can be quantized."""

    quantized = Signal(object)  # Path of the new file, already in the library
    _progress = Signal(float)  # emitted from the quantizing task

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quantizeBox")
        self.setTitle(self.tr("Make a smaller copy"))
        self.library = library
        self.source: ModelRow | None = None
        self._next_source: ModelRow | None = None  # selected while a copy was being made
        self._stop: threading.Event | None = None
        self.output_dir: Path | None = None  # None: Kestrel's models folder

        layout = QVBoxLayout(self)
        self.label = QLabel()
        self.label.setObjectName("quantizeLabel")
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        row = QHBoxLayout()
        self.target = QComboBox()
        self.target.setObjectName("quantizeTarget")
        self.target.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        row.addWidget(self.target)
        self.start_button = QPushButton(self.tr("Make smaller copy…"))
        self.start_button.setObjectName("quantizeButton")
        self.start_button.clicked.connect(self.start)
        row.addWidget(self.start_button)
        self.progress = QProgressBar()
        self.progress.setObjectName("quantizeProgress")
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        row.addWidget(self.progress, 1)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setObjectName("quantizeCancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.cancel_button)
        row.addStretch(0)
        layout.addLayout(row)
        self.status = QLabel()
        self.status.setObjectName("quantizeStatus")
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        layout.addWidget(self.status)

        self._progress.connect(self._on_progress)
        self.set_source(None)

    @property
    def running(self) -> bool:
        return self._stop is not None

    def set_source(self, row: ModelRow | None) -> None:
        if self.running:
            self._next_source = row  # the copy in progress keeps its source; this one is shown after
            return
        self.source = row
        self.target.clear()
        ok = row is not None and row.info is not None and row.quant in SOURCE_TYPES
        if ok and row is not None:
            self.label.setText(self.tr("%1 is %2. Make a smaller copy with llama.cpp's quantizer; the original stays "
                                       "as it is.").replace("%1", row.name).replace("%2", row.quant))
            for target in TARGET_CHOICES:
                if target != row.quant:
                    self.target.addItem(f"{target} — {self.tr(_TARGET_HINTS[target])}", target)
        elif row is not None:
            self.label.setText(self.tr("Smaller copies are made from F16, BF16 or Q8_0 files; %1 is already %2.")
                               .replace("%1", row.name).replace("%2", row.quant))
        else:
            self.label.setText(self.tr("Select a model to make a smaller copy of it."))
        self.target.setEnabled(ok)
        self.start_button.setEnabled(ok)

    def start(self) -> None:
        row, target = self.source, self.target.currentData()
        if row is None or not target or self.running:
            return
        from app.engines.llama.quantize import default_output, quantize  # noqa: PLC0415 - llama.cpp: only when asked

        output = default_output(row.path, str(target), self.output_dir or paths.models_dir())
        if output.exists():
            self._show(self.tr("%1 already exists; use it from the list, or delete it first.")
                       .replace("%1", str(output)), error=True)
            return
        stop = threading.Event()
        self._stop = stop
        self.start_button.setEnabled(False)
        self.target.setEnabled(False)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self._show(self.tr("Making a %1 copy of %2…").replace("%1", str(target)).replace("%2", row.path.name))
        library = self.library

        def body() -> QuantizeResult:
            result = quantize(row.path, str(target), output, stop=stop,
                              progress=lambda f: safe_emit(self._progress, float(f)))
            library.add(result.path, "quantized")
            return result

        task = run_task("quantize", body, self)  # QuantizeError is a RuntimeError: an expected failure
        task.done.connect(self._on_done)
        task.failed.connect(self._on_failed)

    def cancel(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.cancel_button.setEnabled(False)
            self._show(self.tr("Cancelling…"))

    def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()

    # ---- results (GUI thread) --------------------------------------------------------------
    def _on_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 100))

    def _finish(self) -> None:
        self._stop = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.cancel_button.setEnabled(True)
        self.set_source(self._next_source or self.source)
        self._next_source = None

    def _on_done(self, result: QuantizeResult) -> None:
        self._finish()
        self._show(self.tr("Made %1 (%2, %3); it is in the list now.").replace("%1", result.path.name)
                   .replace("%2", result.quant).replace("%3", format_bytes(result.size_bytes)))
        self.quantized.emit(result.path)

    def _on_failed(self, message: str) -> None:
        cancelled = self._stop is not None and self._stop.is_set()
        self._finish()
        if cancelled:
            self._show(self.tr("Cancelled; nothing was kept."))
        else:
            self._show(self.tr("Could not make the copy: ") + message, error=True)

    def _show(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("error", error)
        self.status.setStyleSheet("color: #d93025;" if error else "")
        self.status.setVisible(bool(text))
