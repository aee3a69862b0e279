"""The API server on the fake engine (in process, 127.0.0.1): answers, framing, refusals, queueing, stopping."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub.utils import httpx

from app.api.errors import ApiError
from app.api.gate import DirectGate
from app.api.server import ApiServer
from app.engines.contract import LocalModel
from app.engines.fake import FakeEngine
from app.engines.reporting import ReportingEngine
from app.models.library import Library
from tests.api.conftest import AUTH, KEY, FakeServer, wait_for

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 6}


def sse_events(response: httpx.Response) -> list[str]:
    """The ``data:`` payloads of a stream, checking the framing: each event is one data line and a blank line."""
    lines = list(response.iter_lines())
    assert lines[-1] == "" or lines[-1] == "data: [DONE]"
    events = []
    for i in range(0, len(lines), 2):
        assert lines[i].startswith("data: "), lines[i]
        if i + 1 < len(lines):
            assert lines[i + 1] == "", f"an event must end with a blank line: {lines[i:i + 2]}"
        events.append(lines[i][len("data: "):])
    return events


def content_of(events: list[str]) -> str:
    text = ""
    for data in events[:-1]:
        for choice in json.loads(data)["choices"]:
            text += choice.get("delta", {}).get("content") or choice.get("text") or ""
    return text


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert {"type", "param", "code"} <= error.keys()
    if code is not None:
        assert error["code"] == code
    return error


# ---- answers --------------------------------------------------------------------------------
def test_chat_answers_with_usage_and_timings(fake_server: FakeServer) -> None:
    with fake_server.client() as client:
        body = client.post("/chat/completions", json=CHAT).json()
    assert body["object"] == "chat.completion" and body["model"] == "fake-model"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "You said hi w0 w1 w2"}
    assert choice["finish_reason"] == "length"
    usage = body["usage"]
    assert usage["completion_tokens"] == 6 and usage["total_tokens"] == usage["prompt_tokens"] + 6
    timings = body["timings"]
    assert timings["predicted_n"] == 6 and timings["predicted_per_second"] > 0
    assert timings["prompt_n"] + timings["cache_n"] == usage["prompt_tokens"]


def test_stream_is_well_framed_and_ends_with_done(fake_server: FakeServer) -> None:
    request = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with fake_server.client() as client, client.stream("POST", "/chat/completions", json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(data) for data in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {chunk["id"] for chunk in chunks} == {chunks[0]["id"]}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    finish, usage = chunks[-2], chunks[-1]
    assert finish["choices"][0]["finish_reason"] == "length" and finish["timings"]["predicted_n"] == 6
    assert finish["usage"]["completion_tokens"] == 6  # every answer carries usage, as llama-server sends it
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 6
    assert content_of(events) == "You said hi w0 w1 w2"


def test_text_completion_whole_and_streamed(fake_server: FakeServer) -> None:
    request = {"model": "fake-model", "prompt": "Once upon a time", "max_tokens": 4}
    with fake_server.client() as client:
        body = client.post("/completions", json=request).json()
        with client.stream("POST", "/completions", json={**request, "stream": True}) as response:
            events = sse_events(response)
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "You said Once upon"
    assert body["usage"]["completion_tokens"] == 4
    assert json.loads(events[0])["object"] == "text_completion"
    assert content_of(events) == body["choices"][0]["text"]
    # the raw prompt reached the engine as text, not wrapped in a chat template
    assert fake_server.engine.requests[0][-1].content == "Once upon a time"


def test_models_are_listed_by_id_never_by_path(make_server: Callable[..., FakeServer], tmp_path: Path) -> None:
    library = Library()
    for folder in ("a", "b"):
        library.add(tmp_path / folder / "other.gguf", "imported")
    library.add(Path("/models/fake-model.gguf"), "imported")
    fake = make_server()
    with fake.client() as client:
        response = client.get("/models")
    ids = [row["id"] for row in response.json()["data"]]
    assert ids == ["fake-model", "other", "other-2"]
    assert response.json()["data"][0]["loaded"] is True
    assert str(tmp_path) not in response.text and ".gguf" not in response.text


def test_health_names_the_model(fake_server: FakeServer) -> None:
    with fake_server.client() as client:
        assert client.get("/health").json() == {"status": "ok", "model": "fake-model"}


# ---- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "param"), [
    ({"messages": "hi"}, "messages"),
    ({"messages": []}, "messages"),
    ({}, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content"),
    ({**CHAT, "max_tokens": "12"}, "max_tokens"),
    ({**CHAT, "max_tokens": 0}, "max_tokens"),
    ({**CHAT, "temperature": True}, "temperature"),
    ({**CHAT, "temperature": 9}, "temperature"),
    ({**CHAT, "top_p": "x"}, "top_p"),
    ({**CHAT, "seed": -1}, "seed"),
    ({**CHAT, "stop": [1]}, "stop"),
    ({**CHAT, "stop": ""}, "stop"),
    ({**CHAT, "stream": "yes"}, "stream"),
    ({**CHAT, "stream_options": []}, "stream_options"),
    ({**CHAT, "n": 2}, "n"),
    ({**CHAT, "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
    ({**CHAT, "model": 3}, "model"),
])
def test_wrong_fields_are_400_naming_the_field(shared_server: FakeServer, body: dict[str, Any], param: str) -> None:
    with shared_server.client() as client:
        error = assert_error(client.post("/chat/completions", json=body), 400)
    assert error["param"] == param and error["type"] == "invalid_request_error"


@pytest.mark.parametrize("content", [b"{bad", b"", b"[1, 2]", b'{"messages": NaN}', b"\xff\xfe\x00",
                                     b"[" * 100_000, b'{"messages": [{"role": "user", "content": "\\ud800"}]}'])
def test_malformed_json_is_400(shared_server: FakeServer, content: bytes) -> None:
    with shared_server.client() as client:
        assert_error(client.post("/chat/completions", content=content), 400)
        assert_error(client.post("/completions", content=content), 400)


def test_completions_refuse_what_they_cannot_do(fake_server: FakeServer) -> None:
    with fake_server.client() as client:
        assert_error(client.post("/completions", json={"prompt": [1, 2, 3]}), 400)
        assert_error(client.post("/completions", json={"prompt": ["a", "b"]}), 400)
        assert_error(client.post("/completions", json={"prompt": ""}), 400)
        assert_error(client.post("/completions", json={"prompt": "x", "echo": True}), 400)


def test_the_key_is_required_on_every_request(fake_server: FakeServer) -> None:
    base = fake_server.url.removesuffix("/v1")
    for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": f"Basic {KEY}"},
                    {"Authorization": KEY}, {"Authorization": f"Bearer {KEY}x"}):
        for method, path in (("GET", "/v1/models"), ("GET", "/health"), ("POST", "/v1/chat/completions"),
                             ("GET", "/no/such/path")):
            response = httpx.request(method, base + path, headers=headers, json=CHAT if method == "POST" else None)
            assert_error(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"
    with fake_server.client() as client:
        assert client.get("/models").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8321", "127.0.0.1.nip.io", "localhost.evil.example"])
def test_a_foreign_host_is_421(shared_server: FakeServer, host: str) -> None:
    with shared_server.client() as client:
        assert_error(client.get("/models", headers={"Host": host}), 421, "misdirected_request")


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:9000", "127.0.0.1", "[::1]:8321", "app.localhost"])
def test_loopback_hosts_are_answered(shared_server: FakeServer, host: str) -> None:
    with shared_server.client() as client:
        assert client.get("/models", headers={"Host": host}).status_code == 200


def test_unknown_paths_and_methods(fake_server: FakeServer) -> None:
    with fake_server.client() as client:
        for path in ("/nope", "/../../etc/passwd", "/files/models.json", "/chat/completions/x"):
            assert_error(client.get(path), 404)
        assert_error(client.get("/chat/completions"), 405, "method_not_allowed")
        assert_error(client.delete("/models"), 405)


def test_a_10_mb_body_is_413_and_the_connection_still_works(fake_server: FakeServer) -> None:
    with fake_server.client() as client:
        assert_error(client.post("/chat/completions", content=b"x" * (10 << 20)), 413, "request_too_large")

        def chunked() -> Any:
            for _ in range(40):
                yield b" " * 65536

        assert_error(client.post("/chat/completions", content=chunked()), 413)
        assert client.post("/chat/completions", json=CHAT).status_code == 200


def test_another_model_is_404_naming_the_loaded_one(fake_server: FakeServer) -> None:
    with fake_server.client() as client:
        error = assert_error(client.post("/chat/completions", json={**CHAT, "model": "gpt-4o"}), 404, "model_not_found")
    assert "fake-model" in error["message"] and error["param"] == "model"


def test_allow_load_loads_a_library_model(make_server: Callable[..., FakeServer], tmp_path: Path) -> None:
    Library().add(tmp_path / "other.gguf", "imported")
    fake = make_server(allow_load=True)
    with fake.client() as client:
        assert_error(client.post("/chat/completions", json={**CHAT, "model": "not-in-library"}), 404, "model_not_found")
        body = client.post("/chat/completions", json={**CHAT, "model": "other"}).json()
        assert body["model"] == "other"
        assert client.get("/models").json()["data"][0]["id"] == "other"
    assert isinstance(fake.engine.loads[-1], LocalModel) and fake.engine.loads[-1].path.name == "other.gguf"


def test_no_model_is_503(make_server: Callable[..., FakeServer]) -> None:
    fake = make_server(load=False)
    with fake.client() as client:
        assert_error(client.post("/chat/completions", json=CHAT), 503, "model_not_loaded")
        assert_error(client.get("/health"), 503)


def test_a_prompt_too_long_is_400_not_trimmed(make_server: Callable[..., FakeServer]) -> None:
    fake = make_server()
    fake.engine.n_ctx = 64
    long = {**CHAT, "messages": [{"role": "user", "content": "word " * 200}]}
    with fake.client() as client:
        assert_error(client.post("/chat/completions", json=long), 400, "context_length_exceeded")
        assert_error(client.post("/chat/completions", json={**long, "stream": True}), 400, "context_length_exceeded")


def test_raw_text_needs_a_tokenizer(make_server: Callable[..., FakeServer]) -> None:
    fake = make_server()
    fake.gate._engine = ReportingEngine(fake.engine, lambda live: None, lambda stats: None)
    with fake.client() as client:
        assert_error(client.post("/completions", json={"prompt": "x"}), 400, "unsupported")
        assert client.post("/chat/completions", json=CHAT).status_code == 200


def test_an_engine_failure_midway_ends_the_stream_with_an_error(make_server: Callable[..., FakeServer]) -> None:
    fake = make_server()
    fake.engine.fail_after_tokens = 3
    with fake.client() as client:
        assert_error(client.post("/chat/completions", json=CHAT), 500, "engine_error")
        with client.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as response:
            assert response.status_code == 200
            events = sse_events(response)
    assert "error" in json.loads(events[-2]) and events[-1] == "[DONE]"


# ---- queueing and cancelling -------------------------------------------------------------------
def raw_request(url: str, body: dict[str, Any], path: str = "/v1/chat/completions") -> socket.socket:
    """Send a request on a socket of its own and leave it waiting for the answer."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    data = json.dumps(body).encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def test_a_full_queue_is_429_and_leaving_clients_free_it(make_server: Callable[..., FakeServer]) -> None:
    fake = make_server(tokens_per_s=20, max_queue=2)
    slow = {**CHAT, "max_tokens": 400}
    sockets = [raw_request(fake.url, slow)]
    wait_for(lambda: fake.server.activity().in_progress == 1)
    sockets += [raw_request(fake.url, slow), raw_request(fake.url, slow)]
    wait_for(lambda: fake.server.activity().queued == 2)
    with fake.client() as client:
        response = client.post("/chat/completions", json=CHAT)
        assert_error(response, 429, "queue_full")
        assert response.headers["retry-after"] == "1"
        for sock in sockets:
            sock.close()
        wait_for(lambda: fake.server.activity().in_progress == fake.server.activity().queued == 0, timeout=2)
        assert client.post("/chat/completions", json=CHAT).status_code == 200
    assert fake.engine.last_stats is not None and fake.engine.last_stats.completion_tokens == 6


def read_until(sock: socket.socket, marker: bytes, count: int = 1) -> bytes:
    """Read from ``sock`` until ``marker`` was seen ``count`` times."""
    data = b""
    while data.count(marker) < count:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection: {data[-500:]!r}"
        data += chunk
    return data


def test_a_client_leaving_mid_stream_stops_generation_at_once(make_server: Callable[..., FakeServer]) -> None:
    fake = make_server(tokens_per_s=50)
    sock = raw_request(fake.url, {**CHAT, "max_tokens": 400, "stream": True})  # 8 s if nobody stopped it
    read_until(sock, b'"content":" w', 3)
    sock.close()
    left = time.perf_counter()
    with fake.client() as client:
        sink = fake.gate.sinks[0]
        wait_for(lambda: sink.finished_at is not None, timeout=2)
        assert sink.finished_at is not None and sink.finished_at - left < 0.5
        started = time.perf_counter()
        with client.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as response:
            first = next(line for line in response.iter_lines() if '"content":"You' in line)
        assert first and time.perf_counter() - started < 0.5
    first_record = fake.server.activity().recent[0]
    assert first_record.stop_reason == "cancelled" and first_record.seconds < 1
    assert fake.engine.requests and len(fake.gate.sinks) == 2


def test_eight_clients_are_answered_in_arrival_order(make_server: Callable[..., FakeServer]) -> None:
    fake = make_server(tokens_per_s=400)
    results: dict[int, httpx.Response] = {}

    def ask(i: int) -> None:
        with fake.client() as client:
            results[i] = client.post("/chat/completions", json={**CHAT, "max_tokens": 40,
                                                                "messages": [{"role": "user", "content": f"c{i}"}]})

    threads = []
    for i in range(8):
        threads.append(threading.Thread(target=ask, args=(i,)))
        threads[-1].start()
        wait_for(lambda i=i: len(fake.gate.sinks) == i + 1)  # request i reached the gate before i + 1 is sent
    for thread in threads:
        thread.join(30)
    assert sorted(results) == list(range(8))
    for i, response in results.items():
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"].startswith(f"You said c{i} ")
    assert [messages[-1].content for messages in fake.engine.requests] == [f"c{i}" for i in range(8)]
    assert all(record.status == 200 for record in fake.server.activity().recent)


#: Values each field must refuse.
BAD_VALUES: dict[str, list[Any]] = {
    "messages": [None, 0, "x", [], {}, [1], [None], [{"role": "x", "content": "y"}], [{"content": "y"}]],
    "max_tokens": [0, -1, 1.5, "5", True, 10**30, [], {}],
    "temperature": [-1, 2.5, "hot", True, [], {}],
    "top_p": [-0.1, 1.5, "x", False],
    "seed": [-1, 2**40, 1.5, "1"],
    "stop": [5, [""], ["a"] * 20, [1], {}],
    "stream": ["yes", 1, [], {}],
    "stream_options": [3, "x", [], {"include_usage": "yes"}],
    "n": [2, 0, "1", 1.5],
    "tools": [[{"type": "function"}], {"a": 1}, "x"],
    "model": [3, [], {}, "gpt-4", "/etc/passwd", "../models/x.gguf"],
    "response_format": [{"type": "json_object"}, "json", 3],
    "logprobs": [True, 1, "yes"],
}


def _malformed(rng: random.Random, url: str) -> tuple[str, str, dict[str, str], bytes]:
    """One request that must be refused: (method, path, headers, body)."""
    auth = dict(AUTH)
    kind = rng.randrange(10)
    body_fields: list[Any] = [None, 0, -1, 1.5, "x", True, [], {}, [1], {"a": 1}, 10**30, "\u202e", [None]]
    if kind == 0:
        return "POST", "/v1/chat/completions", auth, rng.randbytes(rng.randrange(0, 3000))
    if kind == 1:
        body = dict(CHAT)
        for _ in range(rng.randrange(1, 4)):
            field = rng.choice(list(BAD_VALUES))
            body[field] = rng.choice(BAD_VALUES[field])
        return "POST", rng.choice(["/v1/chat/completions", "/v1/completions"]), auth, json.dumps(body).encode()
    if kind == 2:
        message = {rng.choice(["role", "content", "name"]): rng.choice(body_fields) for _ in range(2)}
        return "POST", "/v1/chat/completions", auth, json.dumps({"messages": [message]}).encode()
    if kind == 3:
        prompt = rng.choice([value for value in body_fields if not isinstance(value, str)] + [["a", "b"], [[1]]])
        return "POST", "/v1/completions", auth, json.dumps({"prompt": prompt}).encode()
    if kind == 4:
        return rng.choice(["GET", "POST"]), rng.choice(["/v1/models", "/v1/chat/completions"]), \
            rng.choice([{}, {"Authorization": "Bearer nope"}, {"Authorization": "Token " + KEY}]), b"{}"
    if kind == 5:
        return "GET", "/v1/models", {**auth, "Host": rng.choice(["evil.example", "attacker.test:8321", "a.b.c"])}, b""
    if kind == 6:
        path = "/" + "/".join(rng.choice(["v1", "v2", "..", "etc", "passwd", "%2e%2e", "files", "x" * 50])
                              for _ in range(rng.randrange(1, 5)))
        return rng.choice(["GET", "POST", "PUT", "DELETE"]), path, auth, b""
    if kind == 7:
        return rng.choice(["PUT", "DELETE", "PATCH"]), "/v1/chat/completions", auth, json.dumps(CHAT).encode()
    if kind == 8:
        depth = rng.randrange(1000, 50000)
        return "POST", "/v1/chat/completions", auth, b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"
    return "POST", "/v1/chat/completions", auth, json.dumps(CHAT).encode()[: rng.randrange(1, 40)]


def test_300_malformed_requests_then_a_correct_one(fake_server: FakeServer) -> None:
    rng = random.Random(13)
    statuses: dict[int, int] = {}
    base = fake_server.url.removesuffix("/v1")
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(300):
            method, path, headers, body = _malformed(rng, fake_server.url)
            response = client.request(method, path, headers=headers, content=body)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code in (400, 401, 404, 405, 413, 421), (method, path, body[:200], response.text)
            assert response.json()["error"]["message"]
        # raw garbage below HTTP: answered by the HTTP parser or dropped, never a crash
        host, port = base.removeprefix("http://").split(":")
        for junk in (b"\x00" * 100, b"GET / HTTP/9.9\r\n\r\n", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: -5\r\n\r\n", rng.randbytes(500)):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(junk)
                sock.shutdown(socket.SHUT_WR)
                answer = sock.recv(100)
                assert not answer.startswith(b"HTTP/1.1 5"), answer
        with fake_server.client() as good:
            body = good.post("/chat/completions", json=CHAT).json()
    assert body["choices"][0]["message"]["content"] == "You said hi w0 w1 w2"
    assert set(statuses) >= {400, 401, 404, 405, 421}


# ---- CORS ------------------------------------------------------------------------------------------
def test_cors_is_off_unless_origins_are_listed(make_server: Callable[..., FakeServer]) -> None:
    preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    closed, open_ = make_server(), make_server(cors_origins=["http://localhost:3000"])
    with closed.client() as client:
        assert client.options("/chat/completions", headers=preflight).status_code in (401, 405)
        assert "access-control-allow-origin" not in client.get("/models", headers={"Origin": "http://x.test"}).headers
    with open_.client() as client:
        answer = client.options("/chat/completions", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = client.options("/chat/completions", headers={**preflight, "Origin": "http://evil.test"})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        get = client.get("/models", headers={"Origin": "http://localhost:3000"})
        assert get.headers["access-control-allow-origin"] == "http://localhost:3000"


# ---- the server object ---------------------------------------------------------------------------
def test_activity_reports_and_notifies(fake_server: FakeServer) -> None:
    changes = []
    fake_server.server.on_change = lambda: changes.append(threading.current_thread().name)
    with fake_server.client() as client:
        client.post("/chat/completions", json={**CHAT, "max_tokens": 30})
    wait_for(lambda: len(fake_server.server.activity().recent) == 1)
    record = fake_server.server.activity().recent[0]
    assert (record.method, record.path, record.status, record.model) == ("POST", "/v1/chat/completions", 200,
                                                                          "fake-model")
    assert record.completion_tokens == 30 and record.decode_tps and record.decode_tps > 100
    assert record.ttft_s is not None and 0 < record.ttft_s < record.seconds and record.client == "127.0.0.1"
    assert record.stop_reason == "length"
    assert changes and set(changes) == {"kestrel-api"}


def test_address_and_exposure_warning() -> None:
    gate = None  # the constructor neither binds nor reaches the engine
    local = ApiServer(gate, api_key=KEY)  # type: ignore[arg-type]
    assert local.address == "http://127.0.0.1:8321/v1" and local.exposure_warning is None
    assert ApiServer(gate, host="::1", api_key=KEY).exposure_warning is None  # type: ignore[arg-type]
    exposed = ApiServer(gate, host="0.0.0.0", api_key=KEY)  # type: ignore[arg-type]
    assert exposed.exposure_warning and "every network interface" in exposed.exposure_warning
    with pytest.raises(ApiError):
        ApiServer(gate, api_key="")  # type: ignore[arg-type]


def test_a_port_in_use_is_one_line(fake_server: FakeServer) -> None:
    gate = DirectGate(FakeEngine())
    try:
        with pytest.raises(ApiError, match=f"port {fake_server.server.port} on 127.0.0.1 is already in use"):
            ApiServer(gate, port=fake_server.server.port, api_key=KEY).start()
    finally:
        gate.close()


def test_stop_ends_streams_in_progress(make_server: Callable[..., FakeServer]) -> None:
    fake = make_server(tokens_per_s=20)
    got: list[str] = []

    def read() -> None:
        with fake.client() as client, client.stream("POST", "/chat/completions",
                                                    json={**CHAT, "max_tokens": 400, "stream": True}) as response:
            got.extend(response.iter_lines())

    reader = threading.Thread(target=read)
    reader.start()
    wait_for(lambda: fake.server.activity().in_progress == 1)
    started = time.perf_counter()
    fake.server.stop()
    reader.join(10)
    assert time.perf_counter() - started < 5 and not reader.is_alive()
    assert any("The server is stopping." in line for line in got)
    assert not fake.server.running


def test_a_large_upload_announced_with_expect_is_refused_before_it_is_sent(fake_server: FakeServer) -> None:
    host, port = fake_server.url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
                     f"Content-Length: {10 << 20}\r\nExpect: 100-continue\r\n\r\n".encode())
        answer = read_until(sock, b"}}")
    assert answer.startswith(b"HTTP/1.1 413") and b"request_too_large" in answer
