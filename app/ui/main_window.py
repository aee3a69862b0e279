"""The main window: a thin shell that assembles the panels, the menus and the status area."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QWidget,
)

from app import __version__
from app.core import paths
from app.core.gguf_info import GGUFError, read_gguf_info
from app.core.history import History
from app.core.library import Library
from app.core.models import ModelNotFound, resolve_model_path
from app.core.settings import Settings
from app.core.starter import StarterModelMissing
from app.llm.types import LoadedModel, LoadParams
from app.ui.chat.panel import ChatPanel
from app.ui.models import ModelsPanel
from app.ui.settings.dialog import SettingsDialog
from app.ui.speed.readout import SpeedReadout
from app.ui.summarize import SummarizePanel
from app.ui.translate import TranslatePanel
from app.ui.worker import EngineController

RELOAD_KEYS = frozenset({"model_path", "n_ctx", "n_threads", "n_gpu_layers", "flash_attn"})


class MainWindow(QMainWindow):
    """Kestrel's window. Panels do the work; this wires them to the engine and menus."""

    _model_resolved = Signal(object)  # Path, from the thread that prepares the starter model
    _model_unavailable = Signal(str)

    def __init__(self, controller: EngineController, history: History, settings: Settings,
                 model_override: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.history = history
        self.settings = settings
        self.library = Library()
        self._model_override = model_override
        self.setWindowTitle("Kestrel")
        self.setObjectName("mainWindow")

        self.chat = ChatPanel(controller, history, settings)
        self.models = ModelsPanel(controller, settings, self.library)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)
        self.tabs.addTab(self.chat, self.tr("Chat"))
        self.translate_panel = TranslatePanel(controller, settings)
        self.tabs.addTab(self.translate_panel, self.tr("Translate"))
        self.summarize_panel = SummarizePanel(controller, settings)
        self.tabs.addTab(self.summarize_panel, self.tr("Summarize"))
        self.tabs.addTab(self.models, self.tr("Models"))
        self.setCentralWidget(self.tabs)

        self._build_menus()
        self._build_status()
        self._wire()
        self._restore_geometry()
        self._unsubscribe = settings.subscribe(self._on_setting_changed)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(0)
        self._reload_timer.timeout.connect(self.load_model)

    # ---- construction ----------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        self.new_chat_action = self._action(self.tr("&New chat"), QKeySequence.StandardKey.New,
                                            self.chat.new_conversation)
        self.open_model_action = self._action(self.tr("&Open model file…"), QKeySequence.StandardKey.Open,
                                              self.open_model_file)
        self.settings_action = self._action(self.tr("&Settings…"), QKeySequence.StandardKey.Preferences,
                                            self.open_settings)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.quit_action = self._action(self.tr("&Quit"), QKeySequence.StandardKey.Quit, self.close)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        if self.quit_action.shortcut().isEmpty():
            self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        for action in (self.new_chat_action, self.open_model_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        self.about_action = self._action(self.tr("&About Kestrel"), None, self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

    def _action(self, text: str, shortcut: QKeySequence.StandardKey | None, slot) -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.model_label = QLabel(self.tr("No model"))
        self.model_label.setObjectName("modelLabel")
        self.load_bar = QProgressBar()
        self.load_bar.setObjectName("loadProgress")
        self.load_bar.setRange(0, 100)
        self.load_bar.setMaximumWidth(160)
        self.load_bar.setVisible(False)
        self.readout = SpeedReadout()
        bar.addPermanentWidget(self.load_bar)
        bar.addPermanentWidget(self.readout)
        bar.addPermanentWidget(self.model_label)

    def _wire(self) -> None:
        c = self.controller
        c.load_started.connect(self._on_load_started)
        c.load_progress.connect(lambda f: self.load_bar.setValue(int(f * 100)))
        c.loaded.connect(self._on_loaded)
        c.load_failed.connect(self._on_load_failed)
        c.started.connect(lambda _rid: self.readout.on_started())
        c.progress.connect(lambda _rid, live: self.readout.on_progress(live))
        c.stats.connect(lambda _rid, stats: self.readout.on_stats(stats))
        c.loaded.connect(self.readout.on_model_loaded)
        c.finished.connect(self._on_request_finished)
        self.chat.status_message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.models.status_message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.models.reload_requested.connect(self.load_model)
        self.translate_panel.status_message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.summarize_panel.status_message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self._model_resolved.connect(self._load_path)
        self._model_unavailable.connect(self._on_load_failed)

    # ---- model loading ---------------------------------------------------------------
    def load_model(self) -> None:
        """Find the model to use (preparing the starter model off the GUI thread) and load it."""
        override = self._model_override
        self.statusBar().showMessage(self.tr("Preparing the model…"))
        self.load_bar.setVisible(True)
        self.load_bar.setValue(0)

        def resolve() -> None:
            try:
                path = resolve_model_path(override, self.settings, self.library)
            except (ModelNotFound, StarterModelMissing) as exc:
                self._model_unavailable.emit(str(exc))
            except OSError as exc:
                self._model_unavailable.emit(f"The starter model could not be prepared: {exc}")
            else:
                self._model_resolved.emit(path)

        threading.Thread(target=resolve, name="kestrel-resolve-model", daemon=True).start()

    def _load_path(self, path: Path) -> None:
        s = self.settings
        self.controller.load(LoadParams(
            model_path=path, n_ctx=s.get_int("n_ctx"), n_threads=s.get_int("n_threads") or None,
            n_gpu_layers=s.get_int("n_gpu_layers"),
            flash_attn={"auto": None, "on": True, "off": False}[s.get_str("flash_attn")],
        ))

    def _on_request_finished(self, _request_id: int) -> None:
        """A request that produced no reply (a token count, an error) must not leave 'Reading prompt…'."""
        if self.readout.text().startswith("Reading prompt"):
            self.readout.on_cleared()

    def _on_load_started(self) -> None:
        self.load_bar.setVisible(True)
        self.model_label.setText(self.tr("Loading model…"))
        self.statusBar().showMessage(self.tr("Loading model…"))

    def _on_loaded(self, loaded: LoadedModel) -> None:
        self.load_bar.setVisible(False)
        self.setWindowTitle(f"Kestrel — {loaded.name}")
        self.model_label.setText(f"{loaded.name} · {loaded.quant}")
        self.model_label.setToolTip(
            f"{loaded.path}\n{loaded.n_ctx:,} tokens of context (trained for {loaded.n_ctx_train:,})\n"
            f"Prompt format: {'the model’s own chat template' if loaded.chat_format == 'gguf-template' else 'Kestrel plain format (the model has no chat template)'}\n"
            f"Loaded in {loaded.load_s:.2f} s"
        )
        self.statusBar().showMessage(self.tr("Model ready."), 3000)
        if loaded.adjustments:
            self.chat._show_banner(self.tr("The model was loaded with changes: ") + "; ".join(loaded.adjustments)
                                   + ".", error=False)

    def _on_load_failed(self, message: str) -> None:
        self.load_bar.setVisible(False)
        self.model_label.setText(self.tr("No model"))
        self.statusBar().showMessage(self.tr("The model could not be loaded."))
        self.chat._show_banner(message + "\n" + self.tr("Choose another file with File › Open model file…"),
                               error=True)

    def open_model_file(self) -> None:
        start = str(Path(self.settings.get_str("model_path") or paths.models_dir()).expanduser())
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Open model file"), start,
                                              self.tr("GGUF models (*.gguf);;All files (*)"))
        if name:
            self.use_model_file(Path(name))

    def use_model_file(self, path: Path) -> bool:
        """Check a chosen file's header, register it in place and make it the model to use."""
        try:
            read_gguf_info(path)
        except GGUFError as exc:
            QMessageBox.warning(self, self.tr("Not a usable model"), str(exc))
            return False
        self.library.add(path, "imported")
        self._model_override = None
        if self.settings.get_str("model_path") == str(path):
            self.load_model()
        else:
            self.settings.set("model_path", str(path))  # the subscription reloads
        return True

    def _on_setting_changed(self, key: str, _value: object) -> None:
        if key in RELOAD_KEYS:
            if key == "model_path":
                self._model_override = None
            self._reload_timer.start()

    # ---- dialogs ---------------------------------------------------------------------
    def open_settings(self) -> None:
        SettingsDialog(self.settings, self).exec()

    def show_about(self) -> None:
        loaded = self.controller.model
        backend = f"{loaded.backend}, {loaded.gpu_layers} GPU layers" if loaded else self.tr("no model loaded")
        QMessageBox.about(self, self.tr("About Kestrel"), self.tr(
            "<h3>Kestrel %1</h3><p>Runs language models entirely on this computer with llama.cpp. "
            "Nothing leaves your machine.</p><p>Engine: %2</p>").replace("%1", __version__).replace("%2", backend))

    # ---- geometry and closing --------------------------------------------------------
    def _qsettings(self) -> QSettings:
        return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)

    def _restore_geometry(self) -> None:
        geometry = self._qsettings().value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):  # type: ignore[arg-type]
            self.resize(1100, 720)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.chat.shutdown()
        self.models.shutdown()
        self.translate_panel.shutdown()
        self.summarize_panel.shutdown()
        self._unsubscribe()
        store = self._qsettings()
        store.setValue("geometry", self.saveGeometry())
        store.sync()
        self.controller.shutdown()
        event.accept()

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def] # noqa: N802
        super().showEvent(event)
        QTimer.singleShot(0, lambda: self.chat.input.setFocus(Qt.FocusReason.ActiveWindowFocusReason))
