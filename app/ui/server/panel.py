"""The Server tab: the local OpenAI-compatible API, its address and key, and what it is doing.

Off until the user turns it on. While on it shows where it listens, the key (hidden until
asked, copied with one click, replaceable), the requests answering and waiting, and the
latest requests with the speed each client saw. Port, network reach, allowed web pages and
model loading are settings (the "API server" tab of the Settings dialog, one click away).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.api.activity import RequestRecord
from app.base.settings import Settings
from app.base.speed import format_rate
from app.base.units import format_seconds
from app.ui.server.service import ApiService
from app.ui.widgets.buttons import add_button
from app.ui.widgets.key_place import key_place
from app.ui.widgets.notice import Notice

UNKNOWN = "—"
REFRESH_MS = 200  # activity can change many times a second; the table is redrawn at most this often


class ServerPanel(QWidget):
    """Turns the API on and off and shows it at work."""

    settings_requested = Signal(str)  # open the Settings dialog at this setting

    def __init__(self, service: ApiService, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("serverPanel")
        self.service = service
        self.settings = settings
        self._build()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._show_activity)
        service.state_changed.connect(self._show_state)
        service.activity_changed.connect(self._refresh_timer.start)
        self._show_state()

    # ---- construction ----------------------------------------------------------------
    def _build(self) -> None:
        column = QVBoxLayout(self)
        title = QLabel(self.tr("Local API server"))
        title.setObjectName("panelTitle")
        column.addWidget(title)
        intro = QLabel(self.tr("Editors, scripts and other programs can use the loaded model through an "
                               "OpenAI-compatible API. Their requests take turns with yours, and each one "
                               "needs the key below."))
        intro.setWordWrap(True)
        column.addWidget(intro)

        switch_row = QHBoxLayout()
        self.switch = QCheckBox(self.tr("Serve the API"))
        self.switch.setObjectName("serveSwitch")
        self.switch.toggled.connect(self._on_switch)
        switch_row.addWidget(self.switch)
        switch_row.addStretch(1)
        self.options_button = add_button(self.tr("Port and access…"), "serverOptionsButton",
                                         lambda: self.settings_requested.emit("api_port"), switch_row)
        column.addLayout(switch_row)
        self.status = Notice()
        self.status.setObjectName("serverStatus")
        column.addWidget(self.status)
        self.warning = Notice()
        self.warning.setObjectName("serverWarning")
        column.addWidget(self.warning)

        form = QFormLayout()
        address_row = QHBoxLayout()
        self.address_field = QLineEdit()
        self.address_field.setObjectName("serverAddress")
        self.address_field.setReadOnly(True)
        address_row.addWidget(self.address_field, 1)
        self.copy_address_button = add_button(self.tr("Copy"), "copyAddressButton", self.copy_address, address_row)
        form.addRow(self.tr("Address"), address_row)
        key_row = QHBoxLayout()
        self.key_field = QLineEdit()
        self.key_field.setObjectName("serverKey")
        self.key_field.setReadOnly(True)
        self.key_field.setEchoMode(QLineEdit.EchoMode.Password)
        key_row.addWidget(self.key_field, 1)
        self.show_key_button = add_button(self.tr("Show"), "showKeyButton", self.toggle_key, key_row)
        self.copy_key_button = add_button(self.tr("Copy"), "copyKeyButton", self.copy_key, key_row)
        self.new_key_button = add_button(self.tr("New key"), "newKeyButton", self.service.new_key, key_row)
        form.addRow(self.tr("API key"), key_row)
        self.key_place = QLabel()
        self.key_place.setObjectName("serverKeyPlace")
        self.key_place.setWordWrap(True)
        form.addRow("", self.key_place)
        column.addLayout(form)

        self.example = QPlainTextEdit()
        self.example.setObjectName("serverExample")
        self.example.setReadOnly(True)
        self.example.setMaximumHeight(70)
        self.example.setToolTip(self.tr("Try it from a terminal; put the key in KESTREL_API_KEY first."))
        column.addWidget(self.example)

        self.counts = QLabel()
        self.counts.setObjectName("serverCounts")
        column.addWidget(self.counts)
        headers = [self.tr("Time"), self.tr("Request"), self.tr("Status"), self.tr("Model"), self.tr("Tokens"),
                   self.tr("Speed"), self.tr("First text"), self.tr("Took")]
        self.table = QTableWidget(0, len(headers))
        self.table.setObjectName("serverRequests")
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        speed_header = self.table.horizontalHeaderItem(5)
        if speed_header is not None:
            speed_header.setToolTip(self.tr("Tokens per second after the first, as the client received them, "
                                            "measured at the server"))
        column.addWidget(self.table, 1)

    # ---- actions ---------------------------------------------------------------------
    def _on_switch(self, on: bool) -> None:
        if self.settings.get_bool("api_server") != on:
            self.settings.set("api_server", on)  # the service follows the setting

    def copy_address(self) -> None:
        QGuiApplication.clipboard().setText(self.address_field.text())

    def copy_key(self) -> None:
        key = self.service.key
        if key is not None:
            QGuiApplication.clipboard().setText(key.key)

    def toggle_key(self) -> None:
        hidden = self.key_field.echoMode() == QLineEdit.EchoMode.Password
        self.key_field.setEchoMode(QLineEdit.EchoMode.Normal if hidden else QLineEdit.EchoMode.Password)
        self.show_key_button.setText(self.tr("Hide") if hidden else self.tr("Show"))

    # ---- showing ---------------------------------------------------------------------
    def _show_state(self) -> None:
        service = self.service
        self.switch.blockSignals(True)
        self.switch.setChecked(self.settings.get_bool("api_server"))
        self.switch.blockSignals(False)
        address = service.address if service.running else None
        if service.error:
            self.status.show_message(self.tr("Not serving: ") + service.error, "error")
        elif address is not None:
            self.status.show_message(self.tr("Serving at %1").replace("%1", address), "info")
        else:
            self.status.show_message(self.tr("Off: nothing listens for requests."), "info")
        if service.running and service.warning:
            self.warning.show_message(service.warning, "warning")
        else:
            self.warning.clear_message()
        self.address_field.setText(address or "")
        key = service.key
        self.key_field.setText(key.key if key is not None else "")
        where = key_place(key.reference) if key is not None else None
        self.key_place.setText(self.tr("Kept in %1.").replace("%1", where) if where is not None else "")
        for widget in (self.copy_address_button, self.example):
            widget.setEnabled(address is not None)
        for widget in (self.show_key_button, self.copy_key_button):
            widget.setEnabled(key is not None)
        self.example.setPlainText(
            f'curl {address}/chat/completions -H "Authorization: Bearer $KESTREL_API_KEY" \\\n'
            f'  -H "Content-Type: application/json" -d \'{{"messages": [{{"role": "user", "content": "Hello"}}]}}\''
            if address is not None else "")
        self._show_activity()

    def _show_activity(self) -> None:
        activity = self.service.activity()
        if activity is None:
            self.counts.setText("")
            return
        self.counts.setText(self.tr("Answering: %1 · waiting: %2").replace("%1", str(activity.in_progress))
                            .replace("%2", str(activity.queued)))
        records = list(reversed(activity.recent))  # newest first
        self.table.setRowCount(len(records))
        for row, record in enumerate(records):
            for col, text in enumerate(_cells(record)):
                item = QTableWidgetItem(text)
                if col >= 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)


def _cells(record: RequestRecord) -> tuple[str, ...]:
    """A request as the table shows it; what was not measured (or does not apply) is "—"."""
    tokens = f"{record.completion_tokens:,}" if record.completion_tokens is not None else UNKNOWN
    speed = format_rate(record.decode_tps) if record.decode_tps else UNKNOWN
    first = format_seconds(record.ttft_s) if record.ttft_s is not None else UNKNOWN
    return (time.strftime("%H:%M:%S", time.localtime(record.at)), f"{record.method} {record.path}",
            str(record.status), record.model or UNKNOWN, tokens, speed, first, format_seconds(record.seconds))
