"""Servers: add an OpenAI-compatible server, check it, and use one of its models like a local one.

The connection store and the checks are Qt-free (:mod:`app.models.connections`); saving (the
keyring may be slow to answer) and checking run off the GUI thread with ``run_task``. The key
field is only ever read to hand the key to the credential store: it is never shown, logged or
written anywhere else, and it is emptied once saved.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.models import connections
from app.models.connections import CheckResult, Connection, ConnectionProblem, ConnectionStore
from app.ui.widgets.buttons import add_button
from app.ui.widgets.key_place import key_place
from app.ui.widgets.notice import Notice
from app.ui.widgets.tasks import Task, run_task

ID_ROLE = Qt.ItemDataRole.UserRole


class ConnectionsView(QWidget):
    """The "Servers" page of the Models tab; ``use_requested(connection, model id)`` asks to use a model."""

    use_requested = Signal(str, str)
    removed = Signal(str)  # a connection's name

    def __init__(self, store: ConnectionStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store or ConnectionStore()
        self.checks = 0  # finished checks (tests wait on it)
        self.results: dict[str, CheckResult] = {}  # the latest check of each connection
        self.current_model: tuple[str, str] | None = None  # the chosen remote model, marked in the list
        self._task: Task | None = None
        self._connections: list[Connection] = []
        self._build()
        self.reload()

    # ---- construction ----------------------------------------------------------------
    def _build(self) -> None:
        row = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(QLabel(self.tr("Servers")))
        self.list = QListWidget()
        self.list.setObjectName("connectionList")
        left.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        self.new_button = add_button(self.tr("New"), "newConnectionButton", self.new_connection, buttons)
        self.remove_button = add_button(self.tr("Remove"), "removeConnectionButton", self.remove_selected, buttons)
        left.addLayout(buttons)
        row.addLayout(left, 1)

        middle = QVBoxLayout()
        form = QFormLayout()
        self.name_field = QLineEdit()
        self.name_field.setObjectName("connectionName")
        self.name_field.setPlaceholderText(self.tr("e.g. GPU server"))
        form.addRow(self.tr("Name"), self.name_field)
        self.url_field = QLineEdit()
        self.url_field.setObjectName("connectionUrl")
        self.url_field.setPlaceholderText("http://192.168.1.20:8080/v1")
        form.addRow(self.tr("Address"), self.url_field)
        self.key_field = QLineEdit()
        self.key_field.setObjectName("connectionKey")
        self.key_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_field.setPlaceholderText(self.tr("optional"))
        form.addRow(self.tr("API key"), self.key_field)
        ca_row = QHBoxLayout()
        self.ca_field = QLineEdit()
        self.ca_field.setObjectName("connectionCaFile")
        self.ca_field.setPlaceholderText(self.tr("optional, https only: the system's certificates are used"))
        ca_row.addWidget(self.ca_field, 1)
        self.ca_button = QPushButton(self.tr("Choose…"))
        self.ca_button.setObjectName("chooseCaButton")
        self.ca_button.clicked.connect(self.choose_ca_file)
        ca_row.addWidget(self.ca_button)
        form.addRow(self.tr("CA file"), ca_row)
        self.ctx_field = QSpinBox()
        self.ctx_field.setObjectName("connectionContext")
        self.ctx_field.setRange(0, 1_048_576)
        self.ctx_field.setSingleStep(1024)
        self.ctx_field.setSpecialValueText(self.tr("as the server says"))
        form.addRow(self.tr("Context size"), self.ctx_field)
        self.parallel_field = QSpinBox()
        self.parallel_field.setObjectName("connectionParallel")
        self.parallel_field.setRange(0, connections.MAX_PARALLEL)
        self.parallel_field.setSpecialValueText(self.tr("as the server says"))
        self.parallel_field.setToolTip(self.tr("How many requests Kestrel sends this server at once: a summary "
                                               "reads that many parts together. llama-server reports its slots "
                                               "(--parallel); for vLLM, set how many it should take."))
        form.addRow(self.tr("Requests at once"), self.parallel_field)
        middle.addLayout(form)
        self.warning = Notice()
        self.warning.setObjectName("clearTextWarning")
        middle.addWidget(self.warning)
        self.key_place = QLabel()
        self.key_place.setObjectName("keyPlace")
        self.key_place.setWordWrap(True)
        middle.addWidget(self.key_place)
        check_row = QHBoxLayout()
        self.check_button = add_button(self.tr("Save and check"), "checkConnectionButton", self.save_and_check,
                                         check_row)
        check_row.addStretch(1)
        middle.addLayout(check_row)
        self.result = Notice()
        self.result.setObjectName("checkResult")
        middle.addWidget(self.result)
        middle.addStretch(1)
        row.addLayout(middle, 2)

        right = QVBoxLayout()
        right.addWidget(QLabel(self.tr("Models on this server")))
        self.models = QListWidget()
        self.models.setObjectName("serverModels")
        right.addWidget(self.models, 1)
        use_row = QHBoxLayout()
        self.use_button = add_button(self.tr("Use this model"), "useRemoteButton", self.use_selected, use_row)
        right.addLayout(use_row)
        row.addLayout(right, 1)

        self.list.itemSelectionChanged.connect(self._on_selected)
        self.models.itemSelectionChanged.connect(self._update_buttons)
        self.models.itemDoubleClicked.connect(lambda _item: self.use_selected())
        for field in (self.url_field, self.key_field):
            field.textChanged.connect(self._update_form)
        self._update_form()

    # ---- state -----------------------------------------------------------------------
    def selected(self) -> Connection | None:
        item = self.list.currentItem()
        if item is None or not item.isSelected():
            return None
        name = item.data(ID_ROLE)
        return next((c for c in self._connections if c.name == name), None)

    def reload(self, select: str | None = None) -> None:
        """Read the store again and show it; a broken file is said, not raised."""
        try:
            self._connections = self.store.all()
        except ConnectionProblem as exc:
            self._connections = []
            self.result.show_message(self.tr("The saved servers cannot be read: ") + str(exc), "error")
        shown = self.selected()
        keep = select or (shown.name if shown is not None else None)
        self.list.blockSignals(True)
        self.list.clear()
        for connection in self._connections:
            item = QListWidgetItem(connection.name)
            item.setData(ID_ROLE, connection.name)
            item.setToolTip(connection.url)
            self.list.addItem(item)
            if connection.name == keep:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._on_selected()

    def set_current_model(self, current: tuple[str, str] | None) -> None:
        """The remote model in use (marked in the model list), from the settings."""
        self.current_model = current
        self._show_models()

    def _on_selected(self) -> None:
        connection = self.selected()
        if connection is not None:
            self.name_field.setText(connection.name)
            self.url_field.setText(connection.url)
            self.ca_field.setText(connection.ca_file or "")
            self.ctx_field.setValue(connection.n_ctx or 0)
            self.parallel_field.setValue(connection.parallel or 0)
        self.key_field.clear()
        self._show_models()
        self._update_form()

    def _show_models(self) -> None:
        connection = self.selected()
        result = self.results.get(connection.name) if connection else None
        picked = [item.data(ID_ROLE) for item in self.models.selectedItems()]
        self.models.clear()
        for model_id in result.model_ids if result else ():
            in_use = connection is not None and self.current_model == (connection.name, model_id)
            item = QListWidgetItem(model_id + (self.tr(" (in use)") if in_use else ""))
            item.setData(ID_ROLE, model_id)
            self.models.addItem(item)
            if model_id in picked:
                self.models.setCurrentItem(item)  # a redraw keeps the user's pick
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected() is not None)
        self.use_button.setEnabled(self.selected() is not None and bool(self.models.selectedItems()))

    def _update_form(self) -> None:
        """The clear-text warning, the CA picker (https only), where the key is kept."""
        url = self.url_field.text().strip()
        connection = self.selected()
        same = connection is not None and connection.name == self.name_field.text().strip()
        has_key = bool(self.key_field.text()) or (same and connection is not None and connection.credential is not None)
        if connections.key_sent_in_clear(url, has_key):
            self.warning.show_message(self.tr("This address uses plain http to another computer: the API key "
                                              "travels unencrypted. Use https, or a server on this computer."),
                                      "warning")
        else:
            self.warning.clear_message()
        https = url.lower().startswith("https://")
        self.ca_field.setEnabled(https)
        self.ca_button.setEnabled(https)
        if connection is not None and connection.credential is not None:
            self.key_place.setText(self.tr("The API key is kept in %1. Leave the field empty to keep it.")
                                   .replace("%1", key_place(connection.credential)))
        else:
            self.key_place.setText(self.tr("A key you enter is kept in the system keyring, or where there is "
                                           "none, in a file only you can read."))
        self._update_buttons()

    # ---- actions ---------------------------------------------------------------------
    def new_connection(self) -> None:
        self.list.clearSelection()
        for field in (self.name_field, self.url_field, self.key_field, self.ca_field):
            field.clear()
        self.ctx_field.setValue(0)
        self.parallel_field.setValue(0)
        self.result.clear_message()
        self.name_field.setFocus()

    def choose_ca_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a CA certificate file"), "",
                                              self.tr("Certificates (*.pem *.crt *.cer);;All files (*)"))
        if name:
            self.ca_field.setText(name)

    def save_and_check(self) -> None:
        """Save what the form says, then check the server, both off the GUI thread."""
        name, url = self.name_field.text(), self.url_field.text()
        key = self.key_field.text() or None
        ca_file = self.ca_field.text().strip() if self.ca_field.isEnabled() and self.ca_field.text().strip() else None
        n_ctx = self.ctx_field.value() or None
        parallel = self.parallel_field.value() or None
        try:
            clean, _address = connections.validate(name, url, ca_file, n_ctx, parallel)
        except ConnectionProblem as exc:
            self.result.show_message(self.tr("Not saved: ") + str(exc), "error")
            return
        store = self.store

        def work() -> tuple[Connection, CheckResult | str]:
            connection = store.add(name, url, api_key=key, ca_file=ca_file, n_ctx=n_ctx, parallel=parallel,
                                   keep_key=True)
            try:
                return connection, connections.check(connection)
            except RuntimeError as exc:  # EngineError, CredentialError: one line, never the key
                return connection, str(exc)

        self.check_button.setEnabled(False)
        self.result.show_message(self.tr("Checking %1…").replace("%1", clean), "info")
        task = run_task("check-connection", work, self)
        self._task = task
        task.done.connect(lambda outcome: self._on_checked(task, outcome))
        task.failed.connect(lambda message: self._on_check_failed(task, message))

    def _on_checked(self, task: Task, outcome: object) -> None:
        if task is not self._task or not isinstance(outcome, tuple):
            return
        self._task = None
        connection, result = outcome
        self.check_button.setEnabled(True)
        self.key_field.clear()
        if isinstance(result, CheckResult):
            self.results[connection.name] = result
        else:
            self.results.pop(connection.name, None)
        self.reload(select=connection.name)
        if isinstance(result, CheckResult):
            self.result.show_message(self._reachable(result), "info" if result.model_ids else "warning")
        else:
            self.result.show_message(self.tr("Saved, but the check failed: ") + str(result), "error")
        self.checks += 1

    def _reachable(self, result: CheckResult) -> str:
        text = self.tr("Reachable: %1, %n model(s)", "", len(result.model_ids)).replace("%1", result.kind)
        if result.n_ctx:
            text += self.tr(", context %1 tokens").replace("%1", f"{result.n_ctx:,}")
        if result.slots:
            text += self.tr(", %n request(s) at once", "", result.slots)
        return text + "."

    def _on_check_failed(self, task: Task, message: str) -> None:
        if task is not self._task:
            return
        self._task = None
        self.check_button.setEnabled(True)
        self.result.show_message(self.tr("Not saved: ") + message, "error")
        self.checks += 1

    def use_selected(self) -> None:
        connection = self.selected()
        items = self.models.selectedItems()
        if connection is not None and items:
            self.use_requested.emit(connection.name, str(items[0].data(ID_ROLE)))

    def remove_selected(self) -> None:
        connection = self.selected()
        if connection is None:
            return
        try:
            self.store.remove(connection.name)
        except (OSError, RuntimeError, ValueError) as exc:
            self.result.show_message(self.tr("Could not remove the server: ") + str(exc), "error")
            return
        self.results.pop(connection.name, None)
        self.new_connection()
        self.reload()
        self.removed.emit(connection.name)
        self.result.show_message(self.tr("%1 was removed, with its stored key.").replace("%1", connection.name),
                                 "info")
