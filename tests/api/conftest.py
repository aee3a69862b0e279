"""Fixtures for the API server: a fast one on the fake engine, in process, bound to 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from huggingface_hub.utils import httpx

from app.api.catalog import ModelCatalog
from app.api.gate import DirectGate, ReplySink
from app.api.server import ApiServer
from app.engines.contract import ChatMessage, GenerationParams, LocalModel
from app.engines.fake import FakeEngine

KEY = "test-key-0123456789abcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {KEY}"}


@dataclass
class TimedSink:
    """Passes every call on, noting when the reply ended (to time how fast a stop takes effect)."""

    inner: ReplySink
    finished_at: float | None = None

    def started(self) -> None:
        self.inner.started()

    def delta(self, text: str) -> None:
        self.inner.delta(text)

    def stats(self, stats: object) -> None:
        self.inner.stats(stats)  # type: ignore[arg-type]

    def failed(self, message: str, code: str = "engine_error") -> None:
        self.inner.failed(message, code)  # type: ignore[arg-type]

    def finished(self) -> None:
        self.finished_at = time.perf_counter()
        self.inner.finished()


class TimedGate(DirectGate):
    """A DirectGate that keeps a TimedSink per chat request, in arrival order."""

    def __init__(self, engine: FakeEngine) -> None:
        super().__init__(engine, resolve=ModelCatalog().spec)
        self.sinks: list[TimedSink] = []

    def submit(self, messages: Sequence[ChatMessage], params: GenerationParams, stop: threading.Event,
               sink: ReplySink) -> None:
        timed = TimedSink(sink)
        self.sinks.append(timed)
        super().submit(messages, params, stop, timed)


@dataclass
class FakeServer:
    engine: FakeEngine
    gate: TimedGate
    server: ApiServer

    @property
    def url(self) -> str:
        return self.server.address

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=30, **kwargs)  # type: ignore[arg-type]


def echo_reply(messages: Sequence[ChatMessage]) -> str:
    """The fake engine's answer: the last message's words, then more words."""
    return f"You said {messages[-1].content} " + " ".join(f"w{i}" for i in range(400))


def start_fake(*, tokens_per_s: float = 2000.0, load: bool = True, **options: object) -> FakeServer:
    engine = FakeEngine(echo_reply, tokens_per_s=tokens_per_s, prefill_tps=0)
    if load:
        engine.load(LocalModel(path=Path("/models/fake-model.gguf")))
    gate = TimedGate(engine)
    server = ApiServer(gate, port=0, api_key=KEY, **options)  # type: ignore[arg-type]
    server.start()
    return FakeServer(engine, gate, server)


def stop_fake(fake: FakeServer) -> None:
    fake.server.stop()
    fake.gate.close()


@pytest.fixture
def make_server() -> Iterator[Callable[..., FakeServer]]:
    """Start fake-engine servers on free ports; all are stopped after the test."""
    made: list[FakeServer] = []

    def make(**options: object) -> FakeServer:
        made.append(start_fake(**options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for fake in made:
        stop_fake(fake)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeServer]:
    """One server for the tests that only read from it (refusals): stopping one costs ~0.2 s."""
    fake = start_fake()
    yield fake
    stop_fake(fake)


@pytest.fixture
def fake_server(make_server: Callable[..., FakeServer]) -> FakeServer:
    return make_server()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (polling), or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
