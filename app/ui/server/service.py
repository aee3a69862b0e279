"""The window's API server: started and stopped by the settings, over the window's one engine worker.

``ApiService`` owns the :class:`~app.api.server.ApiServer` and its :class:`QtGate` while the
``api_server`` setting is on, restarts it when the port, the network choice, the allowed web
pages or the load permission change, and tells the Server panel what it is doing. The
server's own thread only ever emits ``_activity_poke``, a queued signal, so everything
the panel sees happens on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from app.api.activity import ApiActivity
from app.api.catalog import ModelCatalog
from app.api.errors import ApiError
from app.api.keys import ServerKey, new_key, server_key
from app.base.settings import Settings
from app.models.params import generation_params
from app.ui.engine.controller import EngineController
from app.ui.engine.gate import QtGate

if TYPE_CHECKING:  # the web stack (uvicorn, starlette: ~70 ms) loads when the API is first turned on
    from app.api.server import ApiServer

#: The settings the server restarts for while it is switched on.
RESTART_KEYS = frozenset({"api_port", "api_network", "api_origins", "api_allow_load"})
LOOPBACK = "127.0.0.1"
EVERY_INTERFACE = "0.0.0.0"  # only when the user chose "reachable from other machines"


class ApiService(QObject):
    """Runs the API server while the ``api_server`` setting is on; GUI thread only."""

    state_changed = Signal()  # started, stopped, or failed to start (see ``error``)
    activity_changed = Signal()  # a request was queued, started, finished or logged
    _activity_poke = Signal()  # emitted on the server's thread, delivered queued here

    def __init__(self, controller: EngineController, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self.catalog = ModelCatalog(settings=lambda: settings)
        self.error: str | None = None  # why the server is not running although it should
        self._server: ApiServer | None = None
        self._gate: QtGate | None = None
        self._key: ServerKey | None = None
        self._activity_poke.connect(self._on_activity)
        self._unsubscribe: Callable[[], None] | None = settings.subscribe(self._on_setting)

    # ---- what the panel reads --------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running

    @property
    def address(self) -> str | None:
        return self._server.address if self._server is not None else None

    @property
    def key(self) -> ServerKey | None:
        """The key clients send, once the server has started (or a new one was made)."""
        return self._key

    @property
    def warning(self) -> str | None:
        """Said while the API is reachable from other machines."""
        return self._server.exposure_warning if self._server is not None else None

    def activity(self) -> ApiActivity | None:
        return self._server.activity() if self._server is not None else None

    # ---- starting and stopping -------------------------------------------------------
    def apply(self) -> None:
        """Start or stop as the setting says (at window start, and after every change)."""
        if self.settings.get_bool("api_server"):
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        """(Re)start the server; a port in use or a keyring that fails leaves ``error`` set."""
        self.stop(notify=False)
        self.error = None
        settings = self.settings
        host = EVERY_INTERFACE if settings.get_bool("api_network") else LOOPBACK
        allow_load = settings.get_bool("api_allow_load")
        from app.api.server import ApiServer  # noqa: PLC0415 - see the TYPE_CHECKING import
        try:
            self._key = self._key or server_key()
            gate = QtGate(self.controller, self.catalog.spec if allow_load else None)
            server = ApiServer(gate, host=host, port=settings.get_int("api_port"), api_key=self._key.key,
                               cors_origins=settings.get_str("api_origins").split(), allow_load=allow_load,
                               defaults=generation_params(settings), catalog=self.catalog)
            server.on_change = self._activity_poke.emit
            server.start()
        except ApiError as exc:
            self.error = str(exc)
        else:
            self._server, self._gate = server, gate
        self.state_changed.emit()

    def stop(self, notify: bool = True) -> None:
        """Stop serving: requests in progress end, waiting ones are answered that the server stops."""
        server, gate, self._server, self._gate = self._server, self._gate, None, None
        if server is not None:
            server.on_change = None
            server.stop()
        if gate is not None:
            gate.close()
        if notify:
            self.error = None
            self.state_changed.emit()

    def new_key(self) -> None:
        """Replace the key (the old one stops working at once); a running server restarts with it."""
        try:
            self._key = new_key()
        except ApiError as exc:
            self.error = str(exc)
            self.state_changed.emit()
            return
        if self.running:
            self.start()
        else:
            self.state_changed.emit()

    def shutdown(self) -> None:
        """The window closes: stop serving and stop listening to the settings."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.stop(notify=False)

    # ---- reactions -------------------------------------------------------------------
    def _on_setting(self, key: str, _value: object) -> None:
        if key == "api_server" or (key in RESTART_KEYS and self.settings.get_bool("api_server")):
            self.apply()  # a changed port also retries a start that failed

    @Slot()
    def _on_activity(self) -> None:
        self.activity_changed.emit()
