"""Whole-document summaries: every part is read, every point says where it came from.

This module runs a ``SummaryPlan`` (see ``app.summarize.plan``): the loop over chunks
(map), the reduce rounds that combine neighbouring summaries only while they do not
fit or are too many to list, the cache look-ups and the progress reports. The bullet
preset needs no reduce call at all.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from itertools import islice

from app.documents.chunking import Chunk, chunk_sections
from app.documents.document import ExtractedDocument
from app.engines.completion import is_base_model
from app.engines.contract import (
    BatchEngine,
    BatchPrompt,
    ChatMessage,
    ConcurrentEngine,
    Engine,
    GenerationParams,
    GenerationStats,
)
from app.summarize.answers import clean, fallback, leads, parse_points
from app.summarize.cache import SummaryCache, run_key, sha
from app.summarize.job import AnswerReader, CancelledError, StreamingJob, finish_answer, read_answer
from app.summarize.options import SummaryOptions
from app.summarize.plan import MARGIN, Speeds, SummaryPlan, plan_summary
from app.summarize.prompts import (
    ANSWER_TOKENS,
    COMPLETION_STOPS,
    FINAL_TAILS,
    FINAL_TOKENS,
    MAX_POINTS,
    REDUCE_TAIL,
    REDUCE_TOKENS,
    completion_prompt,
    map_prompt,
    reduce_prompt,
    single_prompt,
    stream_summary,
)
from app.summarize.render import render_markdown
from app.summarize.results import ChunkInfo, Point, SourceRange, SummaryProgress, SummaryResult, merge_sources
from app.summarize.tokens import make_counter, prompt_size

_HALT_POLL_S = 0.05  # how often the parallel map looks at the user's stop while it waits
MAP_BATCH = 64  # chunks per batch when a local model decodes several at once (their texts are held meanwhile)


def summarize(engine: Engine, document: ExtractedDocument, options: SummaryOptions | None = None, *,
              stop: threading.Event | None = None, on_progress: Callable[[SummaryProgress], None] | None = None,
              plan: SummaryPlan | None = None, cache: SummaryCache | None = None,
              speeds: Speeds | None = None) -> SummaryResult:
    """Summarize the whole document; on cancel, returns what was done (``cancelled=True``)."""
    options = options or SummaryOptions()
    started = time.perf_counter()
    plan = plan or plan_summary(engine, document, options)
    run = Run(engine, document, options, plan, stop=stop or threading.Event(), on_progress=on_progress,
              cache=cache if cache is not None else SummaryCache(), speeds=speeds or Speeds(), started=started)
    return run.execute()


class Run(StreamingJob):
    """Executes a ``SummaryPlan`` against an engine, reporting progress as it goes."""

    def __init__(self, engine: Engine, document: ExtractedDocument, options: SummaryOptions, plan: SummaryPlan, *,
                 stop: threading.Event, on_progress: Callable[[SummaryProgress], None] | None,
                 cache: SummaryCache, speeds: Speeds, started: float) -> None:
        # save_state off: each step is asked once, and its state would push chats out of the disk budget
        super().__init__(engine, GenerationParams(max_tokens=plan.map_tokens, temperature=options.temperature,
                                                  top_k=40, top_p=0.9, min_p=0.05, seed=options.seed,
                                                  save_state=False),
                         stop=stop, on_progress=on_progress, speeds=speeds, started=started)
        self.document, self.options, self.plan, self.cache = document, options, plan, cache
        self.count = make_counter(engine)
        self.key = run_key(document, engine, options, plan.lang)
        self.infos: list[ChunkInfo] = []
        self.points: list[Point] = []
        self.input_tokens = 0
        self.cached = 0
        self._sizes: dict[str, int] = {}
        self.width = 1  # map requests at once

    # ---- top level -------------------------------------------------------------------
    def execute(self) -> SummaryResult:
        if self.plan.mode == "single":
            return self._single()
        cancelled = False
        try:
            self._map()
        except CancelledError:
            cancelled = True
        points = self.points
        if not cancelled:
            try:
                points = self._combine(self.points)
            except CancelledError:
                cancelled = True
        return self._result(points, cancelled)

    def _single(self) -> SummaryResult:
        self.phase, self.chunk_no = "single", 1
        sections = self.document.sections
        source = SourceRange(sections[0].label, sections[-1].label, (0,))
        text = self.document.text
        name = f"single-{self.options.preset}"
        out = self.cache.get(self.key, name)
        cached = out is not None
        cancelled = False
        if out is None:
            self._report(force=True)
            try:
                out = self._generate(single_prompt(text, self.options.preset, self.plan.lang),
                                     ANSWER_TOKENS[self.options.preset], blank_stop=self.options.preset == "tldr")
                self.cache.put(self.key, name, out)
            except CancelledError:
                out, cancelled = "".join(self._partial), True
        points = parse_points(out, self.options.preset, source) or [Point(fallback(text), source)]
        self.cached = int(cached)
        self.input_tokens = self.plan.total_tokens if not cancelled else 0
        self.infos = [ChunkInfo(0, source.label, source.first, source.last, self.plan.total_tokens, text,
                                not cancelled, cached)]
        return self._result(points, cancelled)

    # ---- map -------------------------------------------------------------------------
    def _chunks(self) -> Iterable[Chunk]:
        if self.plan.chunks is not None:
            return self.plan.chunks
        return chunk_sections(self.document.iter_sections(), self.plan.budget, self.count, self.plan.target)

    def _map(self) -> None:
        if isinstance(self.engine, ConcurrentEngine) and self.engine.parallel > 1:
            self._map_parallel(self.engine, self.engine.parallel)
            return
        if isinstance(self.engine, BatchEngine) and self.engine.batch_width > 1 and self._uncached() > 1:
            self._map_batched(self.engine, self.engine.batch_width)
            return
        lang = self.plan.lang
        for chunk in self._chunks():
            if self.stop.is_set():
                raise CancelledError
            self.chunk_no = chunk.index + 1
            name = self._map_name(chunk)
            text = self.cache.get(self.key, name)
            cached = text is not None
            if text is None:
                self._report(force=True)
                text = clean(self._generate(map_prompt(chunk.text, lang), self.plan.map_tokens, blank_stop=True))
                text = text or fallback(chunk.text)
                self.cache.put(self.key, name, text)
            self._record(chunk, text, cached)

    def _map_name(self, chunk: Chunk) -> str:
        return f"map-{self.plan.map_tokens}-{sha(chunk.text)[:32]}"

    def _record(self, chunk: Chunk, text: str, cached: bool) -> None:
        """One chunk's summary is done: keep it, with where it came from, and report it."""
        self.chunk_no = chunk.index + 1
        point = Point(text, SourceRange(chunk.first_label, chunk.last_label, (chunk.index,)))
        self.points.append(point)
        self.infos.append(ChunkInfo(chunk.index, chunk.label, chunk.first_label, chunk.last_label, chunk.tokens,
                                    "" if self.document.large else chunk.text, True, cached))
        self.input_tokens += chunk.tokens
        self.cached += int(cached)
        self._report(point=point, force=True)

    def _map_parallel(self, engine: ConcurrentEngine, width: int) -> None:
        """Up to ``width`` chunks summarized at once (a server with that many slots); results kept in order.

        Requests after the first ``width`` are queued here, not on the server, and each result is
        recorded in document order as soon as it and those before it are done. The requests
        share one stop event of their own, set when the user stops or a request fails, so
        nothing keeps running on the server after the map ends.
        """
        self.width = width
        halt = threading.Event()
        chunks = iter(self._chunks())
        window: deque[tuple[Chunk, str, Future[tuple[str, GenerationStats | None]] | None, str | None]] = deque()
        pool = ThreadPoolExecutor(width, thread_name_prefix="kestrel-map")

        def fill() -> None:  # keep every slot busy while finished results wait their turn
            while len(window) < 2 * width:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                name = self._map_name(chunk)
                text = self.cache.get(self.key, name)
                future = pool.submit(self._map_one, engine, chunk, halt) if text is None else None
                window.append((chunk, name, future, text))

        try:
            fill()
            self._report(force=True)
            while window:
                chunk, name, future, text = window.popleft()
                if future is not None:
                    while not wait([future], timeout=_HALT_POLL_S).done:
                        if self.stop.is_set():
                            halt.set()
                    answer, stats = future.result()
                    self._learn(stats)
                    if self.stop.is_set():
                        raise CancelledError
                    text = answer or fallback(chunk.text)
                    self.cache.put(self.key, name, text)
                assert text is not None
                self._record(chunk, text, future is None)
                fill()
        finally:
            halt.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def _map_one(self, engine: ConcurrentEngine, chunk: Chunk,
                 halt: threading.Event) -> tuple[str, GenerationStats | None]:
        """Summarize one chunk on a pool thread: (the cleaned text, or "" when unusable; its figures)."""
        content = map_prompt(chunk.text, self.plan.lang)
        figures: list[GenerationStats] = []
        iterator = engine.stream_concurrent([ChatMessage("user", content)], self.params, halt, figures.append)
        text, echo = read_answer(iterator, content, blank_stop=True, copy_is_echo=False)
        return clean(finish_answer(text, echo, blank_stop=True)), figures[-1] if figures else None

    def _uncached(self) -> int:
        """Chunks the map must summarize (a large document, chunked as it is read, counts as many)."""
        if self.plan.chunks is None:
            return self.plan.chunk_count
        return sum(self.cache.get(self.key, self._map_name(c)) is None for c in self.plan.chunks)

    def _map_batched(self, engine: BatchEngine, width: int) -> None:
        """The map through ``stream_batch``: ``width`` chunks decode together (a local model's sequences).

        As in ``_map_parallel``, each result is recorded in document order as soon as it and
        those before it are done; it is cached as soon as it is done. The same requests as one
        by one, the same answers: a sequence is ended where :func:`read_answer` would stop reading.
        """
        self.width = width
        chunks = iter(self._chunks())
        while window := list(islice(chunks, MAP_BATCH)):
            self._map_window(engine, window)

    def _map_window(self, engine: BatchEngine, window: list[Chunk]) -> None:
        names = [self._map_name(chunk) for chunk in window]
        texts = [self.cache.get(self.key, name) for name in names]
        cached = [text is not None for text in texts]
        todo = [i for i, text in enumerate(texts) if text is None]
        recorded = 0

        def record_ready() -> None:
            nonlocal recorded
            while recorded < len(window) and (text := texts[recorded]) is not None:
                self._record(window[recorded], text, cached[recorded])
                recorded += 1

        record_ready()
        requests = [map_prompt(window[i].text, self.plan.lang) for i in todo]
        readers = [AnswerReader(request, blank_stop=True, copy_is_echo=False) for request in requests]
        sent = [self._batch_request(request, self.plan.map_tokens) for request in requests]
        self._report(force=True)
        items = engine.stream_batch([prompt for prompt, _ in sent], [params for _, params in sent], self.stop)
        try:
            for item in items:
                reader = readers[item.index]
                if item.stats is None:
                    if not reader.done and reader.feed(item.text):
                        engine.end_sequence(item.index)
                    continue
                self._learn(item.stats)
                if self.stop.is_set():
                    break
                i = todo[item.index]
                text = clean(finish_answer(reader.text, reader.echo, blank_stop=True)) or fallback(window[i].text)
                self.cache.put(self.key, names[i], text)
                texts[i] = text
                record_ready()
        finally:
            if isinstance(items, Generator):
                items.close()
        if self.stop.is_set():
            raise CancelledError
        record_ready()

    def _batch_request(self, request: str, max_tokens: int) -> tuple[BatchPrompt, GenerationParams]:
        """``request`` as :func:`~app.summarize.prompts.stream_summary` sends it: a chat message, or the
        completion text itself to a base model."""
        params = replace(self.params, max_tokens=max_tokens)
        if is_base_model(self.engine.loaded):
            return completion_prompt(request), replace(params, stop=params.stop + COMPLETION_STOPS)
        return [ChatMessage("user", request)], params

    # ---- reduce ----------------------------------------------------------------------
    def _size(self, text: str) -> int:
        if text not in self._sizes:
            self._sizes[text] = self.count(text) + 3
        return self._sizes[text]

    def _combine(self, items: list[Point]) -> list[Point]:
        """Reduce only while the summaries do not fit the final prompt or are too many to list."""
        preset, lang, n_ctx = self.options.preset, self.plan.lang, self.plan.n_ctx
        final_tail = FINAL_TAILS.get(preset)
        limit = MAX_POINTS.get(preset)
        reduce_room = n_ctx - prompt_size(self.engine, reduce_prompt([], REDUCE_TAIL, lang)) - REDUCE_TOKENS - MARGIN
        final_room = (n_ctx - prompt_size(self.engine, reduce_prompt([], final_tail, lang))
                      - FINAL_TOKENS[preset] - MARGIN) if final_tail else 0
        while len(items) > 1:
            too_big = final_tail is not None and sum(self._size(p.text) for p in items) > final_room
            too_many = limit is not None and len(items) > limit
            if not (too_big or too_many):
                break
            per_group = 0 if too_big else math.ceil(len(items) / limit)  # type: ignore[operator]
            reduced = self._reduce_round(items, reduce_room, per_group)
            if len(reduced) == len(items):
                break  # nothing could be combined: keep the list rather than loop
            items = reduced
        if final_tail is None:
            return items
        self.phase = "final"
        texts = [p.text for p in items]
        name = f"final-{preset}-{sha(json.dumps(texts))[:32]}"
        text = self.cache.get(self.key, name)
        if text is None:
            self._report(force=True)
            text = clean(self._generate(reduce_prompt(texts, final_tail, lang), FINAL_TOKENS[preset],
                                        blank_stop=preset == "tldr", copy_is_echo=True), paragraphs=True)
            self.cache.put(self.key, name, text)
        if not text and preset == "detailed":
            return items  # no usable overview: the parts speak for themselves
        overview = Point(text or leads(texts), merge_sources([p.source for p in items]))
        return [overview] if preset == "tldr" else [overview, *items]

    def _reduce_round(self, items: list[Point], room: int, per_group: int) -> list[Point]:
        groups: list[list[Point]] = [[]]
        used = 0
        for p in items:
            size = self._size(p.text)
            if groups[-1] and ((per_group and len(groups[-1]) >= per_group) or used + size > room):
                groups.append([])
                used = 0
            groups[-1].append(p)
            used += size
        self.phase = "reduce"
        out: list[Point] = []
        for group in groups:
            if len(group) == 1:
                out.append(group[0])
                continue
            texts = [p.text for p in group]
            name = f"reduce-{sha(json.dumps(texts))[:32]}"
            text = self.cache.get(self.key, name)
            if text is None:
                self._report(force=True)
                text = clean(self._generate(reduce_prompt(texts, REDUCE_TAIL, self.plan.lang), REDUCE_TOKENS,
                                            blank_stop=True, copy_is_echo=True)) or leads(texts)
                self.cache.put(self.key, name, text)
            out.append(Point(text, merge_sources([p.source for p in group])))
        return out

    # ---- engine ----------------------------------------------------------------------
    def _stream(self, content: str, params: GenerationParams) -> Iterator[str]:
        return stream_summary(self.engine, content, params, self.stop)

    # ---- progress --------------------------------------------------------------------
    def _eta(self) -> float:
        plan, s, preset = self.plan, self.speeds, self.options.preset
        avg = self._out_tokens / self._out_calls if self._out_calls else plan.map_tokens * 0.8
        final = s.seconds(plan.chunk_count * avg, FINAL_TOKENS[preset] * 0.6) if preset in FINAL_TOKENS else 0.0
        if self.phase == "single":  # once text flows, only the rest of the answer is left
            written = len("".join(self._partial)) // 4
            return plan.eta(s, preset) if not written else s.seconds(0, max(0, ANSWER_TOKENS[preset] * 0.7 - written))
        if self.phase == "map":  # several chunks at once on a server with slots: roughly that much sooner
            left = max(0, plan.chunk_count - len(self.points))
            return s.seconds(max(0, plan.total_tokens - self.input_tokens), left * avg) / self.width + final
        return s.seconds(0, FINAL_TOKENS.get(preset, REDUCE_TOKENS) * 0.5)

    def _parts(self) -> tuple[int, bool]:
        return self.plan.chunk_count, self.plan.estimated

    def _result(self, points: list[Point], cancelled: bool) -> SummaryResult:
        infos = list(self.infos)
        if self.plan.chunks is not None:
            infos += [ChunkInfo(c.index, c.label, c.first_label, c.last_label, c.tokens, c.text)
                      for c in self.plan.chunks[len(infos):]]
        chunks = len(infos) if not cancelled or self.plan.chunks is not None else max(len(infos), self.plan.chunk_count)
        sources: list[dict[str, object]] = [
            {"chunk": i.index, "label": i.label, "first": i.first, "last": i.last, "chunks": [i.index],
             "tokens": i.tokens, "summarized": i.summarized, "cached": i.cached} for i in infos]
        result = SummaryResult(
            summary="", points=points, chunks=chunks, chunks_summarized=sum(i.summarized for i in infos),
            sources=sources, input_tokens=self.input_tokens, seconds=time.perf_counter() - self.started,
            cancelled=cancelled, mode=self.plan.mode, preset=self.options.preset, lang=self.plan.lang,
            cached_chunks=self.cached, chunk_infos=infos, prefill_tps=self.speeds.prefill_tps,
            decode_tps=self.speeds.decode_tps)
        result.summary = render_markdown(result)
        return result
