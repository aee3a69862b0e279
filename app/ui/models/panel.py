"""The Models tab: the library, the catalog to download from (with the pick recommended for
this machine), and for the selected model its variants, downloads, smaller copies, an A/B
comparison and GPU offload.

Built lazily: until the tab is first shown it is an empty page, so start-up neither
builds the views, reads the library nor probes the machine.

Threads: header reads of the library, the machine probe (nvidia-smi, loading llama.cpp),
imports, rescans, downloads and quantizing run as background tasks (``run_task``) and
report back through this panel's (or its sections') signals; comparing runs as a job on
the one engine thread. The GUI thread only does arithmetic on headers already read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.base import paths
from app.base.settings import SettingError, Settings
from app.engines.contract import Endpoint, LoadedModel
from app.models import connections
from app.models.library import Library
from app.models.selection import default_model_path
from app.ui.engine.controller import EngineController
from app.ui.models.catalog_view import CatalogView
from app.ui.models.common import (
    Estimate,
    Machine,
    ModelRow,
    estimate_info,
    probe_machine,
    safe_emit,
    same_file,
)
from app.ui.models.compare_view import CompareView
from app.ui.models.connections import ConnectionsView
from app.ui.models.download_view import DownloadSection
from app.ui.models.gpu_view import EngineStatus, GpuView
from app.ui.models.library_view import LibraryJobs, LibraryTable
from app.ui.models.picker import QuantPicker
from app.ui.models.quantize_view import QuantizeBox
from app.ui.widgets.buttons import add_button
from app.ui.widgets.notice import Notice
from app.ui.widgets.tasks import run_task

log = logging.getLogger(__name__)


class ModelsPanel(QWidget):
    """The "Models" tab; the main window only places it (and may connect ``reload_requested``)."""

    reload_requested = Signal()  # "Use this model" on the model already chosen (e.g. after a failed load)
    status_message = Signal(str)
    _setting_changed = Signal(str)

    def __init__(self, controller: EngineController, settings: Settings, library: Library | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsPanel")
        self.controller = controller
        self.settings = settings
        self.library = library or Library()
        self.machine: Machine | None = None
        self.rows: list[ModelRow] = []
        self.scans = 0  # finished library scans (tests wait on it)
        self._generation = 0
        self._pending_select: Path | None = None
        self._estimates: dict[tuple[Path, int], Estimate] = {}  # for this machine and these rows
        self._unsubscribe: Callable[[], None] | None = None  # set once built
        self.jobs = LibraryJobs(self.library, self)
        # from now on, choosing a model file anywhere (File › Open too) clears a server model's choice
        self._unfollow = connections.clear_remote_on_local_choice(settings)

    @property
    def built(self) -> bool:
        """Whether the tab has been shown (and so built) yet."""
        return self._unsubscribe is not None

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """Build the views, scan the library and probe the machine the first time the tab is shown."""
        if not self.built:
            self._build()
            self._connect()
            self.picker.context.setValue(self.settings.get_int("n_ctx"))
            self.catalog.set_context(self.settings.get_int("n_ctx"))
            self.compare.n_gpu_layers = self.settings.get_int("n_gpu_layers")
            self._unsubscribe = self.settings.subscribe(lambda key, _value: safe_emit(self._setting_changed, key))
            self.gpu.set_model(self.controller.model)
            probe = run_task("probe-machine", probe_machine, self)
            probe.done.connect(self._on_probed)
            self.refresh()
        super().showEvent(event)

    # ---- construction ----------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        header = QHBoxLayout()
        title = QLabel(self.tr("Models on this computer"))
        title.setObjectName("modelsTitle")
        font = QFont(title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        title.setFont(font)
        header.addWidget(title)
        header.addStretch(1)
        self.engine_status = EngineStatus(self.controller)
        self.engine_label, self.load_bar = self.engine_status.label, self.engine_status.bar
        header.addWidget(self.engine_status)
        layout.addLayout(header)
        self.notice = Notice()
        layout.addWidget(self.notice)

        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        self.table = LibraryTable()
        column.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.use_button = add_button(self.tr("Use this model"), "useModelButton", self.use_selected, buttons)
        self.use_button.setDefault(True)
        self.folder_button = add_button(self.tr("Show in folder"), "showFolderButton", self.show_in_folder, buttons)
        self.remove_button = add_button(self.tr("Remove from list"), "removeModelButton", self.remove_selected,
                                          buttons)
        self.delete_button = add_button(self.tr("Delete"), "deleteModelButton", self.delete_selected, buttons)
        buttons.addStretch(1)
        self.add_button = add_button(self.tr("Add model file…"), "addModelButton", self.add_files, buttons)
        self.rescan_button = add_button(self.tr("Rescan other apps"), "rescanButton", self.rescan, buttons)
        self.rescan_button.setToolTip(self.tr("Look for GGUF files in the Hugging Face cache and LM Studio's "
                                              "models folder (linked in place, never copied)"))
        column.addLayout(buttons)
        split.addWidget(top)

        self.details = QTabWidget()
        self.details.setObjectName("modelDetails")
        self.download = DownloadSection(self.library)
        self.catalog = CatalogView(self.library, self.download.endpoint)
        self.details.addTab(self.catalog, self.tr("Catalog"))
        page = QWidget()
        picker_column = QVBoxLayout(page)
        self.picker = QuantPicker()
        picker_column.addWidget(self.picker, 1)
        self.quantize = QuantizeBox(self.library)
        picker_column.addWidget(self.quantize)
        self.details.addTab(page, self.tr("Quantization"))
        self.details.addTab(self.download, self.tr("Download"))
        self.compare = CompareView(self.controller)
        self.details.addTab(self.compare, self.tr("Compare"))
        self.gpu = GpuView(self.settings)
        self.details.addTab(self.gpu, self.tr("GPU"))
        self.servers = ConnectionsView()
        self.details.addTab(self.servers, self.tr("Servers"))
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([200, 500])  # the catalog below needs the room more than a short list above
        layout.addWidget(split, 1)

    def _connect(self) -> None:
        c = self.controller
        c.loaded.connect(self._on_loaded)
        c.load_failed.connect(self._on_load_failed)
        self.table.files_dropped.connect(self.import_files)
        self.table.itemSelectionChanged.connect(self._update_details)
        self.table.doubleClicked.connect(lambda _index: self.use_selected())
        self.picker.use_requested.connect(self.use_model)
        self.picker.download_requested.connect(self._prefill_download)
        self.compare.use_requested.connect(self.use_model)
        self.servers.use_requested.connect(self.use_remote)
        self.servers.removed.connect(self._on_connection_removed)
        self.servers.set_current_model(connections.chosen(self.settings))
        self.download.downloaded.connect(lambda path: self.refresh(select=path))
        self.catalog.downloaded.connect(lambda path: self.refresh(select=path))
        self.catalog.use_requested.connect(self.use_model)
        self.quantize.quantized.connect(lambda path: self.refresh(select=path))
        self.jobs.scanned.connect(self._on_scanned)
        self.jobs.imported.connect(self._on_imported)
        self.jobs.rescanned.connect(self._on_rescanned)
        self._setting_changed.connect(self._on_setting_changed)

    # ---- state -----------------------------------------------------------------------
    def current_path(self) -> Path | None:
        """The model file chosen in settings (the starter model when none is; None when a server model is)."""
        if connections.chosen(self.settings) is not None:
            return None
        return default_model_path(self.settings)

    def selected_row(self) -> ModelRow | None:
        return self.table.selected_row()

    def row_for(self, path: Path) -> ModelRow | None:
        return next((r for r in self.rows if same_file(r.path, path)), None)

    def _on_probed(self, machine: object) -> None:
        if isinstance(machine, Machine):
            self.set_machine(machine)

    def set_machine(self, machine: Machine | None) -> None:
        """What this computer has (from the background probe; tests may set their own)."""
        self.machine = machine
        self._estimates.clear()
        self.picker.set_machine(machine)
        self.gpu.set_machine(machine)
        self.catalog.set_machine(machine)
        self._show_rows()

    # ---- library ---------------------------------------------------------------------
    def refresh(self, select: Path | None = None) -> None:
        """Read every entry's header on a worker thread, then show the list."""
        self._generation += 1
        if select is not None:
            self._pending_select = Path(select)
        self.jobs.scan(self._generation)

    def _on_scanned(self, generation: int, rows: list[ModelRow] | str) -> None:
        if generation != self._generation:
            return  # a newer scan is on its way
        if isinstance(rows, str):
            log.error("library scan failed: %s", rows)
            self.show_message(self.tr("Could not read the model list: ") + rows, error=True)
            rows = []
        self.rows = list(rows)
        self._estimates.clear()
        self._show_rows()
        target = self._pending_select
        self._pending_select = None
        if (target is None or not self.table.select_path(target)) and self.table.selected_row() is None:
            current = self.current_path()
            if (current is None or not self.table.select_path(current)) and self.rows:
                self.table.selectRow(0)
        self.scans += 1
        self._update_details()

    def estimates(self) -> dict[Path, Estimate]:
        """Memory and fit of every readable row at the configured context (cached: fit() is a search)."""
        n_ctx = self.settings.get_int("n_ctx")
        out = {}
        for row in self.rows:
            if row.info is not None:
                key = (row.path, n_ctx)
                if key not in self._estimates:
                    self._estimates[key] = estimate_info(row.info, n_ctx, self.machine)
                out[row.path] = self._estimates[key]
        return out

    def _show_rows(self) -> None:
        self.table.set_rows(self.rows, self.estimates(), self.current_path(), self.settings.get_int("n_ctx"))
        self.picker.set_current(self.current_path())
        self.catalog.set_rows(self.rows, self.current_path())

    def _update_details(self) -> None:
        row = self.table.selected_row()
        if row is None:
            current = self.current_path()
            row = self.row_for(current) if current else None
        usable = row is not None and row.info is not None
        self.use_button.setEnabled(usable and not same_file(row.path if row else None, self.current_path()))
        self.folder_button.setEnabled(row is not None)
        self.remove_button.setEnabled(row is not None and not row.owned)
        self.delete_button.setEnabled(row is not None and row.owned)
        if row is None:
            self.picker.set_group([], None, None, self.current_path())
            self.quantize.set_source(None)
            self.compare.set_group([])
            return
        group = [r for r in self.rows if r.group == row.group]
        template = row.info or next((r.info for r in group if r.info is not None), None)
        self.picker.set_group(group, row.family, template, self.current_path())
        self.quantize.set_source(row)
        self.compare.set_group(group)
        if row.info is not None and row.info.n_layer:
            self.gpu.set_fallback_layers(row.info.n_layer)

    # ---- actions ---------------------------------------------------------------------
    def use_selected(self) -> None:
        row = self.table.selected_row()
        if row is not None:
            self.use_model(row.path)

    def use_model(self, path: Path) -> None:
        """Make ``path`` the model to use; the main window's settings subscription reloads the engine."""
        row = self.row_for(path)
        if row is not None and row.info is None:
            self.show_message(self.tr("%1 cannot be used: %2").replace("%1", row.path.name)
                              .replace("%2", row.problem or ""), error=True)
            return
        if not Path(path).is_file():
            self.show_message(self.tr("%1 is no longer there. Remove it from the list, or add it again.")
                              .replace("%1", str(path)), error=True)
            return
        if self.settings.get_str("model_path") == str(path):
            loaded = self.controller.model
            if loaded is not None and same_file(loaded.path, path):
                self.show_message(self.tr("%1 is already in use.").replace("%1", Path(path).name))
            else:
                self.reload_requested.emit()
            return
        try:
            self.settings.set("model_path", str(path))
        except (SettingError, OSError) as exc:
            self.show_message(self.tr("Could not save the choice: ") + str(exc), error=True)
            return
        self.show_message(self.tr("Switching to %1…").replace("%1", Path(path).name))

    def use_remote(self, name: str, model_id: str) -> None:
        """Make ``model_id`` on server ``name`` the model, and load it through the window like a local one."""
        if connections.chosen(self.settings) == (name, model_id):
            loaded = self.controller.model
            if loaded is not None and loaded.spec == self._remote_spec(name, model_id):
                self.show_message(self.tr("%1 is already in use.").replace("%1", model_id))
                return
        before = self.settings.get_str("remote_model")
        try:
            connections.choose_remote(self.settings, name, model_id)
        except (SettingError, OSError) as exc:
            self.show_message(self.tr("Could not save the choice: ") + str(exc), error=True)
            return
        self.show_message(self.tr("Switching to %1…").replace("%1", f"{model_id} ({name})"))
        if self.settings.get_str("remote_model") == before:  # no setting changed: the window would not reload
            self.reload_requested.emit()

    def _remote_spec(self, name: str, model_id: str) -> Endpoint | None:
        try:
            connection = connections.ConnectionStore().get(name)
        except connections.ConnectionProblem:
            return None
        return connection.endpoint(model_id) if connection is not None else None

    def _on_connection_removed(self, name: str) -> None:
        chosen = connections.chosen(self.settings)
        if chosen is not None and chosen[0] == name:
            self.settings.set(connections.REMOTE_SETTING, "")  # the next start uses a model file again

    def add_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, self.tr("Add model files"), str(paths.models_dir()),
                                                self.tr("GGUF models (*.gguf);;All files (*)"))
        if names:
            self.import_files([Path(n) for n in names])

    def import_files(self, files: list[Path]) -> None:
        """Check each file's header and link it in place (on a worker thread)."""
        self.show_message(self.tr("Adding %n file(s)…", "", len(files)))
        self.jobs.import_files(files)

    def _on_imported(self, added: list[Path], problems: list[str]) -> None:
        text = self.tr("Added %n model(s); they stay where they are.", "", len(added)) if added else ""
        if problems:
            text = (text + " " if text else "") + self.tr("Not added: ") + "; ".join(problems)
        self.show_message(text, error=bool(problems))
        self.refresh(select=added[0] if added else None)

    def remove_selected(self) -> None:
        row = self.table.selected_row()
        if row is None or row.owned:
            return
        try:
            self.library.remove(row.path)
        except OSError as exc:
            self.show_message(self.tr("Could not update the list: ") + str(exc), error=True)
            return
        self.show_message(self.tr("%1 was removed from the list; the file was not touched.").replace(
            "%1", row.path.name))
        self.refresh()

    def delete_selected(self) -> None:
        row = self.table.selected_row()
        if row is None or not row.owned:
            return
        if same_file(row.path, self.current_path()):
            self.show_message(self.tr("%1 is the model in use; switch to another one before deleting it.")
                              .replace("%1", row.path.name), error=True)
            return
        size = row.info.size_bytes if row.info else 0
        answer = QMessageBox.question(
            self, self.tr("Delete model"),
            self.tr("Delete %1 (%2 MiB) from this computer? This cannot be undone.")
            .replace("%1", row.path.name).replace("%2", f"{size / 2**20:,.0f}"),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.library.delete(row.path)
        except (PermissionError, KeyError, OSError) as exc:
            self.show_message(self.tr("Could not delete: ") + str(exc), error=True)
            return
        self.show_message(self.tr("Deleted %1.").replace("%1", row.path.name))
        self.refresh()

    def show_in_folder(self) -> None:
        row = self.table.selected_row()
        if row is not None and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(row.path.parent))):
            self.show_message(self.tr("Could not open %1").replace("%1", str(row.path.parent)), error=True)

    def rescan(self) -> None:
        self.rescan_button.setEnabled(False)
        self.jobs.rescan()

    def _on_rescanned(self, result: object) -> None:
        self.rescan_button.setEnabled(True)
        if isinstance(result, str):
            self.show_message(self.tr("Could not look for other apps' models: ") + result, error=True)
            return
        count = int(result)  # type: ignore[call-overload]
        self.show_message(self.tr("Found %n new model(s) in other apps.", "", count) if count
                          else self.tr("No new models found in other apps."))
        self.refresh()

    def show_recommended(self) -> None:
        """The catalog with the pick recommended for this machine in view (from "Get a chat model…")."""
        if not self.built:
            return  # built when first shown: show the tab first
        self.details.setCurrentWidget(self.catalog)
        self.catalog.show_recommended()

    def _prefill_download(self, repo: str, filename: str) -> None:
        self.download.prefill(repo, filename)
        self.details.setCurrentWidget(self.download)

    # ---- engine and settings -------------------------------------------------------------
    def _on_loaded(self, loaded: LoadedModel) -> None:
        self.gpu.set_model(loaded)
        if self.notice.text().startswith(self.tr("Switching to")):
            self.show_message(self.tr("%1 is loaded.").replace("%1", loaded.path.name if loaded.path else loaded.name))
        if loaded.adjustments:
            self.show_message(self.tr("The model was loaded with changes: ") + "; ".join(loaded.adjustments) + ".")

    def _on_load_failed(self, message: str) -> None:
        self.gpu.set_model(None)
        self.show_message(self.tr("The model could not be loaded: ") + message, error=True)

    def _on_setting_changed(self, key: str) -> None:
        if key == "n_ctx":
            self.picker.context.setValue(self.settings.get_int("n_ctx"))
            self.catalog.set_context(self.settings.get_int("n_ctx"))
            self._show_rows()
        elif key == "model_path":
            current = self.current_path()
            if current is not None and self.row_for(current) is None:
                self.refresh(select=current)  # e.g. File › Open model file added it to the library
            self._show_rows()
            self._update_details()
        elif key == connections.REMOTE_SETTING:
            self.servers.set_current_model(connections.chosen(self.settings))
            self._show_rows()
            self._update_details()
        elif key == "n_gpu_layers":
            self.gpu.sync()
            self.compare.n_gpu_layers = self.settings.get_int("n_gpu_layers")

    def show_message(self, text: str, error: bool = False) -> None:
        if not text:
            self.notice.clear_message()
            return
        self.notice.show_message(text, "error" if error else "info")
        self.status_message.emit(text)

    def shutdown(self) -> None:
        """Stop downloads, quantizing and comparing (partial downloads are kept), and unsubscribe."""
        self._unfollow()
        if self._unsubscribe is None:
            return  # never shown: nothing was started
        self.download.shutdown()
        self.catalog.shutdown()
        self.quantize.shutdown()
        self.compare.shutdown()
        self._unsubscribe()
