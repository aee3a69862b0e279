"""The server's parts on their own: request checking, model ids, the key, the Host rule, the direct gate."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from app.api import keys
from app.api.bodies import event, timings, usage
from app.api.catalog import ModelCatalog
from app.api.errors import Problem
from app.api.gate import DirectGate
from app.api.schema import parse_chat, parse_completion, parse_json
from app.api.security import HostCheck, host_name
from app.base import credentials
from app.engines.contract import ChatMessage, GenerationParams, GenerationStats, LocalModel
from app.engines.fake import FakeEngine
from app.models.library import Library
from tests.api.sinks import ListSink


# ---- requests ---------------------------------------------------------------------------------
def test_request_fields_override_the_defaults_and_nothing_else() -> None:
    defaults = GenerationParams(max_tokens=100, temperature=0.7, top_k=40, top_p=0.95, seed=None)
    request = parse_chat({"messages": [{"role": "developer", "content": "be brief"},
                                       {"role": "user", "content": [{"type": "text", "text": "a"},
                                                                    {"type": "text", "text": "b"}]},
                                       {"role": "assistant", "content": None}],
                          "max_tokens": 7, "temperature": 0, "seed": 42, "stop": "END", "top_k": 1})
    assert request.prompt.messages == (ChatMessage("system", "be brief"), ChatMessage("user", "a\nb"),
                                       ChatMessage("assistant", ""))
    params = request.params(defaults)
    assert params == GenerationParams(max_tokens=7, temperature=0.0, top_k=1, top_p=0.95, seed=42, stop=("END",))
    assert parse_chat({"messages": [{"role": "user", "content": "x"}]}).params(defaults) == defaults


def test_max_completion_tokens_and_stream_options() -> None:
    request = parse_chat({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 9,
                          "max_tokens": 3, "stream": True, "stream_options": {"include_usage": True}})
    assert request.max_tokens == 9 and request.stream and request.include_usage
    assert parse_completion({"prompt": ["only one"]}).prompt.text == "only one"


def test_ignored_fields_do_not_refuse() -> None:
    parse_chat({"messages": [{"role": "user", "content": "x", "name": "me"}], "presence_penalty": 1,
                "frequency_penalty": 0.5, "user": "u", "n": 1, "logprobs": False, "tools": [],
                "response_format": {"type": "text"}, "unknown_field": {"deep": [1]}})


@pytest.mark.parametrize("body", [b"1e999999", b'{"a": Infinity}', b'{"a": -NaN}', b"null", b" "])
def test_json_that_is_not_an_object_or_not_finite(body: bytes) -> None:
    with pytest.raises(Problem) as caught:
        parse_json(body)
    assert caught.value.status == 400


# ---- figures ----------------------------------------------------------------------------------
def test_unknown_figures_are_left_out_not_zero() -> None:
    stats = GenerationStats(completion_tokens=5, total_s=1.0, stop_reason="eos", backend="server", model="m")
    assert usage(stats) == {"completion_tokens": 5}
    assert timings(stats) == {"predicted_n": 5}
    full = GenerationStats(completion_tokens=5, total_s=1.0, stop_reason="eos", backend="CPU", model="m",
                           prompt_tokens=10, cached_tokens=4, evaluated_tokens=6, prefill_s=0.5, prefill_tps=12.0,
                           decode_s=0.2, decode_tps=20.0)
    assert usage(full) == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                           "prompt_tokens_details": {"cached_tokens": 4}}
    assert timings(full) == {"cache_n": 4, "prompt_n": 6, "prompt_ms": 500.0, "prompt_per_token_ms": 83.333,
                             "prompt_per_second": 12.0, "predicted_n": 5, "predicted_ms": 200.0,
                             "predicted_per_token_ms": 50.0, "predicted_per_second": 20.0}


def test_an_event_stays_on_one_line_whatever_the_text() -> None:
    text = "a\nb\r\u2028c\u2029d\x85e\x0bf\x1cg"
    data = event({"content": text})
    line = data.decode().removesuffix("\n\n")
    assert data.endswith(b"\n\n") and line.splitlines() == [line]
    assert json.loads(line.removeprefix("data: "))["content"] == text


# ---- model ids --------------------------------------------------------------------------------
def test_model_ids_are_names_unique_and_resolve_to_their_files(tmp_path: Path) -> None:
    library = Library(tmp_path / "models.json")
    paths = [tmp_path / "a" / "Model.Q4.gguf", tmp_path / "b" / "Model.Q4.gguf", tmp_path / "c" / "plain"]
    for path in paths:
        library.add(path, "imported")
    library.add(paths[0], "imported")  # once only
    catalog = ModelCatalog(library)
    assert catalog.paths() == {"Model.Q4": paths[0], "Model.Q4-2": paths[1], "plain": paths[2]}
    spec = catalog.spec("Model.Q4-2")
    assert isinstance(spec, LocalModel) and spec.path == paths[1]
    with pytest.raises(KeyError):
        catalog.spec(str(paths[0]))  # a path is never an id


# ---- the key ----------------------------------------------------------------------------------
def test_the_key_is_made_once_and_kept_in_the_keyring(memory_keyring: Any, kestrel_home: Path) -> None:
    first = keys.server_key()
    assert len(first.key) >= 40 and first.where == "the system keyring"
    assert memory_keyring.secrets == {("kestrel", keys.KEY_NAME): first.key}
    assert first.key not in (kestrel_home / "config" / keys.REFERENCE_FILE).read_text()
    assert keys.server_key() == first
    memory_keyring.secrets.clear()  # removed from the keyring: a new key is made
    second = keys.server_key()
    assert second.key != first.key and memory_keyring.secrets


def test_without_a_keyring_the_key_file_is_private(monkeypatch: pytest.MonkeyPatch, kestrel_home: Path) -> None:
    monkeypatch.setattr(credentials, "_keyring_store", lambda name, key: False)
    made = keys.server_key()
    assert made.reference == f"file:{keys.KEY_NAME}" and "file only you can read" in made.where
    path = credentials.keys_path()
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())[keys.KEY_NAME] == made.key
    assert keys.server_key().key == made.key


def test_a_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KESTREL_TEST_KEY", "k" * 32)
    assert keys.env_key("KESTREL_TEST_KEY").key == "k" * 32
    monkeypatch.setenv("KESTREL_TEST_KEY", "short")
    with pytest.raises(keys.ApiKeyError, match="shorter than 16"):
        keys.env_key("KESTREL_TEST_KEY")
    with pytest.raises(keys.ApiKeyError, match="not set"):
        keys.env_key("KESTREL_NO_SUCH_VARIABLE")


# ---- Host rule ----------------------------------------------------------------------------------
def test_host_names() -> None:
    assert host_name("LocalHost.:80") == "localhost"
    assert host_name("[::1]:8321") == "[::1]"
    assert host_name("127.0.0.1") == "127.0.0.1"


@pytest.mark.parametrize(("bound", "host", "allowed"), [
    ("127.0.0.1", "localhost:8321", True),
    ("127.0.0.1", "127.0.0.2", True),
    ("127.0.0.1", "[::1]", True),
    ("127.0.0.1", "192.168.1.5:8321", False),
    ("127.0.0.1", "evil.example", False),
    ("127.0.0.1", "localhost.evil.example", False),
    ("192.168.1.5", "192.168.1.5:8321", True),
    ("192.168.1.5", "10.0.0.1", False),
    ("0.0.0.0", "10.0.0.1:8321", True),  # an IP literal cannot be rebound
    ("0.0.0.0", "mybox.lan", False),
    ("::", "[fe80::1]:8321", True),
])
def test_the_host_rule(bound: str, host: str, allowed: bool) -> None:
    assert HostCheck(app=None, bound=bound).allows(host) is allowed  # type: ignore[arg-type]


def test_listed_host_names_are_allowed() -> None:
    assert HostCheck(app=None, bound="0.0.0.0", allowed=["MyBox.lan"]).allows("mybox.lan:8321")  # type: ignore[arg-type]


# ---- the direct gate ------------------------------------------------------------------------------
def test_direct_gate_keeps_the_sink_order_and_skips_stopped_requests() -> None:
    engine = FakeEngine("one two three", n_ctx=64)
    engine.load(LocalModel(path=Path("m.gguf")))
    gate = DirectGate(engine)
    ok, skipped, too_long = ListSink(), ListSink(), ListSink()
    stopped = threading.Event()
    stopped.set()
    gate.submit([ChatMessage("user", "hi")], GenerationParams(), threading.Event(), ok)
    gate.submit([ChatMessage("user", "hi")], GenerationParams(), stopped, skipped)
    gate.submit([ChatMessage("user", "word " * 100)], GenerationParams(max_tokens=8), threading.Event(), too_long)
    for sink in (ok, skipped, too_long):
        assert sink.done.wait(5)
    gate.close()
    assert ok.calls == [("started", None), ("delta", "one"), ("delta", " two"), ("delta", " three"),
                        ("stats", "eos"), ("finished", None)]
    assert skipped.calls == [("finished", None)]
    assert too_long.calls == [("started", None), ("failed", "context_length_exceeded"), ("finished", None)]
