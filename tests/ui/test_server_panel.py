"""The API tab: off by default, on with one switch, serving through the window's own engine.

Requests go over real HTTP on 127.0.0.1 from a thread of their own (the window's event loop
keeps running, as it does for a user), and the panel shows the address, the key, the
counts and each request with its speed.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from huggingface_hub.utils import httpx
from pytestqt.qtbot import QtBot

from app.api import server as api_server_module
from app.api.activity import ApiActivity
from app.api.gate import Gate
from app.api.server import ApiServer
from app.base.settings import Settings
from app.chat.history import History
from app.engines.fake import FakeEngine
from app.ui.engine.controller import EngineController
from app.ui.main_window import MainWindow
from tests import gguf_files
from tests.keyrings import MemoryKeyring
from tests.openai_servers import free_port

pytestmark = pytest.mark.usefixtures("loopback_guard")

CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 16}


class Window:
    def __init__(self, qtbot: QtBot, tmp_path: Path, engine: FakeEngine | None = None) -> None:
        self.settings = Settings.load_default()
        self.settings.set("api_port", free_port())
        self.history = History(History.default_path())
        fake = engine or FakeEngine(reply="Hi there, from the API.", tokens_per_s=500)
        self.controller = EngineController(lambda _spec: fake)
        model = gguf_files.write_tiny_llama(tmp_path / "tiny.gguf")
        self.window = MainWindow(self.controller, self.history, self.settings, model_override=str(model))
        qtbot.addWidget(self.window)
        self.window.show()
        self.window.load_model()
        qtbot.waitUntil(lambda: self.controller.model is not None, timeout=5000)
        self.panel = self.window.server_panel

    def close(self) -> None:
        if self.window.isVisible():
            self.window.close()
        self.history.close()


@pytest.fixture
def w(qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring) -> Iterator[Window]:
    window = Window(qtbot, tmp_path)
    yield window
    window.close()


def call(qtbot: QtBot, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP request on a thread of its own, while the window's event loop runs."""
    box: list[httpx.Response | BaseException] = []

    def run() -> None:
        try:
            box.append(httpx.request(method, url, timeout=10.0, trust_env=False, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box.append(exc)

    threading.Thread(target=run, daemon=True).start()
    qtbot.waitUntil(lambda: bool(box), timeout=15000)
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result


def test_off_by_default_and_nothing_listens(w: Window, qtbot: QtBot) -> None:
    panel = w.panel
    assert not panel.switch.isChecked() and not w.window.api.running
    assert panel.status.text() == "Off: nothing listens for requests."
    assert panel.address_field.text() == "" and not panel.copy_address_button.isEnabled()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{w.settings.get_int('api_port')}/health", timeout=2.0, trust_env=False)


def test_one_switch_serves_the_loaded_model_and_the_panel_shows_each_request(w: Window, qtbot: QtBot) -> None:
    panel = w.panel
    panel.switch.setChecked(True)
    assert w.settings.get_bool("api_server")
    port = w.settings.get_int("api_port")
    address = f"http://127.0.0.1:{port}/v1"
    assert panel.status.text() == f"Serving at {address}" and panel.address_field.text() == address
    key = w.window.api.key
    assert key is not None and panel.key_field.text() == key.key
    assert panel.key_field.echoMode() == panel.key_field.EchoMode.Password  # hidden until asked
    assert panel.key_place.text().startswith("Kept in ")
    assert f"curl {address}/chat/completions" in panel.example.toPlainText()
    assert "Bearer $KESTREL_API_KEY" in panel.example.toPlainText()  # never the key itself

    refused = call(qtbot, "POST", f"{address}/chat/completions", json=CHAT)
    assert refused.status_code == 401
    answer = call(qtbot, "POST", f"{address}/chat/completions", json=CHAT,
                  headers={"Authorization": f"Bearer {key.key}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "Hi there, from the API."

    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=5000)
    newest = [panel.table.item(0, col).text() for col in range(panel.table.columnCount())]
    assert newest[1] == "POST /v1/chat/completions" and newest[2] == "200"
    assert newest[4] == "5" and newest[5].endswith("tok/s")  # the reply's tokens and the speed the client saw
    refused_row = [panel.table.item(1, col).text() for col in range(panel.table.columnCount())]
    assert refused_row[2] == "401" and refused_row[4] == "—" and refused_row[5] == "—"  # unknown, never 0
    assert panel.counts.text() == "Answering: 0 · waiting: 0"

    panel.switch.setChecked(False)
    assert not w.window.api.running and panel.status.text() == "Off: nothing listens for requests."
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{address}/models", timeout=2.0, trust_env=False)


def test_a_new_key_replaces_the_old_one_at_once(w: Window, qtbot: QtBot) -> None:
    w.panel.switch.setChecked(True)
    address = w.panel.address_field.text()
    old = w.window.api.key
    assert old is not None
    w.panel.new_key_button.click()
    new = w.window.api.key
    assert new is not None and new.key != old.key and w.panel.key_field.text() == new.key
    assert call(qtbot, "GET", f"{address}/models", headers={"Authorization": f"Bearer {old.key}"}).status_code == 401
    assert call(qtbot, "GET", f"{address}/models", headers={"Authorization": f"Bearer {new.key}"}).status_code == 200


def test_a_port_in_use_is_said_and_the_window_carries_on(w: Window, qtbot: QtBot) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        w.settings.set("api_port", taken.getsockname()[1])
        w.panel.switch.setChecked(True)
        assert not w.window.api.running
        assert w.panel.status.kind == "error"
        assert w.panel.status.text() == f"Not serving: port {taken.getsockname()[1]} on 127.0.0.1 is already in use; " \
                                        "choose another port"
    w.settings.set("api_port", free_port())  # a restart on the new port: the switch is still on
    assert w.window.api.running and w.panel.status.kind == "info"


class UnboundServer(ApiServer):
    """Records where it would listen; binds nothing (tests never listen beyond 127.0.0.1)."""

    hosts: ClassVar[list[str]] = []

    def __init__(self, gate: Gate, *, host: str = "127.0.0.1", **kwargs: Any) -> None:
        super().__init__(gate, host=host, **kwargs)
        self.hosts.append(host)

    def start(self) -> None:
        pass

    @property
    def running(self) -> bool:
        return True


def test_reachable_from_other_machines_listens_everywhere_with_a_warning(w: Window, qtbot: QtBot,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_server_module, "ApiServer", UnboundServer)
    w.panel.switch.setChecked(True)
    assert UnboundServer.hosts[-1] == "127.0.0.1" and w.panel.warning.isHidden()
    w.settings.set("api_network", True)
    assert UnboundServer.hosts[-1] == "0.0.0.0"
    assert w.panel.warning.kind == "warning" and "other machines can reach it" in w.panel.warning.text()
    assert not w.panel.warning.isHidden()
    w.settings.set("api_network", False)
    assert UnboundServer.hosts[-1] == "127.0.0.1" and w.panel.warning.isHidden()


def test_a_chat_turn_sent_while_the_api_is_answering_waits_and_goes_before_the_next_api_request(
        qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    engine = FakeEngine(reply="one two three four five six seven eight nine ten", tokens_per_s=25)
    window = Window(qtbot, tmp_path, engine)
    try:
        window.panel.switch.setChecked(True)
        address, key = window.panel.address_field.text(), window.window.api.key
        assert key is not None
        answers: list[httpx.Response] = []

        def ask(content: str) -> None:
            body = {"messages": [{"role": "user", "content": content}], "max_tokens": 16}
            answers.append(httpx.post(f"{address}/chat/completions", json=body, timeout=30.0, trust_env=False,
                                      headers={"Authorization": f"Bearer {key.key}"}))

        first = threading.Thread(target=ask, args=("api first",), daemon=True)
        first.start()
        qtbot.waitUntil(lambda: window.controller.busy, timeout=5000)  # the first API request runs
        second = threading.Thread(target=ask, args=("api second",), daemon=True)
        second.start()
        qtbot.waitUntil(lambda: (window.window.api.activity() or ApiActivity(0, 0, ())).queued == 1, timeout=5000)

        chat = window.window.chat
        assert chat.send_button.isEnabled()  # the engine is busy, but not with this window's work
        chat.input.setPlainText("from the window")
        chat.send()
        assert chat.notice.text().startswith("Waiting for the engine") and chat.stop_button.isEnabled()
        assert chat.input.toPlainText() == ""  # the turn is kept in the chat, waiting
        qtbot.waitUntil(lambda: len(answers) == 2 and not window.controller.busy, timeout=20000)
        asked = [messages[-1].content for messages in engine.requests]
        assert asked == ["api first", "from the window", "api second"]
        assert all(answer.status_code == 200 for answer in answers)
        assert chat.view.widgets()[-1].text == "one two three four five six seven eight nine ten"
    finally:
        window.close()


def test_stopping_a_waiting_turn_keeps_the_message_and_sends_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    window = Window(qtbot, tmp_path)
    try:
        release = threading.Event()
        handle = window.controller.run_job(lambda _engine, _stop, _report: release.wait(10))
        chat = window.window.chat
        chat.input.setPlainText("not now")
        chat.send()
        assert chat.generating and chat.notice.text().startswith("Waiting for the engine")
        chat.stop()
        assert not chat.generating and chat.notice.text() == "Stopped."
        release.set()
        qtbot.waitUntil(lambda: handle.is_finished, timeout=5000)
        qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)
        assert [m.content for m in window.history.messages(chat.conversation_id)] == ["not now"]
    finally:
        window.close()
