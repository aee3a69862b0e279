"""The map step through an engine that decodes several chunks at once: same result, order, cancel, cache."""

from __future__ import annotations

import threading
from pathlib import Path

from app.documents.extract import extract_text
from app.engines.contract import LocalModel
from app.engines.fake import FakeEngine
from app.summarize.cache import SummaryCache
from app.summarize.results import SummaryProgress
from app.summarize.run import summarize
from tests.summarize.test_summarize import MAP_MARK, document, reply


class NoCache(SummaryCache):
    def get(self, key: str, name: str) -> str | None:
        return None

    def put(self, key: str, name: str, text: str) -> None:
        return None


class Recording(FakeEngine):
    """A fake that remembers which replies the summarizer ended early."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ended: list[int] = []

    def end_sequence(self, index: int) -> None:
        self.ended.append(index)
        super().end_sequence(index)


def fake(width: int, model: str = "fake.gguf", **kwargs: object) -> Recording:
    options: dict[str, object] = {"reply": reply, "tokens_per_s": 0, "prefill_tps": 0, "n_ctx": 512,
                                  "chat_format": "gguf-template", "batch_width": width, **kwargs}
    engine = Recording(**options)
    engine.load(LocalModel(path=Path(model)))
    return engine


def test_the_map_is_one_batch_with_the_result_of_one_chunk_at_a_time() -> None:
    doc = extract_text(document())
    serial, batched = fake(1), fake(3)
    one = summarize(serial, doc, cache=NoCache())
    many = summarize(batched, doc, cache=NoCache())
    assert one.chunks > 3 and serial.batch_runs == []
    assert batched.batch_runs == [many.chunks] and batched.max_in_flight == 3
    assert many.summary == one.summary and many.sources == one.sources
    assert [p.source.chunks for p in many.points] == [p.source.chunks for p in one.points]
    maps = [r[-1].content for r in batched.requests if r[-1].content.endswith(MAP_MARK)]
    assert maps == [r[-1].content for r in serial.requests if r[-1].content.endswith(MAP_MARK)]
    # every map answer ends at its blank line ("Extra text the pipeline must cut off" follows): ended there
    assert sorted(batched.ended) == list(range(many.chunks))


def test_points_are_reported_in_document_order_as_they_complete() -> None:
    points: list[tuple[int, ...]] = []
    engine = fake(4, tokens_per_s=2000)
    result = summarize(engine, extract_text(document()), cache=NoCache(),
                       on_progress=lambda p: points.append(p.point.source.chunks) if p.point else None)
    assert points[:result.chunks] == [(i,) for i in range(result.chunks)]


def test_cancel_mid_batch_keeps_the_chunks_done_and_a_rerun_resumes_from_the_cache() -> None:
    engine = fake(3, tokens_per_s=400)
    doc = extract_text(document())
    stop = threading.Event()

    def on_progress(p: SummaryProgress) -> None:
        if p.point is not None and p.chunk == 2:
            stop.set()

    result = summarize(engine, doc, stop=stop, on_progress=on_progress)
    assert result.cancelled and result.chunks_summarized == 2 < result.chunks
    assert [p.source.chunks for p in result.points] == [(0,), (1,)]
    assert engine.last_stats is not None and engine.last_stats.stop_reason == "cancelled"
    again = summarize(engine, doc)
    assert not again.cancelled and again.chunks_summarized == again.chunks
    assert again.cached_chunks >= 2  # the chunks finished before the stop (in order or not) were kept


class DictCache(SummaryCache):
    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    def get(self, key: str, name: str) -> str | None:
        return self.entries.get(name)

    def put(self, key: str, name: str, text: str) -> None:
        self.entries[name] = text


def test_a_single_chunk_left_to_summarize_goes_the_one_by_one_way() -> None:
    doc = extract_text(document())
    engine, cache = fake(3), DictCache()
    first = summarize(engine, doc, cache=cache)
    assert engine.batch_runs == [first.chunks]
    del cache.entries[min(name for name in cache.entries if name.startswith("map-"))]
    asked = len(engine.requests)
    again = summarize(engine, doc, cache=cache)
    assert again.cached_chunks == again.chunks - 1 and again.summary == first.summary
    assert engine.batch_runs == [first.chunks] and len(engine.requests) == asked + 1
