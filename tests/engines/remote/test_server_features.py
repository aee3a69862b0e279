"""What each kind of server reports, and several replies at once where a server has the slots.

Against scripted servers on 127.0.0.1: Ollama's native chat and its own durations,
llama-server's running figures with every token, and the summarizer sending map steps
side by side up to the connection's limit, its results still in document order.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from app.documents.extract import extract_text
from app.engines.contract import ChatMessage, ConcurrentEngine, Endpoint, EngineError, GenerationParams, LiveStats
from app.engines.remote.engine import RemoteEngine
from app.summarize.cache import SummaryCache
from app.summarize.options import SummaryOptions
from app.summarize.run import summarize
from tests.openai_servers import ScriptedServer

pytestmark = pytest.mark.usefixtures("loopback_guard")

HELLO = [ChatMessage("user", "hello there")]
PARAMS = GenerationParams(max_tokens=32, temperature=0.0, seed=7, stop=("\n\n",))
OLLAMA_METRICS = {"prompt_eval_count": 26, "prompt_eval_cached_count": 6, "prompt_eval_duration": 400_000_000,
                  "eval_count": 4, "eval_duration": 80_000_000, "load_duration": 5_000_000,
                  "total_duration": 600_000_000}


def llama_server(**knobs: object) -> ScriptedServer:
    """A scripted server that answers like llama.cpp's llama-server."""
    return ScriptedServer(owned_by="llamacpp", llama_server=True, **knobs)  # type: ignore[arg-type]


def engine_for(server: ScriptedServer, **spec: object) -> RemoteEngine:
    engine = RemoteEngine(connect_s=2.0, request_s=2.0, first_byte_s=5.0, idle_s=5.0)
    engine.load(Endpoint(server.base_url, "test-model", **spec))  # type: ignore[arg-type]
    return engine


# ---- Ollama ---------------------------------------------------------------------------------
def test_ollama_replies_through_its_native_chat_with_its_own_durations() -> None:
    with ScriptedServer(owned_by="library", ollama=True, n_ctx=8192, ollama_metrics=OLLAMA_METRICS) as server:
        engine = engine_for(server)
        assert engine.server_kind == "Ollama"
        text = "".join(engine.stream(HELLO, PARAMS))
    assert text == "Hello, world!"
    chat = server.chats()[-1]
    assert chat.path == "/api/chat"
    assert chat.body["options"] == {"num_predict": 32, "temperature": 0.0, "top_p": 0.95, "num_ctx": 8192,
                                    "seed": 7, "stop": ["\n\n"]}  # num_ctx: Ollama would cut the prompt silently
    stats = engine.last_stats
    assert stats is not None and stats.server is not None
    assert stats.stop_reason == "eos"
    server_figures = stats.server
    assert (server_figures.prompt_tokens, server_figures.cached_tokens, server_figures.evaluated_tokens) == (26, 6, 20)
    assert server_figures.prefill_s == pytest.approx(0.4)
    assert server_figures.prefill_tps == pytest.approx(50.0)  # evaluated tokens only, as Ollama's --verbose
    assert server_figures.decode_tps == pytest.approx(50.0)  # eval_count / eval_duration
    assert stats.source_of("prompt_tokens") == "server"
    assert stats.source_of("decode_tps") == "client"


def test_an_older_ollama_without_a_cached_count_leaves_the_prefill_rate_unknown() -> None:
    metrics = {k: v for k, v in OLLAMA_METRICS.items() if k != "prompt_eval_cached_count"}
    with ScriptedServer(owned_by="library", ollama=True, ollama_metrics=metrics) as server:
        engine = engine_for(server)
        "".join(engine.stream(HELLO, PARAMS))
    stats = engine.last_stats
    assert stats is not None and stats.server is not None
    assert stats.server.prompt_tokens == 26
    assert stats.server.evaluated_tokens is None and stats.server.prefill_tps is None
    assert stats.server.prefill_s == pytest.approx(0.4)


def test_an_ollama_error_line_ends_the_reply_in_its_own_words_keeping_the_text() -> None:
    with ScriptedServer(owned_by="library", ollama=True, error_after=2) as server:
        engine = engine_for(server)
        deltas: list[str] = []
        with pytest.raises(EngineError, match="error was encountered while running the model") as caught:
            deltas.extend(engine.stream(HELLO, PARAMS))
    assert "\n" not in str(caught.value)
    assert deltas == ["Hello", ","]
    assert engine.last_stats is not None and engine.last_stats.stop_reason == "error"


# ---- llama-server's running figures ---------------------------------------------------------
def test_llama_server_is_asked_for_its_running_figures_and_the_live_readout_gets_them() -> None:
    pieces = [f" w{i}" for i in range(12)]
    with llama_server(live_timings=True, pieces=pieces, delay_s=0.06) as server:
        engine = engine_for(server)
        lives: list[LiveStats] = []
        text = "".join(engine.stream(HELLO, PARAMS, on_progress=lives.append))
    assert text == "".join(pieces)
    assert server.chats()[-1].body["timings_per_token"] is True
    decoding = [live for live in lives if live.phase == "decode"]
    assert decoding, "no live figures while decoding"
    assert all(live.server is not None for live in decoding)
    last = decoding[-1]
    assert last.server is not None and last.server.decode_tps == pytest.approx(50.0)
    assert (last.prompt_tokens, last.evaluated_tokens) == (15, 12)  # the server's, no longer zeros


def test_other_servers_are_not_sent_llama_server_only_fields() -> None:
    with ScriptedServer() as server:
        engine = engine_for(server)
        "".join(engine.stream(HELLO, PARAMS))
    assert "timings_per_token" not in server.chats()[-1].body


# ---- several replies at once ----------------------------------------------------------------
def test_the_connection_limit_wins_then_the_servers_slots_then_one() -> None:
    with llama_server(slots=4) as server:
        assert isinstance(engine_for(server), ConcurrentEngine)
        assert engine_for(server).parallel == 4
        assert engine_for(server, parallel=2).parallel == 2
    with ScriptedServer() as server:
        assert engine_for(server).parallel == 1


def test_concurrent_replies_keep_their_own_figures() -> None:
    with llama_server(slots=2, delay_s=0.05) as server:
        engine = engine_for(server)
        results: dict[int, tuple[str, int]] = {}

        def ask(n: int) -> None:
            figures: list[object] = []
            text = "".join(engine.stream_concurrent(HELLO, PARAMS, None, figures.append))
            results[n] = (text, len(figures))

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert results == {0: ("Hello, world!", 1), 1: ("Hello, world!", 1)}
    assert server.max_in_flight == 2
    assert engine.last_stats is None  # the shared figure belongs to plain ``stream`` only


def _document(tmp_path: Path) -> Path:
    paragraphs = [f"Part {i}. " + " ".join(f"The falcon number {i} hunts over field {j}." for j in range(40))
                  for i in range(6)]
    path = tmp_path / "falcons.txt"
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    return path


def _map_requests(server: ScriptedServer) -> list[str]:
    return [c.body["messages"][-1]["content"] for c in server.chats() if "<<<" in c.body["messages"][-1]["content"]]


@pytest.mark.parametrize("parallel", [1, 3])
def test_summaries_send_map_steps_side_by_side_up_to_the_limit_in_document_order(tmp_path: Path,
                                                                                 parallel: int) -> None:
    document = extract_text(_document(tmp_path).read_text(encoding="utf-8"), "falcons.txt")
    options = SummaryOptions(preset="bullets")
    with llama_server(n_ctx=640, pieces=["A point", " about falcons."], delay_s=0.1) as server:
        engine = engine_for(server, parallel=parallel)
        result = summarize(engine, document, options, cache=SummaryCache(tmp_path / f"cache{parallel}"))
    maps = _map_requests(server)
    assert result.chunks >= 4 and len(maps) == result.chunks
    assert server.max_in_flight == parallel
    assert [info.index for info in result.chunk_infos] == list(range(result.chunks))  # document order
    assert [p.source.chunks for p in result.points] == [(i,) for i in range(result.chunks)]
    assert not result.cancelled


def test_stopping_a_parallel_summary_ends_every_request_at_once(tmp_path: Path) -> None:
    document = extract_text(_document(tmp_path).read_text(encoding="utf-8"), "falcons.txt")
    pieces = ["A point"] + [f" more{i}" for i in range(200)]
    with llama_server(n_ctx=640, pieces=pieces, delay_s=0.02) as server:
        engine = engine_for(server, parallel=2)
        stop = threading.Event()
        timer = threading.Timer(0.5, stop.set)
        timer.start()
        started = time.perf_counter()
        result = summarize(engine, document, SummaryOptions(preset="bullets"), stop=stop,
                           cache=SummaryCache(tmp_path / "cache"))
        after_stop = time.perf_counter() - started - 0.5
        timer.cancel()
        deadline = time.monotonic() + 5
        while server.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.in_flight == 0  # nothing left running on the server
    assert result.cancelled
    assert after_stop < 1.0
    assert server.disconnected.is_set()
