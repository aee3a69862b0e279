"""Small OpenAI-compatible servers for tests: loopback only, scripted, with fault knobs.

``ScriptedServer`` answers ``GET /v1/models``, ``POST /v1/chat/completions`` (streamed as
server-sent events over chunked HTTP/1.1, like llama-server and vLLM) and, when told to
look like llama-server, ``GET /props``, ``POST /apply-template`` and ``POST /tokenize``.

Knobs (set before the request they should affect): ``api_key`` (401 without it),
``chat_error`` (answer the chat with this status and JSON), ``pieces`` (the reply's content
deltas), ``delay_s`` (between chunks), ``usage``/``timings`` (sent with the final chunk),
``cut_after`` (drop the connection after N deltas), ``stall_after`` (stop sending after N
deltas, connection left open), ``never_answer`` (read the request, send nothing),
``malformed_after`` (send a chunk that is not JSON after N deltas), ``error_after`` (send an
``error`` object after N deltas, as llama-server does when generation fails), ``slots`` (llama-server's
``total_slots`` in ``/props``), ``live_timings`` (llama-server's running ``timings`` with every chunk
when the request asks for ``timings_per_token``), ``ollama`` (answer like Ollama: ``/api/version``,
``/api/show``, ``/api/tags`` and a newline-delimited ``/api/chat`` ending in ``ollama_metrics``).
``requests`` records what was asked; ``disconnected`` is set when a streaming client went away;
``max_in_flight`` is the most replies that were streaming at the same time.

``free_port()`` gives a port nothing listens on (for the connection-refused case).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from huggingface_hub.utils import httpx


def free_port() -> int:
    """A loopback port that was free a moment ago (nothing listens on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ask a server process to end, and kill it if it has not within 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def llama_cpp_server(model: Path, n_ctx: int, log: Path) -> Iterator[str]:
    """llama-cpp-python's own OpenAI server on ``model`` at 127.0.0.1; yields its base URL (``.../v1``)."""
    port = free_port()
    with log.open("wb") as output:
        # gemma's own format: without it the server falls back to llama-2's and the model answers "\n"
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", str(n_ctx), "--chat_format", "gemma", "--verbose", "false"],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the server exited: {log.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            try:
                if httpx.get(f"{url}/models", timeout=1.0, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        stop_process(process)


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


@dataclass
class ScriptedServer:
    """Context manager: ``with ScriptedServer(pieces=["Hel", "lo"]) as server: server.base_url``."""

    models: Sequence[str] = ("test-model",)
    owned_by: str = "me"
    llama_server: bool = False  # answer /props, /apply-template and /tokenize like llama-server
    n_ctx: int = 2048
    api_key: str | None = None
    chat_error: tuple[int, Any] | None = None
    pieces: Sequence[str] = ("Hello", ",", " world", "!")
    delay_s: float = 0.0
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    cut_after: int | None = None
    stall_after: int | None = None
    never_answer: bool = False
    malformed_after: int | None = None
    error_after: int | None = None
    slots: int | None = None
    live_timings: bool = False
    ollama: bool = False
    ollama_metrics: dict[str, Any] | None = None
    requests: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    disconnected: threading.Event = field(default_factory=threading.Event)
    closing: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first (with ScriptedServer() as server)"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def chats(self) -> list[Seen]:
        return [r for r in self.requests if r.path.endswith(("/chat/completions", "/api/chat"))]

    def streaming(self, change: int) -> None:
        """A reply started (+1) or ended (-1): keeps ``max_in_flight``."""
        with self.lock:
            self.in_flight += change
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def __enter__(self) -> ScriptedServer:
        script = self

        class Handler(_Handler):
            pass

        Handler.script = script
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="openai-test-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.closing.set()  # stalled handlers end
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    script: ScriptedServer
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self._dispatch(body)

    def _dispatch(self, body: Any) -> None:
        script = self.script
        path = self.path.split("?", 1)[0]
        script.requests.append(Seen(self.command, path, dict(self.headers.items()), body))
        if script.api_key is not None and self.headers.get("Authorization") != f"Bearer {script.api_key}":
            self._json(401, {"error": {"message": "Invalid API key", "type": "authentication_error"}})
            return
        try:
            if path == "/v1/models":
                self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "owned_by": script.owned_by} for m in script.models]})
            elif path == "/v1/chat/completions" and self.command == "POST":
                self._chat(body)
            elif script.llama_server and path == "/props":
                props: dict[str, Any] = {"default_generation_settings": {"n_ctx": script.n_ctx}}
                if script.slots is not None:
                    props["total_slots"] = script.slots
                self._json(200, props)
            elif script.ollama and path == "/api/version":
                self._json(200, {"version": "0.33.2"})
            elif script.ollama and path == "/api/show":
                self._json(200, {"parameters": f"num_ctx {script.n_ctx}",
                                 "model_info": {"gemma3.context_length": 32768}})
            elif script.ollama and path == "/api/tags":
                self._json(200, {"models": [{"name": m} for m in script.models]})
            elif script.ollama and path == "/api/chat" and self.command == "POST":
                self._ollama_chat(body)
            elif script.llama_server and path == "/apply-template":
                messages = body.get("messages", []) if isinstance(body, dict) else []
                prompt = "".join(f"<|{m['role']}|>{m['content']}" for m in messages) + "<|assistant|>"
                self._json(200, {"prompt": prompt})
            elif script.llama_server and path == "/tokenize":
                content = body.get("content", "") if isinstance(body, dict) else ""
                self._json(200, {"tokens": list(range(len(content.split())))})  # a word a token
            else:
                self._json(404, {"detail": "Not Found"})
        except OSError:
            self.close_connection = True

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chat(self, body: Any) -> None:
        script = self.script
        if script.never_answer:
            script.closing.wait(30)
            self.close_connection = True
            return
        if script.chat_error is not None:
            self._json(*script.chat_error)
            return
        model = body.get("model") if isinstance(body, dict) else None
        if model not in script.models:
            self._json(404, {"error": {"message": f"The model `{model}` does not exist.", "type": "not_found"}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._event({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        live = script.live_timings and isinstance(body, dict) and body.get("timings_per_token") is True
        script.streaming(+1)
        try:
            for i, piece in enumerate(script.pieces):
                if i == script.cut_after:
                    self.connection.shutdown(socket.SHUT_RDWR)  # dropped: no end chunk, no [DONE]
                    self.close_connection = True
                    return
                if i == script.stall_after:
                    script.closing.wait(30)
                    self.close_connection = True
                    return
                if i == script.malformed_after:
                    self._send(b"data: {this is not json\n\n")
                if i == script.error_after:
                    self._event({"error": {"code": 500, "message": "llama_decode failed", "type": "server_error"}})
                if script.delay_s and script.closing.wait(script.delay_s):
                    return
                event: dict[str, Any] = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                if live:  # llama-server's running figures: prompt known, generation so far
                    event["timings"] = {"prompt_n": 12, "cache_n": 3, "prompt_ms": 40.0, "predicted_n": i + 1,
                                        "predicted_ms": 20.0 * (i + 1), "predicted_per_second": 50.0}
                self._event(event)
            final: dict[str, Any] = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            if script.timings is not None:
                final["timings"] = script.timings
            self._event(final)
            if script.usage is not None:
                self._event({"choices": [], "usage": script.usage})
            self._send(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            script.disconnected.set()
            self.close_connection = True
        finally:
            script.streaming(-1)

    def _ollama_chat(self, body: Any) -> None:
        """Ollama's native chat: one JSON object a line, the last with its counts and durations."""
        script = self.script
        model = body.get("model") if isinstance(body, dict) else None
        if model not in script.models:
            self._json(404, {"error": f"model '{model}' not found"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        script.streaming(+1)
        try:
            for i, piece in enumerate(script.pieces):
                if i == script.error_after:
                    self._send(json.dumps({"error": "an error was encountered while running the model"}).encode()
                               + b"\n")
                    break
                if script.delay_s and script.closing.wait(script.delay_s):
                    return
                line = {"model": model, "message": {"role": "assistant", "content": piece}, "done": False}
                self._send(json.dumps(line).encode() + b"\n")
            else:
                final = {"model": model, "message": {"role": "assistant", "content": ""}, "done": True,
                         "done_reason": "stop", **(script.ollama_metrics or {})}
                self._send(json.dumps(final).encode() + b"\n")
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            script.disconnected.set()
            self.close_connection = True
        finally:
            script.streaming(-1)

    def _event(self, obj: Any) -> None:
        self._send(b"data: " + json.dumps(obj).encode() + b"\n\n")

    def _send(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
