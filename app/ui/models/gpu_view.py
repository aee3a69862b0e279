"""GPU offload: what the loaded model runs on, and automatic or manual GPU layers.

Writes only the ``n_gpu_layers`` setting (-1 automatic, else the number); the main window's
settings subscription reloads the engine.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QRadioButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.base.settings import SettingError, Settings
from app.base.units import format_bytes
from app.engines.contract import LoadedModel
from app.ui.engine.controller import EngineController, ModelState
from app.ui.models.common import Machine


class EngineStatus(QWidget):
    """'In use: name · quant · backend', with the reload's progress bar while a model loads."""

    def __init__(self, controller: EngineController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setObjectName("modelsEngineStatus")
        row.addWidget(self.label)
        self.bar = QProgressBar()
        self.bar.setObjectName("modelsLoadProgress")
        self.bar.setRange(0, 100)
        self.bar.setMaximumWidth(160)
        self.bar.setVisible(False)
        row.addWidget(self.bar)
        controller.load_started.connect(self._on_started)
        controller.load_progress.connect(lambda f: self.bar.setValue(int(f * 100)))
        controller.loaded.connect(self._on_loaded)
        controller.load_failed.connect(self._on_failed)
        if controller.model is not None:  # built after the load (the tab is built when first shown)
            self._on_loaded(controller.model)
        elif controller.state is ModelState.LOADING:
            self._on_started()

    def _on_started(self) -> None:
        self.bar.setValue(0)
        self.bar.setVisible(True)
        self.label.setText(self.tr("Loading model…"))

    def _on_loaded(self, loaded: LoadedModel) -> None:
        self.bar.setVisible(False)
        if loaded.quant:
            self.label.setText(self.tr("In use: %1 · %2 · %3").replace("%1", loaded.name)
                               .replace("%2", loaded.quant).replace("%3", loaded.backend))
        else:  # a model on a server: its quantization is the server's business
            self.label.setText(self.tr("In use: %1 · %2").replace("%1", loaded.name).replace("%2", loaded.backend))

    def _on_failed(self, _message: str) -> None:
        self.bar.setVisible(False)
        self.label.setText(self.tr("No model loaded"))


class GpuView(QWidget):
    """Backend, offloaded layers, build support, and the layers control."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gpuView")
        self.settings = settings
        self.model: LoadedModel | None = None
        self.machine: Machine | None = None
        self._fallback_layers = 0  # layer count of the selected model when none is loaded
        self._syncing = False

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.backend_label = QLabel("…")
        self.backend_label.setObjectName("gpuBackend")
        form.addRow(self.tr("Running on"), self.backend_label)
        self.layers_label = QLabel("…")
        self.layers_label.setObjectName("gpuLayers")
        form.addRow(self.tr("Layers on the GPU"), self.layers_label)
        self.support_label = QLabel("…")
        self.support_label.setObjectName("gpuSupport")
        self.support_label.setWordWrap(True)
        form.addRow(self.tr("This build"), self.support_label)
        self.memory_label = QLabel("…")
        self.memory_label.setObjectName("gpuMemory")
        form.addRow(self.tr("Memory"), self.memory_label)
        layout.addLayout(form)

        mode = QHBoxLayout()
        self.auto_radio = QRadioButton(self.tr("Automatic (as many layers as fit in free GPU memory)"))
        self.auto_radio.setObjectName("gpuAuto")
        self.manual_radio = QRadioButton(self.tr("Manual"))
        self.manual_radio.setObjectName("gpuManual")
        self._group = QButtonGroup(self)
        self._group.addButton(self.auto_radio)
        self._group.addButton(self.manual_radio)
        mode.addWidget(self.auto_radio)
        mode.addWidget(self.manual_radio)
        mode.addStretch(1)
        layout.addLayout(mode)
        slider_row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("gpuSlider")
        self.slider.setTracking(False)  # write the setting (and reload) when the handle is let go
        self.slider.setPageStep(1)
        slider_row.addWidget(self.slider, 1)
        self.slider_value = QLabel()
        self.slider_value.setObjectName("gpuSliderValue")
        self.slider_value.setMinimumWidth(self.fontMetrics().horizontalAdvance("00 of 00 (all)") + 8)
        slider_row.addWidget(self.slider_value)
        layout.addLayout(slider_row)
        self.note = QLabel()
        self.note.setObjectName("gpuNote")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.adjustments = QLabel()
        self.adjustments.setObjectName("gpuAdjustments")
        self.adjustments.setWordWrap(True)
        self.adjustments.setStyleSheet("color: #b06000;")
        self.adjustments.setVisible(False)
        layout.addWidget(self.adjustments)
        layout.addStretch(1)

        self.auto_radio.toggled.connect(self._on_mode)
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.sliderMoved.connect(self._show_value)
        self.sync()

    # ---- input ---------------------------------------------------------------------------
    def set_model(self, model: LoadedModel | None) -> None:
        self.model = model
        self.sync()

    def set_machine(self, machine: Machine | None) -> None:
        self.machine = machine
        self.sync()

    def set_fallback_layers(self, n_layers: int) -> None:
        self._fallback_layers = max(0, n_layers)
        if self.model is None:
            self.sync()

    def n_layers(self) -> int:
        """The model's layer count (the loaded one's when the engine says, else the selected file's)."""
        known = self.model.n_layers if self.model is not None else None
        return known if known is not None else self._fallback_layers

    def sync(self) -> None:
        """Show the loaded model, the build and the setting (without writing anything)."""
        self._syncing = True
        try:
            model, machine = self.model, self.machine
            total = self.n_layers() + 1  # the output layer counts as one more
            if model is not None:
                self.backend_label.setText(model.backend)
                if model.gpu_layers is not None and model.n_layers is not None:
                    self.layers_label.setText(self.tr("%1 of %2").replace("%1", str(model.gpu_layers))
                                              .replace("%2", str(model.n_layers + 1)))
                else:
                    self.layers_label.setText("—")  # the engine does not say (not a local llama.cpp model)
            else:
                self.backend_label.setText(self.tr("no model loaded"))
                self.layers_label.setText("—")
            if machine is not None:
                self.support_label.setText(
                    self.tr("can offload layers to a GPU") if machine.gpu_build
                    else self.tr("CPU only: this llama.cpp build cannot offload to a GPU (see the install docs "
                                 "for CUDA and Metal builds)"))
                self.support_label.setToolTip(machine.system_info)
                mem = machine.memory
                text = self.tr("%1 RAM free of %2").replace("%1", format_bytes(mem.ram_available)) \
                    .replace("%2", format_bytes(mem.ram_total))
                if mem.vram_total:
                    text += self.tr("; %1: %2 free of %3").replace("%1", mem.gpu_name or "GPU") \
                        .replace("%2", format_bytes(mem.vram_free or 0)).replace("%3", format_bytes(mem.vram_total))
                self.memory_label.setText(text)
            setting = self.settings.get_int("n_gpu_layers")
            auto = setting < 0
            self.auto_radio.setChecked(auto)
            self.manual_radio.setChecked(not auto)
            self.slider.setRange(0, total)
            offloaded = model.gpu_layers if model is not None else None
            self.slider.setValue(min(total, setting) if not auto else (offloaded or 0))
            self.slider.setEnabled(not auto and total > 0)
            self._show_value(self.slider.value())
            self.note.setText(self._note(auto, machine))
            adjustments = model.adjustments if model is not None else ()
            self.adjustments.setText(self.tr("The last load was changed to make it fit: ") + "; ".join(adjustments)
                                     + "." if adjustments else "")
            self.adjustments.setVisible(bool(adjustments))
        finally:
            self._syncing = False

    def _note(self, auto: bool, machine: Machine | None) -> str:
        if machine is not None and not machine.gpu_build:
            return self.tr("With this build every layer runs on the CPU whatever is chosen here.")
        if auto:
            return self.tr("Kestrel offloads as many layers as fit in free GPU memory and falls back to fewer, "
                           "then to a smaller context, if loading runs out of memory.")
        return self.tr("0 runs everything on the CPU; the highest value puts every layer on the GPU. "
                       "The model reloads when you let go of the slider.")

    def _show_value(self, value: int) -> None:
        total = self.slider.maximum()
        suffix = self.tr(" (all)") if value >= total and total else ""
        self.slider_value.setText(self.tr("%1 of %2").replace("%1", str(value)).replace("%2", str(total)) + suffix)

    # ---- output --------------------------------------------------------------------------
    def _on_mode(self, auto: bool) -> None:
        if self._syncing:
            return
        self._write(-1 if auto else self.slider.value())

    def _on_slider(self, value: int) -> None:
        self._show_value(value)
        if not self._syncing and self.manual_radio.isChecked():
            self._write(value)

    def _write(self, value: int) -> None:
        try:
            self.settings.set("n_gpu_layers", int(value))
        except (SettingError, OSError) as exc:
            self.note.setText(self.tr("Could not save the GPU layers: ") + str(exc))
            return
        self.sync()
