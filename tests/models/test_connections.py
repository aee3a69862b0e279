"""Connections: the store (never a key in it), checking a server, and load_spec choosing remote or local."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app.base import credentials
from app.base.credentials import CredentialError
from app.base.settings import Settings
from app.engines.contract import Endpoint, EngineError, LocalModel
from app.models import connections
from app.models.connections import ConnectionProblem, ConnectionStore, RemoteModelMissing
from app.models.params import load_spec
from tests import gguf_files
from tests.openai_servers import ScriptedServer, free_port

pytestmark = pytest.mark.usefixtures("loopback_guard")


@pytest.fixture(autouse=True)
def no_keyring() -> Iterator[None]:
    """Keys go to the 0600 file here, as on a headless box, whatever this machine has."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def test_round_trip_keeps_everything_but_the_key(tmp_path: Path) -> None:
    store = ConnectionStore()
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked until used")
    store.add("lab", "http://10.0.0.5:8080/v1/", api_key="sk-very-secret")
    store.add("tls", "https://gpu.example:8443/v1", ca_file=str(ca), n_ctx=32768)
    text = store.path.read_text()
    assert "sk-very-secret" not in text
    assert json.loads(text)["connections"][0] == {"name": "lab", "url": "http://10.0.0.5:8080/v1",
                                                  "credential": "file:lab"}
    lab, tls = ConnectionStore().all()
    assert credentials.resolve(lab.credential) == "sk-very-secret"
    assert (tls.name, tls.url, tls.credential, tls.ca_file, tls.n_ctx) == (
        "tls", "https://gpu.example:8443/v1", None, str(ca), 32768)
    store.add("lab", "http://10.0.0.5:8081/v1")  # edited without a key: the old key is deleted, order kept
    assert [c.name for c in store.all()] == ["lab", "tls"]
    with pytest.raises(CredentialError):
        credentials.resolve("file:lab")
    store.remove("tls")
    assert [c.name for c in store.all()] == ["lab"]


@pytest.mark.parametrize(("name", "url", "words"), [
    ("", "http://h:1/v1", "give the connection a name"),
    ("a/b", "http://h:1/v1", "without '/'"),
    ("x", "ftp://h/v1", "not a server address"),
    ("x", "http://h:port/v1", "port that is not a number"),
    ("x", "http://user:pw@h:1/v1", "not in the address"),
])
def test_what_cannot_be_saved_is_said_in_one_line(name: str, url: str, words: str) -> None:
    with pytest.raises(ConnectionProblem, match=words):
        ConnectionStore().add(name, url)
    assert not ConnectionStore().path.exists()


def test_the_clear_text_warning_is_for_a_key_over_http_to_another_machine() -> None:
    assert connections.key_sent_in_clear("http://192.168.1.20:8080/v1", True)
    assert not connections.key_sent_in_clear("http://192.168.1.20:8080/v1", False)
    for url in ("http://127.0.0.1:8080/v1", "http://[::1]:8080/v1", "http://localhost:8080/v1",
                "https://192.168.1.20/v1"):
        assert not connections.key_sent_in_clear(url, True), url


def test_check_lists_the_models_and_refuses_a_wrong_key() -> None:
    with ScriptedServer(models=("alpha", "beta"), owned_by="llamacpp", llama_server=True, n_ctx=8192,
                        api_key="right") as server:
        good = ConnectionStore().add("good", server.base_url, api_key="right")
        result = connections.check(good)
        assert (result.kind, result.model_ids, result.n_ctx) == ("llama-server", ("alpha", "beta"), 8192)
        bad = ConnectionStore().add("bad", server.base_url, api_key="wrong-key-123")
        with pytest.raises(EngineError, match="refused the API key") as caught:
            connections.check(bad)
        assert "wrong-key-123" not in str(caught.value)
    refused = connections.Connection("off", f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(EngineError, match="connection refused"):
        connections.check(refused)


def test_load_spec_follows_the_last_choice(tmp_path: Path) -> None:
    settings = Settings.load_default()
    model = gguf_files.write_tiny_llama(tmp_path / "tiny.gguf")
    settings.set("model_path", str(model))
    unsubscribe = connections.clear_remote_on_local_choice(settings)
    ConnectionStore().add("lab", "http://127.0.0.1:9/v1", api_key="k", n_ctx=16384)
    connections.choose_remote(settings, "lab", "org/model-7b")
    assert settings.get_str("model_path") == ""
    assert load_spec(settings) == Endpoint("http://127.0.0.1:9/v1", "org/model-7b", "file:lab", 16384)
    assert load_spec(settings, n_ctx=2048) == Endpoint("http://127.0.0.1:9/v1", "org/model-7b", "file:lab", 2048)
    local = load_spec(settings, str(model))  # an explicit --model wins
    assert isinstance(local, LocalModel) and local.path == model
    settings.set("model_path", str(model))  # a model file chosen anywhere clears the server choice
    assert connections.chosen(settings) is None
    spec = load_spec(settings)
    assert isinstance(spec, LocalModel) and spec.path == model
    connections.choose_remote(settings, "gone", "m")
    with pytest.raises(RemoteModelMissing, match="'gone' no longer exists"):
        load_spec(settings)
    unsubscribe()


def test_requests_at_once_are_kept_per_connection_and_reach_the_spec() -> None:
    store = ConnectionStore()
    store.add("gpu", "http://10.0.0.7:8000/v1", parallel=4)
    store.add("plain", "http://10.0.0.8:8000/v1")
    gpu, plain = ConnectionStore().all()
    assert (gpu.parallel, plain.parallel) == (4, None)
    assert gpu.endpoint("llama").parallel == 4 and plain.endpoint("llama").parallel is None
    with pytest.raises(ConnectionProblem, match="requests at once must be between 1 and 64"):
        store.add("gpu", "http://10.0.0.7:8000/v1", parallel=65)


def test_check_reports_the_slots_llama_server_has() -> None:
    with ScriptedServer(owned_by="llamacpp", llama_server=True, slots=3) as server:
        result = connections.check(ConnectionStore().add("slots", server.base_url))
    assert result.slots == 3
