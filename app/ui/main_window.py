"""The main window: a thin shell that assembles the panels, the menus and the status area."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QWidget,
)

from app import __version__
from app.base import paths
from app.base.messages import one_line
from app.base.settings import Settings
from app.chat.history import History
from app.engines.contract import Endpoint, LoadedModel, LocalModel, ModelSpec
from app.gguf.reader import GGUFError, read_gguf_info
from app.models import crashes
from app.models.library import Library
from app.models.params import load_spec
from app.models.selection import ModelNotFound
from app.models.starter import StarterModelMissing, starter_model_path
from app.ui.chat.panel import ChatPanel
from app.ui.engine.controller import EngineController, ModelState
from app.ui.engine.handle import RequestHandle
from app.ui.models import ModelsPanel
from app.ui.models.common import same_file
from app.ui.server.panel import ServerPanel
from app.ui.server.service import ApiService
from app.ui.settings.dialog import SettingsDialog
from app.ui.speed.readout import SpeedReadout
from app.ui.summarize import SummarizePanel
from app.ui.theme import apply_theme
from app.ui.translate import TranslatePanel
from app.ui.widgets.tasks import Task, run_task

log = logging.getLogger(__name__)

RELOAD_KEYS = frozenset({"model_path", "remote_model", "n_ctx", "n_threads", "n_gpu_layers", "flash_attn"})
#: How long closing waits for the engine thread before hiding the window and waiting on.
SHUTDOWN_WAIT_MS = 1500
STOPPED_POLL_MS = 50


class MainWindow(QMainWindow):
    """Kestrel's window. Panels do the work; this wires them to the engine and menus."""

    def __init__(self, controller: EngineController, history: History, settings: Settings,
                 model_override: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.history = history
        self.settings = settings
        self.library = Library()
        self._model_override = model_override
        self._resolving: Task | None = None  # the latest search for the model to load
        self._readout_request: RequestHandle | None = None  # the request the readout shows
        self._closing = False
        self.restart_requested = False  # the application starts again once this window has closed
        self.shutdown_wait_ms = SHUTDOWN_WAIT_MS
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
        self.api = ApiService(controller, settings, self)
        self.server_panel = ServerPanel(self.api, settings)
        self.tabs.addTab(self.server_panel, self.tr("API"))
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
        self._stopped_timer = QTimer(self)
        self._stopped_timer.setInterval(STOPPED_POLL_MS)
        self._stopped_timer.timeout.connect(self._close_when_stopped)
        self._show_state(controller.state)
        self._show_settings_problems()
        self.api.apply()  # serves only when the user turned the API on
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.styleHints().colorSchemeChanged.connect(self._on_system_scheme)

    def _on_system_scheme(self, _scheme: object) -> None:
        if self.settings.get_str("theme") == "system":
            self._apply_theme()

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

    def _action(self, text: str, shortcut: QKeySequence.StandardKey | None, slot: Callable[[], object]) -> QAction:
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
        c.state_changed.connect(self._show_state)
        c.load_progress.connect(lambda f: self.load_bar.setValue(int(f * 100)))
        c.loaded.connect(self._on_loaded)
        c.load_failed.connect(self._on_load_failed)
        c.request_started.connect(self._on_request_started)
        c.progress.connect(self.readout.on_progress)
        c.stats.connect(self.readout.on_stats)
        c.finished.connect(self._on_request_finished)
        for panel in (self.chat, self.models, self.translate_panel, self.summarize_panel):
            panel.status_message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.models.reload_requested.connect(self.load_model)
        self.server_panel.settings_requested.connect(self.open_setting)
        for panel in (self.chat, self.translate_panel, self.summarize_panel):
            panel.base_note.get_model_requested.connect(self.show_models)

    def _show_settings_problems(self) -> None:
        """A corrupt or partly invalid settings file was replaced by defaults: say so once."""
        if self.settings.problems:
            self.chat.notice.show_message("\n".join(self.settings.problems), "warning")

    # ---- model loading ---------------------------------------------------------------
    def load_model(self, at_start: bool = False) -> None:
        """Find the model to use (preparing the starter model off the GUI thread) and load it.

        At start, a model that stopped the engine last time is not loaded by itself.
        """
        override, settings, library = self._model_override, self.settings, self.library

        def resolve() -> ModelSpec:
            try:
                return load_spec(settings, override, library)
            except OSError as exc:
                raise StarterModelMissing(f"The starter model could not be prepared: {exc}") from exc

        self.statusBar().showMessage(self.tr("Preparing the model…"))
        task = run_task("resolve-model", resolve, self, expected=(ModelNotFound, StarterModelMissing))
        self._resolving = task
        task.done.connect(lambda spec: self._on_resolved(task, spec, at_start=at_start))
        task.failed.connect(lambda message: self._on_resolved(task, None, message))
        self._show_state(self.controller.state)

    def _on_resolved(self, task: Task, spec: object, message: str = "", at_start: bool = False) -> None:
        """Load what the latest search found; an older search's answer is dropped."""
        if task is not self._resolving:
            return
        self._resolving = None
        crashed = crashes.crash_reason(spec.path) if at_start and isinstance(spec, LocalModel) else None
        if crashed is not None and isinstance(spec, LocalModel):
            self.statusBar().showMessage(self.tr("The model was not loaded."))
            self.chat.notice.show_message(
                self.tr("Kestrel did not load {name} at start, because last time it stopped the engine:").format(
                    name=spec.path.name) + "\n" + crashed + "\n"
                + self.tr("Choose it again with File › Open model file… to retry, or choose another model."),
                "warning")
        elif isinstance(spec, (LocalModel, Endpoint)):
            self.controller.load(spec)
        else:
            self._on_load_failed(message)
        self._show_state(self.controller.state)

    def _show_state(self, state: ModelState) -> None:
        """Status bar, title and readout follow the controller's model state, nothing else."""
        self.load_bar.setVisible(state is ModelState.LOADING or self._resolving is not None)
        model = self.controller.model
        if state is ModelState.LOADING:
            self.model_label.setText(self.tr("Loading model…"))
            self.model_label.setToolTip("")
            self.statusBar().clearMessage()  # the model label and its progress bar say it, once
            self.readout.on_model_unloaded()
        elif state is ModelState.READY and model is not None:
            self.setWindowTitle(f"Kestrel — {model.name}")
            self.model_label.setText(f"{model.name} · {model.quant}" if model.quant else model.name)
            self.model_label.setToolTip(self._model_tooltip(model))
            self.readout.on_model_loaded(model)
        else:
            self.model_label.setText(self.tr("No model"))
            self.model_label.setToolTip("")
            self.readout.on_model_unloaded()
        if state is not ModelState.LOADING and self._resolving is None:
            self.load_bar.setValue(0)

    @staticmethod
    def _model_tooltip(model: LoadedModel) -> str:
        trained = f" (trained for {model.n_ctx_train:,})" if model.n_ctx_train else ""
        prompt_format = ("the model’s own chat template" if model.chat_format == "gguf-template"
                         else "Kestrel plain format (the model has no chat template)")
        return (f"{model.path or model.spec.label}\n{model.n_ctx:,} tokens of context{trained}\n"
                f"Prompt format: {prompt_format}\nLoaded in {model.load_s:.2f} s")

    def _on_request_started(self, handle: RequestHandle) -> None:
        self._readout_request = handle
        self.readout.on_started()

    def _on_request_finished(self, handle: RequestHandle) -> None:
        """A request that ended before any figure (an error, a stop in time) must not leave the readout waiting."""
        if handle is self._readout_request:
            self._readout_request = None
            self.readout.on_finished()

    def _on_loaded(self, loaded: LoadedModel) -> None:
        self.statusBar().showMessage(self.tr("Model ready."), 3000)
        self._list_in_library(loaded)
        if loaded.adjustments:
            self.chat.notice.show_message(
                self.tr("The model was loaded with changes: ") + "; ".join(loaded.adjustments) + ".", "info")

    def _list_in_library(self, loaded: LoadedModel) -> None:
        """The model in use is always in the Models list (the starter model was missing at first start)."""
        path = loaded.path
        if path is None or any(same_file(entry.path, path) for entry in self.library.entries()):
            return
        try:
            self.library.add(path, "starter" if same_file(path, starter_model_path()) else "imported")
        except OSError as exc:
            log.warning("could not add %s to the model list: %s", path, exc)
            return
        if self.models.built:
            self.models.refresh(select=path)

    def _on_load_failed(self, message: str) -> None:
        if self._closing:
            return
        self.statusBar().showMessage(self.tr("The model could not be loaded."))
        self.chat.notice.show_message(
            message + "\n" + self.tr("Choose another file with File › Open model file…"), "error")

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
            QMessageBox.warning(self, self.tr("Not a usable model"), one_line(str(exc)))
            return False
        self.library.add(path, "imported")
        self._model_override = None
        if self.settings.get_str("model_path") == str(path):
            self.load_model()
        else:
            self.settings.set("model_path", str(path))  # the subscription reloads
        return True

    def _on_setting_changed(self, key: str, _value: object) -> None:
        if key == "theme":
            self._apply_theme()
        if key in RELOAD_KEYS:
            if key in ("model_path", "remote_model"):
                self._model_override = None
            self._reload_timer.start()

    def _apply_theme(self) -> None:
        """Light or dark as the setting says, at once (also when the desktop switches, for 'system')."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self.settings.get_str("theme"))

    # ---- dialogs ---------------------------------------------------------------------
    def open_settings(self) -> None:
        self._run_settings(SettingsDialog(self.settings, self))

    def open_setting(self, key: str) -> None:
        """The Settings dialog at ``key``'s tab (the API tab's "Port and access…")."""
        dialog = SettingsDialog(self.settings, self)
        dialog.show_setting(key)
        self._run_settings(dialog)

    def _run_settings(self, dialog: SettingsDialog) -> None:
        dialog.restart_requested.connect(self.restart)
        dialog.exec()
        if dialog.language_changed and not self.restart_requested:
            self.statusBar().showMessage(self.tr("The new interface language is used from the next start."), 10000)

    def show_models(self) -> None:
        """The Models tab, where a chat model is chosen or downloaded."""
        self.tabs.setCurrentWidget(self.models)
        self.models.show_recommended()

    def restart(self) -> None:
        """Close (saving everything, as any close does) and start again: the new language takes effect."""
        self.restart_requested = True
        self.close()

    def show_about(self) -> None:
        loaded = self.controller.model
        if loaded is None:
            backend = self.tr("no model loaded")
        elif loaded.gpu_layers is None:
            backend = loaded.backend
        else:
            backend = f"{loaded.backend}, {loaded.gpu_layers} GPU layers"
        QMessageBox.about(self, self.tr("About Kestrel"), self.tr(
            "<h3>Kestrel %1</h3><p>Runs language models on this computer with llama.cpp, or on servers "
            "you add. It connects to nothing else, except to download a model you ask for.</p>"
            "<p>Engine: %2</p>").replace("%1", __version__).replace("%2", backend))

    # ---- geometry and closing --------------------------------------------------------
    def _qsettings(self) -> QSettings:
        return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)

    def _restore_geometry(self) -> None:
        geometry = self._qsettings().value("geometry")
        if not isinstance(geometry, QByteArray) or not self.restoreGeometry(geometry):
            self.resize(1100, 720)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Stop everything, save, and end the engine thread before the window goes.

        When the engine thread does not end in time (a load or a job that is slow to see
        its cancel flag) the close is refused and retried until the thread has ended, so
        the controller and its QThread are never destroyed while the thread runs.
        """
        if not self._closing:
            self._closing = True
            self._reload_timer.stop()
            self.chat.shutdown()
            self.models.shutdown()
            self.translate_panel.shutdown()
            self.summarize_panel.shutdown()
            self.api.shutdown()
            self._unsubscribe()
            store = self._qsettings()
            store.setValue("geometry", self.saveGeometry())
            store.sync()
            stopped = self.controller.shutdown(self.shutdown_wait_ms)
        else:
            stopped = self.controller.wait_stopped(0)
        if stopped:
            self._stopped_timer.stop()
            event.accept()
            return
        event.ignore()
        self.setEnabled(False)
        self.statusBar().showMessage(self.tr("Closing…"))
        self._stopped_timer.start()

    def _close_when_stopped(self) -> None:
        if self.controller.wait_stopped(0):
            self._stopped_timer.stop()
            self.close()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        QTimer.singleShot(0, lambda: self.chat.input.setFocus(Qt.FocusReason.ActiveWindowFocusReason))
