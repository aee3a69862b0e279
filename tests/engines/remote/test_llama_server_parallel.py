"""llama.cpp's own llama-server with two slots, driven by Kestrel: slots read, figures live, map steps side by side.

``llama-server --parallel 2`` runs two replies at once. Kestrel reads ``total_slots`` from
``/props``, shows the server's running ``timings`` while a reply streams, and summarizes a
document two parts at a time, the requests overlapping on the server. The tools are built by
``packaging/build_llama_tools.sh``; without them this module is skipped.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from app.documents.extract import extract_text
from app.engines.contract import ChatMessage, Endpoint, GenerationParams, GenerationStats, LiveStats
from app.engines.remote.engine import RemoteEngine
from app.summarize.cache import SummaryCache
from app.summarize.options import SummaryOptions
from app.summarize.run import summarize
from tests.llama_tools import LlamaTools, model_id, run_process, wait_healthy
from tests.openai_servers import free_port

pytestmark = [pytest.mark.real_model, pytest.mark.usefixtures("loopback_guard")]

SLOTS = 2
N_CTX = 2048  # split between the slots: 1,024 each


@pytest.fixture(scope="module")
def server_url(tools: LlamaTools, starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("llama-server-parallel") / "llama-server.log"
    port = free_port()
    with run_process([str(tools.server), "-m", str(starter_model), "--host", "127.0.0.1", "--port", str(port),
                   "-c", str(N_CTX), "-np", str(SLOTS), "-t", "1", "--offline"], log) as process:
        root = f"http://127.0.0.1:{port}"
        wait_healthy(process, root, log)
        yield f"{root}/v1"


class TimedEngine(RemoteEngine):
    """Records when each concurrent reply ran, to see them overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def stream_concurrent(self, messages: Sequence[ChatMessage], params: GenerationParams,
                          stop: threading.Event | None = None,
                          on_stats: Callable[[GenerationStats], None] | None = None) -> Iterator[str]:
        started = time.perf_counter()
        try:
            yield from super().stream_concurrent(messages, params, stop, on_stats)
        finally:  # the summarizer closes a reply early once it has what it needs
            with self._lock:
                self.spans.append((started, time.perf_counter()))


def test_kestrel_reads_the_slots_and_shows_the_servers_running_figures(server_url: str) -> None:
    engine = RemoteEngine()
    try:
        loaded = engine.load(Endpoint(server_url, model_id(server_url)))
        assert engine.parallel == SLOTS  # total_slots from /props
        assert loaded.n_ctx == N_CTX // SLOTS  # what one slot holds
        lives: list[LiveStats] = []
        params = GenerationParams(max_tokens=64, temperature=0.0, seed=1)
        text = "".join(engine.stream([ChatMessage("user", "Write a long list of birds of prey.")], params,
                                     on_progress=lives.append))
        stats = engine.last_stats
    finally:
        engine.unload()
    assert text.strip()
    running = [live.server for live in lives if live.phase == "decode" and live.server is not None]
    assert running, "no running figures arrived while the reply streamed"
    assert all(figures.completion_tokens is not None for figures in running)
    assert any(figures.decode_tps is not None and figures.decode_tps > 0 for figures in running)
    assert stats is not None and stats.server is not None and stats.server.decode_tps is not None


def test_a_summary_sends_two_parts_at_once_and_they_overlap_on_the_server(server_url: str, tmp_path: Path) -> None:
    paragraphs = [f"Part {i}. " + " ".join(f"The kestrel number {i} hovers over meadow {j} at dawn." for j in range(30))
                  for i in range(4)]
    document = extract_text("\n\n".join(paragraphs), "kestrels.txt")
    engine = TimedEngine()
    try:
        engine.load(Endpoint(server_url, model_id(server_url)))
        result = summarize(engine, document, SummaryOptions(preset="bullets"), cache=SummaryCache(tmp_path))
    finally:
        engine.unload()
    assert result.chunks >= 2 and result.chunks_summarized == result.chunks and not result.cancelled
    assert [p.source.chunks for p in result.points] == [(i,) for i in range(result.chunks)]
    spans = sorted(engine.spans)
    assert len(spans) == result.chunks
    overlapping = sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start < end)
    assert overlapping >= 1, spans
