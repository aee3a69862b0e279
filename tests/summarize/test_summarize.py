"""The summary pipeline: every chunk mapped, reduce only when needed, cache, cancel, sources."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from app.documents import extract as extract_module
from app.documents.extract import extract, extract_text
from app.engines.contract import (
    ChatMessage,
    Endpoint,
    GenerationParams,
    GenerationStats,
    LoadedModel,
    LoadProgress,
    LocalModel,
    ModelSpec,
    ProgressCallback,
    TokenEngine,
)
from app.engines.fake import FakeEngine
from app.summarize.cache import SummaryCache, model_identity
from app.summarize.options import SummaryOptions
from app.summarize.plan import plan_summary
from app.summarize.prompts import MAX_POINTS, map_prompt
from app.summarize.render import render_markdown, render_text
from app.summarize.results import SummaryProgress
from app.summarize.run import summarize

MAP_MARK = "Summary of this part:"


def reply(messages: Sequence[ChatMessage]) -> str:
    """Map answers name the paragraphs they saw, so coverage can be checked from outside."""
    content = messages[-1].content
    if content.endswith(MAP_MARK):
        tags = re.findall(r"\bP(\d+)\b", content)
        return f"Covers P{tags[0]} to P{tags[-1]}.\n\nExtra text the pipeline must cut off."
    if "combined into one summary" in content:
        return "A combined summary of several parts."
    if content.endswith("bulleted list, one short line per point:"):
        return "- First point.\n- Second point.\n- Third point."
    return "The whole document in brief."


def document(paragraphs: int = 60, words: int = 40) -> str:
    filler = " ".join(["kestrel", "field", "wind", "vole"] * (words // 4))
    sections = []
    for s in range(0, paragraphs, 5):
        body = "\n\n".join(f"P{i} {filler}." for i in range(s, min(s + 5, paragraphs)))
        sections.append(f"# Part {s // 5 + 1}\n\n{body}")
    return "\n\n".join(sections)


def fake(n_ctx: int = 512, **kwargs: object) -> FakeEngine:
    engine = FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=n_ctx,  # type: ignore[arg-type]
                        chat_format="gguf-template", **kwargs)
    engine.load(LocalModel(path=Path("fake.gguf")))
    return engine


def map_requests(engine: FakeEngine) -> list[str]:
    return [r[-1].content for r in engine.requests if r[-1].content.endswith(MAP_MARK)]


def covered(result_points: list) -> set[int]:  # type: ignore[type-arg]
    return {c for p in result_points for c in p.source.chunks}


def test_map_reduce_summarizes_every_chunk_and_tracks_sources() -> None:
    engine = fake()
    doc = extract_text(document())
    events: list[SummaryProgress] = []
    result = summarize(engine, doc, SummaryOptions(preset="bullets"), on_progress=events.append)
    assert result.mode == "map-reduce" and result.chunks > 3
    assert result.chunks_summarized == result.chunks and not result.cancelled
    requests = map_requests(engine)
    assert len(requests) == result.chunks
    seen = [int(t) for r in requests for t in re.findall(r"\bP(\d+)\b", r)]
    assert seen == list(range(60))  # every paragraph read once, in order
    assert [s["chunk"] for s in result.sources] == list(range(result.chunks))
    assert covered(result.points) == set(range(result.chunks))
    assert result.input_tokens == sum(int(s["tokens"]) for s in result.sources)  # type: ignore[call-overload]
    # bullets need no reduce call: one point per chunk, with the chunk's own range
    assert len(result.points) == result.chunks and len(engine.requests) == result.chunks
    first = result.points[0]
    assert first.text == "Covers P0 to P" + re.findall(r"P(\d+)", requests[0])[-1] + "."
    assert first.source.first == "§ Part 1"
    assert f"({first.source.label})" in render_text(result)
    assert f"*{first.source.label}*" in result.summary
    assert "[" + first.source.label + "](source:0)" in render_markdown(result, links=True)
    # progress: chunk i/N in order, an ETA each time, a point per chunk
    done = [e for e in events if e.point is not None]
    assert [e.chunk for e in done] == list(range(1, result.chunks + 1))
    assert all(e.chunks == result.chunks and e.eta_s is not None for e in events)


def test_the_instruction_comes_before_the_chunk_so_the_kv_prefix_is_shared() -> None:
    engine = fake()
    summarize(engine, extract_text(document()))
    requests = map_requests(engine)
    prefixes = {r[: r.index("<<<")] for r in requests}
    assert len(prefixes) == 1 and len(requests) > 2


def test_a_short_document_is_summarized_in_one_pass() -> None:
    engine = fake(n_ctx=4096)
    result = summarize(engine, extract_text(document(paragraphs=10, words=8)), SummaryOptions(preset="bullets"))
    assert result.mode == "single" and result.chunks == result.chunks_summarized == 1
    assert len(engine.requests) == 1
    assert [p.text for p in result.points] == ["First point.", "Second point.", "Third point."]
    assert all(p.source.first == "§ Part 1" and p.source.last == "§ Part 2" for p in result.points)
    assert result.sources[0]["chunks"] == [0]


def test_changing_only_the_preset_reuses_every_chunk_summary() -> None:
    engine = fake()
    doc = extract_text(document())
    first = summarize(engine, doc, SummaryOptions(preset="bullets"))
    before = len(map_requests(engine))
    started = time.perf_counter()
    tldr = summarize(engine, doc, SummaryOptions(preset="tldr"))
    detailed = summarize(engine, doc, SummaryOptions(preset="detailed"))
    assert time.perf_counter() - started < 2
    assert len(map_requests(engine)) == before  # no chunk summarized again
    assert tldr.cached_chunks == detailed.cached_chunks == first.chunks
    assert len(tldr.points) == 1 and tldr.points[0].source.chunks == tuple(range(first.chunks))
    assert tldr.points[0].text == "The whole document in brief."
    assert detailed.points[0].source.chunks == tuple(range(first.chunks))
    assert [p.text for p in detailed.points[1:]] == [p.text for p in first.points]
    # and back to tldr: even the final call is cached now
    requests = len(engine.requests)
    summarize(engine, doc, SummaryOptions(preset="tldr"))
    assert len(engine.requests) == requests


def test_the_cache_is_keyed_by_model_and_language() -> None:
    doc = extract_text(document())
    engine = fake()
    summarize(engine, doc)
    other = FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512, chat_format="gguf-template")
    other.load(LocalModel(path=Path("other.gguf")))
    summarize(other, doc)
    assert map_requests(other)  # another model: summarized again
    summarize(engine, doc, SummaryOptions(lang="zh"))
    zh = [r for r in map_requests(engine) if "Write in Simplified Chinese." in r]
    assert zh and all(r.index("Write in Simplified Chinese.") < r.index("<<<") for r in zh)


def test_cancel_keeps_the_chunks_done_and_a_rerun_resumes_from_the_cache() -> None:
    engine = fake()
    doc = extract_text(document())
    stop = threading.Event()

    def on_progress(p: SummaryProgress) -> None:
        if p.point is not None and p.chunk == 2:
            stop.set()

    result = summarize(engine, doc, stop=stop, on_progress=on_progress)
    assert result.cancelled and result.chunks_summarized == 2 and result.chunks > 2
    assert [p.source.chunks for p in result.points] == [(0,), (1,)]
    assert [s["summarized"] for s in result.sources] == [True, True] + [False] * (result.chunks - 2)
    assert "Stopped: 2 of" in result.summary and "parts summarized; their points are kept" in result.summary
    again = summarize(engine, doc)
    assert again.cached_chunks == 2 and again.chunks_summarized == again.chunks and not again.cancelled


def test_cancel_stops_within_a_token_mid_answer() -> None:
    slow = FakeEngine(reply=lambda _m: " ".join(f"w{i}" for i in range(500)), tokens_per_s=50, prefill_tps=0,
                      n_ctx=512)
    slow.load(LocalModel(path=Path("fake.gguf")))
    stop = threading.Event()
    stopped_at: list[float] = []

    def on_progress(p: SummaryProgress) -> None:
        if p.delta and not stop.is_set():
            stop.set()
            stopped_at.append(time.perf_counter())

    result = summarize(slow, extract_text(document()), stop=stop, on_progress=on_progress)
    assert time.perf_counter() - stopped_at[0] < 0.2
    assert result.cancelled and result.chunks_summarized == 0 and result.points == []
    assert slow.last_stats is not None and slow.last_stats.completion_tokens < 10


def test_tldr_reduces_recursively_until_the_summaries_fit() -> None:
    long_reply = " ".join(["summary"] * 60) + "."
    engine = FakeEngine(reply=lambda m: long_reply if m[-1].content.endswith(MAP_MARK) else reply(m),
                        tokens_per_s=0, prefill_tps=0, n_ctx=512, chat_format="gguf-template")
    engine.load(LocalModel(path=Path("fake.gguf")))
    result = summarize(engine, extract_text(document(paragraphs=150)), SummaryOptions(preset="tldr", map_max_tokens=64))
    reduces = [r for r in engine.requests if "combined into one summary" in r[-1].content]
    assert reduces, "the map summaries did not fit one prompt: a reduce round was needed"
    assert result.chunks_summarized == result.chunks > 10
    assert len(result.points) == 1 and result.points[0].source.chunks == tuple(range(result.chunks))


def test_bullets_are_grouped_when_there_are_too_many_parts() -> None:
    engine = fake(n_ctx=384)
    result = summarize(engine, extract_text(document(paragraphs=200)), SummaryOptions(preset="bullets"))
    assert result.chunks > MAX_POINTS["bullets"]
    assert len(result.points) <= MAX_POINTS["bullets"]
    assert covered(result.points) == set(range(result.chunks))
    ranges = [p.source.chunks for p in result.points]
    assert [c for r in ranges for c in r] == list(range(result.chunks))  # consecutive, in order


def test_auto_language_follows_the_document() -> None:
    engine = fake()
    text = "\n\n".join(f"第{i}段：红隼在田野上空悬停，寻找田鼠和昆虫。" * 12 + f" P{i}" for i in range(30))
    result = summarize(engine, extract_text(text))
    assert result.lang == "zh-Hans"
    assert all("Write in Simplified Chinese." in r for r in map_requests(engine))


def test_auto_language_tells_traditional_from_simplified_chinese() -> None:
    engine = fake()
    text = "\n\n".join(f"第{i}段：這個國家的紅隼在田野上空懸停，尋找田鼠和昆蟲。" * 12 + f" P{i}" for i in range(30))
    result = summarize(engine, extract_text(text))
    assert result.lang == "zh-Hant"
    assert all("Write in Traditional Chinese." in r for r in map_requests(engine))


class RecordingEngine(FakeEngine):
    """A FakeEngine that records the token prompts the pipeline sends."""

    def __init__(self) -> None:
        super().__init__(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512)
        self.token_prompts: list[tuple[int, int]] = []

    def stream_tokens(self, tokens: list[int], params: GenerationParams, *, stop: threading.Event | None = None,
                      on_progress: ProgressCallback | None = None, extra_stops: tuple[str, ...] = ()) -> Iterator[str]:
        self.token_prompts.append((len(tokens), params.max_tokens))
        return super().stream_tokens(tokens, params, stop=stop, on_progress=on_progress, extra_stops=extra_stops)


class ChatOnlyEngine:
    """An engine with the plain chat contract only (no tokenizer), as a remote server may be."""

    def __init__(self, inner: FakeEngine) -> None:
        self.inner = inner
        self.streams = 0

    @property
    def loaded(self) -> LoadedModel | None:
        return self.inner.loaded

    @property
    def last_stats(self) -> GenerationStats | None:
        return self.inner.last_stats

    def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        return self.inner.load(spec, on_progress, cancel)

    def unload(self) -> None:
        self.inner.unload()

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self.inner.count_tokens(messages)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams, stop: threading.Event | None = None,
               on_progress: ProgressCallback | None = None) -> Iterator[str]:
        self.streams += 1
        return self.inner.stream(messages, params, stop, on_progress)


def test_token_engines_get_an_exact_size_check() -> None:
    engine = RecordingEngine()
    engine.load(LocalModel(path=Path("fake.gguf")))
    result = summarize(engine, extract_text(document()))
    assert len(engine.token_prompts) == result.chunks
    assert all(size + max_tokens < 512 for size, max_tokens in engine.token_prompts)


def test_an_engine_without_a_tokenizer_is_measured_by_prompt_sizes() -> None:
    engine = ChatOnlyEngine(FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512,
                                       chat_format="gguf-template"))
    engine.load(LocalModel(path=Path("fake.gguf")))
    assert not isinstance(engine, TokenEngine)
    result = summarize(engine, extract_text(document()))
    assert result.mode == "map-reduce" and result.chunks_summarized == result.chunks > 3
    assert engine.streams == result.chunks  # every chunk went through plain chat
    seen = [int(t) for r in map_requests(engine.inner) for t in re.findall(r"\bP(\d+)\b", r)]
    assert seen == list(range(60))


def test_a_server_model_is_identified_by_url_and_model_id() -> None:
    doc = extract_text(document())
    first = FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512)
    first.load(Endpoint(url="http://gpu-box:8080/v1", model_id="qwen2.5-7b"))
    assert model_identity(first) == "http://gpu-box:8080/v1|qwen2.5-7b"
    summarize(first, doc)
    same = FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512)
    same.load(Endpoint(url="http://gpu-box:8080/v1", model_id="qwen2.5-7b"))
    summarize(same, doc)
    assert map_requests(first) and not map_requests(same)  # the same model on the same server: cached
    other = FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512)
    other.load(Endpoint(url="http://gpu-box:8080/v1", model_id="llama-3-8b"))
    summarize(other, doc)
    assert map_requests(other)


def test_a_local_model_is_identified_by_its_file(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    engine = fake()
    engine.load(LocalModel(path=model))
    identity = model_identity(engine)
    assert identity.startswith(f"{model.resolve()}|64|")
    model.write_bytes(b"GGUF" + bytes(80))  # replaced by another file of that name
    assert model_identity(engine) != identity


def test_a_large_streamed_file_is_chunked_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_module, "LARGE_BYTES", 4096)
    path = tmp_path / "big.txt"
    path.write_text(document(paragraphs=80), encoding="utf-8")
    doc = extract(path)
    assert doc.large
    engine = fake()
    plan = plan_summary(engine, doc, SummaryOptions())
    assert plan.estimated and plan.chunks is None
    events: list[SummaryProgress] = []
    result = summarize(engine, doc, plan=plan, on_progress=events.append)
    assert result.chunks_summarized == result.chunks > 3
    assert all(e.estimated for e in events)
    assert all(info.text == "" for info in result.chunk_infos)  # chunk texts are not kept in memory
    seen = [int(t) for r in map_requests(engine) for t in re.findall(r"\bP(\d+)\b", r)]
    assert seen == list(range(80))


def test_a_cache_folder_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    result = summarize(fake(), extract_text(document()), cache=SummaryCache(blocker / "sub"))
    assert result.chunks_summarized == result.chunks


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError):
        SummaryOptions(preset="haiku")
    with pytest.raises(ValueError):
        SummaryOptions(lang="fr")


# ---- the real starter model ------------------------------------------------------------
@pytest.mark.real_model
def test_real_model_chunks_fit_the_context(real_engine: object) -> None:
    doc = extract_text(document(paragraphs=160, words=36))
    plan = plan_summary(real_engine, doc, SummaryOptions())  # type: ignore[arg-type]
    assert plan.mode == "map-reduce" and plan.chunks is not None and len(plan.chunks) >= 2
    for chunk in plan.chunks:
        tokens, _ = real_engine.prompt_tokens([ChatMessage("user", map_prompt(chunk.text, plan.lang))])  # type: ignore[attr-defined]
        assert len(tokens) + plan.map_tokens < plan.n_ctx


@pytest.mark.real_model
def test_real_model_summarizes_every_chunk(starter_model: Path) -> None:
    from app.engines.llama.engine import LlamaEngine

    engine = LlamaEngine()
    engine.load(LocalModel(path=starter_model, n_ctx=1024))
    try:
        started = time.perf_counter()
        doc = extract_text(document(paragraphs=36, words=24))
        result = summarize(engine, doc, SummaryOptions(preset="bullets", map_max_tokens=32, temperature=0.0))
        elapsed = time.perf_counter() - started
    finally:
        engine.unload()
    assert result.mode == "map-reduce" and result.chunks >= 2
    assert result.chunks_summarized == result.chunks
    assert {c for s in result.sources for c in s["chunks"]} == set(range(result.chunks))  # type: ignore[attr-defined]
    assert covered(result.points) == set(range(result.chunks))
    assert all(p.text for p in result.points)
    assert result.prefill_tps > 0 and result.decode_tps > 0
    assert elapsed < 120


def test_a_model_that_echoes_the_request_is_cut_short_and_gets_honest_fallbacks() -> None:
    """Base models often repeat the prompt: stop decoding at once and say no summary was made."""
    echo = FakeEngine(reply=lambda m: m[-1].content[:600], tokens_per_s=0, prefill_tps=0, n_ctx=2048,
                      chat_format="gguf-template")
    echo.load(LocalModel(path=Path("fake.gguf")))
    result = summarize(echo, extract_text(document()), SummaryOptions(preset="detailed"))
    assert result.chunks_summarized == result.chunks > 1
    assert echo.last_stats is not None and echo.last_stats.completion_tokens < 12  # stopped early
    assert all(p.text.startswith("(No summary from the model; this part opens: “P") for p in result.points)
    assert len(result.points) == result.chunks  # no overview made of copies
    assert "**Overview**" not in result.summary


def test_a_looping_answer_is_cut_at_the_first_repeat() -> None:
    loop = FakeEngine(reply=lambda m: "The kestrel hunts voles. " * 30, tokens_per_s=0, prefill_tps=0, n_ctx=512)
    loop.load(LocalModel(path=Path("fake.gguf")))
    result = summarize(loop, extract_text(document()))
    assert {p.text for p in result.points} == {"The kestrel hunts voles."}
    assert loop.last_stats is not None and loop.last_stats.completion_tokens < 12
