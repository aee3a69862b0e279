"""The Models tab's Servers page: add a server, check it, use one of its models like a local one.

The window is real, the server is a scripted OpenAI-compatible one on 127.0.0.1 and the
controller's factory gives the real RemoteEngine for a server model (the fake engine for files).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.base import credentials
from app.base.settings import Settings
from app.chat.history import History
from app.engines.contract import Endpoint, Engine, ModelSpec
from app.engines.fake import FakeEngine
from app.engines.remote.engine import RemoteEngine
from app.ui.engine.controller import EngineController
from app.ui.main_window import MainWindow
from app.ui.models.connections import ConnectionsView
from tests import gguf_files
from tests.keyrings import MemoryKeyring
from tests.openai_servers import ScriptedServer

pytestmark = [pytest.mark.qt_log_ignore("propagateSizeHints"), pytest.mark.usefixtures("loopback_guard")]


def _factory(spec: ModelSpec) -> Engine:
    if isinstance(spec, Endpoint):
        return RemoteEngine(resolve_key=credentials.resolve, connect_s=5, request_s=5)
    return FakeEngine(tokens_per_s=2000)


def test_add_check_and_use_a_server_model(qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    settings = Settings.load_default()
    settings.set("model_path", str(gguf_files.write_tiny_llama(tmp_path / "tiny.gguf")))
    history = History(History.default_path())
    controller = EngineController(_factory)
    window = MainWindow(controller, history, settings)
    qtbot.addWidget(window)
    window.show()
    window.load_model()
    qtbot.waitUntil(lambda: controller.model is not None, timeout=5000)
    try:
        with ScriptedServer(models=("alpha-7b", "beta-70b"), owned_by="llamacpp", llama_server=True,
                            n_ctx=8192, api_key="sk-test-key") as server:
            window.tabs.setCurrentWidget(window.models)
            servers = window.models.servers
            window.models.details.setCurrentWidget(servers)
            servers.name_field.setText("lab")
            servers.url_field.setText(server.base_url)
            servers.key_field.setText("sk-test-key")
            assert servers.warning.isHidden()  # a key to 127.0.0.1 over http stays on this computer
            qtbot.mouseClick(servers.check_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: servers.checks == 1, timeout=10000)
            assert servers.result.text() == "Reachable: llama-server, 2 model(s), context 8,192 tokens."
            assert [servers.models.item(i).text() for i in range(servers.models.count())] == ["alpha-7b", "beta-70b"]
            assert servers.key_field.text() == ""
            assert servers.key_place.text().startswith("The API key is kept in the system keyring.")
            assert memory_keyring.secrets == {("kestrel", "lab"): "sk-test-key"}
            assert "sk-test-key" not in servers.store.path.read_text()
            assert not servers.use_button.isEnabled()  # no model selected yet: nothing to use

            servers.models.setCurrentRow(1)
            assert servers.use_button.isEnabled()
            qtbot.mouseClick(servers.use_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: controller.model is not None and isinstance(controller.model.spec, Endpoint),
                            timeout=10000)
            spec = controller.model.spec
            assert spec == Endpoint(server.base_url, "beta-70b", "keyring:kestrel/lab", None)
            assert controller.model.n_ctx == 8192 and controller.model.backend == "llama-server"
            assert settings.get_str("remote_model") == "lab/beta-70b" and settings.get_str("model_path") == ""
            assert "sk-test-key" not in settings.path.read_text()
            assert servers.models.item(1).text() == "beta-70b (in use)"
            assert servers.models.item(1).isSelected() and servers.use_button.isEnabled()
            qtbot.waitUntil(lambda: window.models.notice.text() == "beta-70b is loaded.", timeout=5000)
            assert window.model_label.text() == "beta-70b"
            if os.environ.get("KESTREL_SCREENSHOT"):
                window.resize(1100, 720)
                qtbot.wait(100)
                window.grab().save(os.environ["KESTREL_SCREENSHOT"], "PNG")

            settings.set("model_path", str(tmp_path / "tiny.gguf"))
            assert settings.get_str("remote_model") == ""  # a model file chosen again clears the server choice
            qtbot.waitUntil(lambda: controller.model is not None and controller.model.path == tmp_path / "tiny.gguf",
                            timeout=5000)
    finally:
        window.close()
        history.close()


def test_a_key_over_plain_http_to_another_machine_is_warned_about(qtbot: QtBot) -> None:
    view = ConnectionsView()
    qtbot.addWidget(view)
    view.show()
    view.url_field.setText("http://192.168.1.20:8080/v1")
    assert view.warning.isHidden()  # no key: nothing to warn about
    assert not view.ca_button.isEnabled()  # a CA file only applies to https
    view.key_field.setText("sk-anything")
    assert view.warning.isVisible() and "travels unencrypted" in view.warning.text()
    view.url_field.setText("https://192.168.1.20:8443/v1")
    assert view.warning.isHidden() and view.ca_button.isEnabled()
    view.url_field.setText("http://localhost:8080/v1")
    assert view.warning.isHidden()
