"""The remote engine against a real server: llama-cpp-python's own OpenAI server on the starter model.

The server runs as a child process on 127.0.0.1 for this module only. It checks what the
scripted servers cannot: real chunk timing (the client's decode rate against one measured
from outside), a real tokenizer, and that a stopped reply frees the server at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engines.contract import ChatMessage, Endpoint, GenerationParams
from app.engines.remote.engine import RemoteEngine
from tests.openai_servers import llama_cpp_server

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python's server extra is not installed")
pytestmark = [pytest.mark.real_model, pytest.mark.usefixtures("loopback_guard")]

STORY = [ChatMessage("user", "Write a long story about a kestrel that lives in a lighthouse.")]
N_CTX = 1024


@pytest.fixture(scope="module")
def server_url(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_cpp_server(starter_model, N_CTX, tmp_path_factory.mktemp("llama-cpp-server") / "server.log") as url:
        yield url


@pytest.fixture
def engine(server_url: str, starter_model: Path) -> Iterator[RemoteEngine]:
    e = RemoteEngine()
    e.load(Endpoint(server_url, str(starter_model), n_ctx=N_CTX))
    yield e
    e.unload()


def test_load_lists_the_model_and_recognises_the_server(engine: RemoteEngine, starter_model: Path) -> None:
    loaded = engine.loaded
    assert loaded is not None
    assert loaded.backend == "llama-cpp-python" and loaded.name == starter_model.name
    assert loaded.n_ctx == N_CTX and loaded.adjustments == ()  # the connection's size: the server has none
    assert engine.token_counting == "server-tokenizer"
    count = engine.count_tokens(STORY)
    assert engine.last_count_exact and 15 <= count <= 40


def test_stream_text_and_honest_client_side_speed(engine: RemoteEngine) -> None:
    arrivals: list[float] = []
    deltas: list[str] = []
    for delta in engine.stream(STORY, GenerationParams(max_tokens=48, seed=7, temperature=0.7)):
        arrivals.append(time.perf_counter())
        deltas.append(delta)
    stats = engine.last_stats
    assert stats is not None and "".join(deltas).strip()
    assert stats.stop_reason in ("eos", "length") and stats.source == "client"
    assert stats.source_of("ttft_s") == "client" and stats.source_of("decode_tps") == "client"
    assert stats.source_of("prompt_tokens") is None  # this server reports no usage while streaming
    assert stats.completion_tokens >= 10 and stats.decode_tps is not None
    outside = (stats.completion_tokens - 1) / (arrivals[-1] - arrivals[0])
    assert stats.decode_tps == pytest.approx(outside, rel=0.15)


def test_stop_closes_the_stream_at_once_and_frees_the_server(engine: RemoteEngine) -> None:
    params = GenerationParams(max_tokens=300, seed=3, temperature=0.7)
    list(engine.stream(STORY[:1], GenerationParams(max_tokens=4, seed=1)))
    normal = engine.last_stats
    assert normal is not None and normal.ttft_s is not None

    stop = threading.Event()
    stopped_at = 0.0
    for count, _delta in enumerate(engine.stream(STORY, params, stop), start=1):
        if count == 5:
            stopped_at = time.perf_counter()
            stop.set()
    ended = time.perf_counter()
    stopped = engine.last_stats
    assert stopped is not None and stopped.stop_reason == "cancelled" and stopped.completion_tokens == 5
    assert ended - stopped_at < 0.5

    list(engine.stream(STORY[:1], GenerationParams(max_tokens=4, seed=1)))
    after = engine.last_stats
    assert after is not None and after.ttft_s is not None
    # had the server kept generating the stopped reply (~295 tokens), this would wait seconds
    assert after.ttft_s < normal.ttft_s + 0.5, (normal.ttft_s, after.ttft_s)
