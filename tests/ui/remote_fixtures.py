"""The main window on a server model, for the GUI tests of the panels over a remote engine.

``ReplyServer`` is a :class:`~tests.openai_servers.ScriptedServer` whose reply is computed
from each chat request (``reply(messages)`` gives the content pieces), so summaries and
translations get answers that depend on what was asked. ``Gate`` pauses a reply part way
(the test looks at the window mid-stream, then lets it go on). ``RemoteWindow`` is the real
``MainWindow`` with a saved connection and its model chosen, loaded as at start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.chat.history import History, StoredMessage
from app.engines.contract import Endpoint, EngineFactory
from app.engines.factory import make_engine
from app.models.connections import ConnectionStore, choose_remote
from app.ui.chat.message_view import MessageWidget
from app.ui.engine.controller import EngineController
from app.ui.main_window import MainWindow
from tests.openai_servers import ScriptedServer, _Handler

LOAD_TIMEOUT_MS = 15000
REPLY_TIMEOUT_MS = 15000


class Gate:
    """Reply pieces that stop before piece ``hold_at`` until ``release()`` (at most 10 s)."""

    def __init__(self, pieces: Sequence[str], hold_at: int) -> None:
        self.pieces = tuple(pieces)
        self.hold_at = hold_at
        self.held = threading.Event()  # the server has sent the pieces before ``hold_at`` and waits
        self._release = threading.Event()

    def release(self) -> None:
        self._release.set()

    def __iter__(self) -> Iterator[str]:
        for i, piece in enumerate(self.pieces):
            if i == self.hold_at:
                self.held.set()
                self._release.wait(10)
            yield piece

    def __len__(self) -> int:
        return len(self.pieces)


#: ``reply(messages)``: the content pieces the server streams for a chat request's messages.
Reply = Callable[[list[dict[str, Any]]], Sequence[str] | Gate]


class _ReplyHandler(_Handler):
    """Streams ``script.reply(messages)`` instead of the fixed ``pieces`` (every other knob as before)."""

    def _chat(self, body: Any) -> None:
        script = self.script
        if isinstance(script, ReplyServer) and script.reply is not None and isinstance(body, dict):
            messages = body.get("messages")
            pieces = script.reply(messages if isinstance(messages, list) else [])
            self.script = replace(script, pieces=pieces)  # type: ignore[arg-type] # a Gate iterates like pieces
        try:
            super()._chat(body)
        finally:
            self.__dict__.pop("script", None)  # later requests on this connection see the server's knobs again


@dataclass
class ReplyServer(ScriptedServer):
    """A scripted server whose chat reply is ``reply(messages)`` when set (else the fixed ``pieces``)."""

    reply: Reply | None = None

    def __enter__(self) -> ReplyServer:
        super().__enter__()
        assert self._server is not None
        # nothing knows the port yet, so no request has been handled by the plain handler
        self._server.RequestHandlerClass = type("ReplyHandler", (_ReplyHandler,), {"script": self})
        return self

    def chat_messages(self, index: int) -> list[tuple[str, str]]:
        """(role, content) of every message in the ``index``-th chat request."""
        body = self.chats()[index].body
        return [(m["role"], m["content"]) for m in body["messages"]]


class RemoteWindow:
    """The real main window, its model on a server: a saved connection, its model chosen, loaded as at start."""

    def __init__(self, qtbot: QtBot, url: str, model_id: str, *, api_key: str | None = None,
                 n_ctx: int | None = None, factory: EngineFactory = make_engine, name: str = "lab",
                 settings: dict[str, object] | None = None) -> None:
        self.qtbot = qtbot
        self.connection = ConnectionStore().add(name, url, api_key=api_key, n_ctx=n_ctx)
        self.settings = Settings.load_default()
        choose_remote(self.settings, name, model_id)
        if settings:
            self.settings.update(settings)
        self.history = History(History.default_path())
        self.controller = EngineController(factory)
        self.window = MainWindow(self.controller, self.history, self.settings)
        qtbot.addWidget(self.window)
        self.window.resize(1100, 720)
        self.window.show()
        qtbot.waitExposed(self.window)
        self.window.load_model(at_start=True)
        chat = self.window.chat
        qtbot.waitUntil(lambda: self.controller.model is not None or chat.notice.kind == "error",
                        timeout=LOAD_TIMEOUT_MS)
        model = self.controller.model
        assert model is not None, f"the server model did not load: {chat.notice.text()}"
        assert isinstance(model.spec, Endpoint) and model.spec.model_id == model_id
        qtbot.waitUntil(lambda: not self.controller.busy, timeout=LOAD_TIMEOUT_MS)

    # ---- chat ------------------------------------------------------------------------
    def type_and_send(self, text: str) -> None:
        """Type ``text`` into the chat input and press Enter (the reply is left running)."""
        chat = self.window.chat
        chat.input.setPlainText(text)
        self.qtbot.waitUntil(chat.send_button.isEnabled, timeout=REPLY_TIMEOUT_MS)
        self.qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        assert chat.generating, "Enter did not start a reply"

    def wait_reply(self) -> None:
        """Until the running reply (and everything the panel does when it ends) is over."""
        chat = self.window.chat
        self.qtbot.waitUntil(lambda: not chat.generating and not self.controller.busy, timeout=REPLY_TIMEOUT_MS)

    def send(self, text: str) -> None:
        self.type_and_send(text)
        self.wait_reply()

    def widgets(self) -> list[MessageWidget]:
        return self.window.chat.view.widgets()

    def stored(self) -> list[StoredMessage]:
        return self.history.messages(self.window.chat.conversation_id or -1)

    def close(self) -> None:
        if self.window.isVisible():
            self.window.close()
        assert self.controller.wait_stopped(5000)
        self.history.close()

