"""QtGate: API requests from the server's thread take turns on the window's one engine worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub.utils import httpx
from pytestqt.qtbot import QtBot

from app.api.catalog import ModelCatalog
from app.api.server import ApiServer
from app.engines.contract import ChatMessage, EngineError, GenerationParams, LocalModel
from app.engines.fake import FakeEngine
from app.models.library import Library
from app.ui.engine.controller import EngineController
from app.ui.engine.gate import QtGate
from tests.api.conftest import AUTH, KEY
from tests.api.sinks import ListSink

HELLO = [ChatMessage("user", "hello")]


class LogSink(ListSink):
    """Also logs starts and ends across sinks, to see the order requests ran in (appends only)."""

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        super().__init__()
        self.name = name
        self.log = log
        self.stop = threading.Event()

    def started(self) -> None:
        super().started()
        self.log.append((self.name, "started"))

    def finished(self) -> None:
        self.log.append((self.name, "finished"))
        super().finished()

    @property
    def text(self) -> str:
        return "".join(str(value) for kind, value in self.calls if kind == "delta")


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine("one two three four five", tokens_per_s=500, n_ctx=128)


@pytest.fixture
def controller(qtbot: QtBot, engine: FakeEngine) -> Iterator[EngineController]:
    ctl = EngineController(lambda _spec: engine)
    with qtbot.waitSignal(ctl.loaded, timeout=5000):
        ctl.load(LocalModel(path=Path("/models/fake-model.gguf")))
    yield ctl
    assert ctl.shutdown()


def submit_from_thread(gate: QtGate, sinks: list[LogSink], params: GenerationParams | None = None) -> None:
    """Submit each sink's request from one non-Qt thread, in order (as the server's thread does)."""
    def run() -> None:
        for sink in sinks:
            gate.submit(HELLO, params or GenerationParams(), sink.stop, sink)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_requests_run_in_order_with_the_sink_contract(qtbot: QtBot, controller: EngineController) -> None:
    gate = QtGate(controller)
    log: list[tuple[str, str]] = []
    sinks = [LogSink(f"r{i}", log) for i in range(4)]
    submit_from_thread(gate, sinks)
    qtbot.waitUntil(lambda: all(sink.done.is_set() for sink in sinks), timeout=5000)
    assert log == [(f"r{i}", event) for i in range(4) for event in ("started", "finished")]
    for sink in sinks:
        assert sink.calls[0] == ("started", None) and sink.calls[-2:] == [("stats", "eos"), ("finished", None)]
        assert sink.text == "one two three four five"
    assert gate.model() is controller.model


def test_api_requests_wait_for_the_windows_own_reply(qtbot: QtBot, controller: EngineController,
                                                      engine: FakeEngine) -> None:
    engine.tokens_per_s = 50
    gate = QtGate(controller)
    window = controller.generate(HELLO, GenerationParams())
    log: list[tuple[str, str]] = []
    window.finished.connect(lambda: log.append(("window", "finished")))
    sink = LogSink("api", log)
    submit_from_thread(gate, [sink])
    qtbot.waitUntil(sink.done.is_set, timeout=5000)
    assert log == [("window", "finished"), ("api", "started"), ("api", "finished")]


def test_the_request_stop_event_stops_it_running_or_waiting(qtbot: QtBot, controller: EngineController,
                                                           engine: FakeEngine) -> None:
    engine.tokens_per_s = 20
    engine.reply = " ".join(["word"] * 200)
    gate = QtGate(controller)
    log: list[tuple[str, str]] = []
    running, waiting, after = LogSink("running", log), LogSink("waiting", log), LogSink("after", log)
    submit_from_thread(gate, [running, waiting, after])
    qtbot.waitUntil(lambda: ("delta", " word") in running.calls, timeout=5000)
    engine.reply = "short"  # for the next request (the running one has its reply already)
    waiting.stop.set()
    running.stop.set()
    stopped_at = time.perf_counter()
    qtbot.waitUntil(running.done.is_set, timeout=2000)
    assert time.perf_counter() - stopped_at < 0.5
    assert ("stats", "cancelled") in running.calls
    qtbot.waitUntil(after.done.is_set, timeout=5000)
    assert waiting.calls == [("finished", None)]  # never ran
    assert after.text == "short"


def test_raw_text_and_refusals(qtbot: QtBot, controller: EngineController, engine: FakeEngine) -> None:
    gate = QtGate(controller)
    log: list[tuple[str, str]] = []
    text, too_long = LogSink("text", log), LogSink("too_long", log)
    gate.submit_text("Once upon a time", GenerationParams(), text.stop, text)
    gate.submit([ChatMessage("user", "word " * 300)], GenerationParams(max_tokens=16), too_long.stop, too_long)
    qtbot.waitUntil(lambda: text.done.is_set() and too_long.done.is_set(), timeout=5000)
    assert text.text == "one two three four five"
    assert engine.requests[0][-1].content == "Once upon a time"
    assert too_long.calls == [("started", None), ("failed", "context_length_exceeded"), ("finished", None)]


def test_load_by_id_from_the_server_thread(qtbot: QtBot, controller: EngineController, engine: FakeEngine,
                                           tmp_path: Path) -> None:
    Library().add(tmp_path / "other.gguf", "imported")
    gate = QtGate(controller, ModelCatalog().spec)
    results: dict[str, object] = {}

    def load(model_id: str) -> None:
        try:
            results[model_id] = gate.load(model_id)
        except (KeyError, EngineError) as exc:
            results[model_id] = exc

    for model_id in ("other", "missing"):
        thread = threading.Thread(target=load, args=(model_id,))
        thread.start()
        qtbot.waitUntil(lambda thread=thread: not thread.is_alive(), timeout=5000)
    assert isinstance(results["missing"], KeyError)
    loaded = results["other"]
    assert loaded is controller.model and isinstance(loaded.spec, LocalModel)  # type: ignore[union-attr]
    assert engine.loads[-1] == loaded.spec  # type: ignore[union-attr]
    with pytest.raises(EngineError):
        QtGate(controller).load("other")  # loading through the API is off without a resolver


def test_close_drops_what_waits(qtbot: QtBot, controller: EngineController, engine: FakeEngine) -> None:
    engine.tokens_per_s = 20
    gate = QtGate(controller)
    log: list[tuple[str, str]] = []
    sinks = [LogSink(f"r{i}", log) for i in range(3)]
    submit_from_thread(gate, sinks)
    qtbot.waitUntil(lambda: ("r0", "started") in log, timeout=5000)
    gate.close()
    qtbot.waitUntil(lambda: all(sink.done.is_set() for sink in sinks), timeout=2000)
    assert sinks[1].calls == sinks[2].calls == [("finished", None)]
    assert sinks[0].stop.is_set()


def test_http_through_the_window_engine(qtbot: QtBot, controller: EngineController) -> None:
    """The whole stack in process: uvicorn's thread -> QtGate -> the engine thread -> back to the client."""
    gate = QtGate(controller)
    server = ApiServer(gate, port=0, api_key=KEY)
    server.start()
    answers: list[httpx.Response] = []

    def ask() -> None:
        with httpx.Client(base_url=server.address, headers=AUTH, timeout=10) as client:
            for stream in (False, True):
                answers.append(client.post("/chat/completions", json={
                    "messages": [{"role": "user", "content": "hi"}], "stream": stream}))

    thread = threading.Thread(target=ask)
    thread.start()
    try:
        qtbot.waitUntil(lambda: not thread.is_alive(), timeout=10000)
    finally:
        server.stop()
        gate.close()
    whole, streamed = answers
    assert whole.json()["choices"][0]["message"]["content"] == "one two three four five"
    assert whole.json()["model"] == "fake-model" and whole.json()["timings"]["predicted_n"] == 5
    assert streamed.text.endswith("data: [DONE]\n\n") and '"content":" five"' in streamed.text
