"""One run of the summary pipeline (see ``app.core.summarize`` for the why).

Kept apart from the public types so each module stays readable: this file is the
loop over chunks, the reduce rounds, the cache look-ups and the progress reports.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from app.core.chunking import Chunk, chunk_sections
from app.core.extract import ExtractedDocument
from app.core.summarize import (
    _FINAL_TAILS,
    _REDUCE_TAIL,
    ANSWER_TOKENS,
    FINAL_TOKENS,
    MARGIN,
    MAX_POINTS,
    PROGRESS_INTERVAL_S,
    PROMPT_VERSION,
    REDUCE_TOKENS,
    ChunkInfo,
    Point,
    SourceRange,
    Speeds,
    SummaryCache,
    SummaryOptions,
    SummaryPlan,
    SummaryProgress,
    SummaryResult,
    _prompt_size,
    _sha,
    make_counter,
    map_prompt,
    model_identity,
    reduce_prompt,
    render_markdown,
    single_prompt,
    stream_prompt,
)
from app.llm.types import Engine, GenerationParams, GenerationStats

_ECHO = re.compile(r"^\s*(summary( of this part)?|combined summary|tl;dr|overview|key points)\s*[:：]\s*", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)])\s+")
_FALLBACK = re.compile(r"^\(No summary from the model; this part opens: “(.*)”\)$", re.DOTALL)
_SENTENCE_END = re.compile(r"[.!?。！？](?=[\"'”’)\]]*(\s|$))")


class _Cancelled(Exception):
    """The stop event was set: unwind to return what is done."""


def clean(text: str, paragraphs: bool = False) -> str:
    """Drop echoed labels and list markers; cut a truncated last sentence when that costs little."""
    text = _ECHO.sub("", text.strip()).strip()
    lines = [_BULLET.sub("", line).strip() for line in text.splitlines()]
    text = ("\n\n" if paragraphs else " ").join(line for line in lines if line)
    ends = list(_SENTENCE_END.finditer(text))
    if ends and not _SENTENCE_END.search(text[-2:] + " ") and ends[-1].end() > len(text) * 0.4:
        text = text[: ends[-1].end()]
    return text.strip()


def lead(text: str, limit: int = 200) -> str:
    """The opening sentences of a text (headings skipped), at most about ``limit`` characters."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip() and not p.lstrip().startswith("#")]
    words = " ".join((paragraphs[0] if paragraphs else text).split())
    ends = [m.end() for m in _SENTENCE_END.finditer(words) if m.end() <= limit]
    return words[: ends[-1]] if ends else words[:limit].rstrip() + "…"


def leads(texts: list[str]) -> str:
    """A combination nobody wrote: the first sentence of each summary, for an empty reduce answer."""
    unwrapped = [_FALLBACK.sub(r"\1", t) for t in texts]
    return " ".join(lead(t, 160) for t in unwrapped)[:900]


def fallback(text: str) -> str:
    """What a point says when the model wrote nothing usable (an echo, a loop, nothing)."""
    return f"(No summary from the model; this part opens: “{lead(text)}”)"


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _repeats(text: str) -> int:
    """Where the first repeated sentence or line starts (-1: none): a base model looping."""
    seen: set[str] = set()
    for match in re.finditer(r"[^\n.!?。！？]+[.!?。！？\n]", text):
        sentence = _norm(match.group())
        if len(sentence) >= 12:
            if sentence in seen:
                return match.start()
            seen.add(sentence)
    return -1


class Run:
    """Executes a ``SummaryPlan`` against an engine, reporting progress as it goes."""

    def __init__(self, engine: Engine, document: ExtractedDocument, options: SummaryOptions, plan: SummaryPlan,
                 stop: threading.Event, on_progress: Callable[[SummaryProgress], None] | None,
                 cache: SummaryCache, speeds: Speeds, started: float) -> None:
        self.engine, self.document, self.options, self.plan = engine, document, options, plan
        self.stop, self.on_progress, self.cache, self.speeds, self.started = stop, on_progress, cache, speeds, started
        self.count = make_counter(engine)
        identity = {"doc": document.sha256(), "model": model_identity(engine), "v": PROMPT_VERSION,
                    "map_max": options.map_max_tokens, "temperature": options.temperature,
                    "seed": options.seed, "lang": plan.lang}
        self.key = _sha(json.dumps(identity, sort_keys=True))[:40]
        self.params = GenerationParams(max_tokens=plan.map_tokens, temperature=options.temperature, top_k=40,
                                       top_p=0.9, min_p=0.05, seed=options.seed)
        self.infos: list[ChunkInfo] = []
        self.points: list[Point] = []
        self.input_tokens = 0
        self.cached = 0
        self.phase = "map"
        self.chunk_no = 0
        self._out_tokens = self._out_calls = 0
        self._pending = ""
        self._partial: list[str] = []
        self._last_report = 0.0
        self._stats: GenerationStats | None = None
        self._sizes: dict[str, int] = {}

    # ---- top level -------------------------------------------------------------------
    def execute(self) -> SummaryResult:
        if self.plan.mode == "single":
            return self._single()
        cancelled = False
        try:
            self._map()
        except _Cancelled:
            cancelled = True
        points = self.points
        if not cancelled:
            try:
                points = self._combine(self.points)
            except _Cancelled:
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
            except _Cancelled:
                out, cancelled = "".join(self._partial), True
        points = _parse_points(out, self.options.preset, source) or [Point(fallback(text), source)]
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
        lang, large = self.plan.lang, self.document.large
        for chunk in self._chunks():
            if self.stop.is_set():
                raise _Cancelled
            self.chunk_no = chunk.index + 1
            name = f"map-{self.plan.map_tokens}-{_sha(chunk.text)[:32]}"
            text = self.cache.get(self.key, name)
            cached = text is not None
            if text is None:
                self._report(force=True)
                text = clean(self._generate(map_prompt(chunk.text, lang), self.plan.map_tokens, blank_stop=True))
                text = text or fallback(chunk.text)
                self.cache.put(self.key, name, text)
            point = Point(text, SourceRange(chunk.first_label, chunk.last_label, (chunk.index,)))
            self.points.append(point)
            self.infos.append(ChunkInfo(chunk.index, chunk.label, chunk.first_label, chunk.last_label, chunk.tokens,
                                        "" if large else chunk.text, True, cached))
            self.input_tokens += chunk.tokens
            self.cached += int(cached)
            self._report(point=point, force=True)

    # ---- reduce ----------------------------------------------------------------------
    def _size(self, text: str) -> int:
        if text not in self._sizes:
            self._sizes[text] = self.count(text) + 3
        return self._sizes[text]

    def _combine(self, items: list[Point]) -> list[Point]:
        """Reduce only while the summaries do not fit the final prompt or are too many to list."""
        preset, lang, n_ctx = self.options.preset, self.plan.lang, self.plan.n_ctx
        final_tail = _FINAL_TAILS.get(preset)
        limit = MAX_POINTS.get(preset)
        reduce_room = n_ctx - _prompt_size(self.engine, reduce_prompt([], _REDUCE_TAIL, lang)) - REDUCE_TOKENS - MARGIN
        final_room = (n_ctx - _prompt_size(self.engine, reduce_prompt([], final_tail, lang))
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
        name = f"final-{preset}-{_sha(json.dumps(texts))[:32]}"
        text = self.cache.get(self.key, name)
        if text is None:
            self._report(force=True)
            text = clean(self._generate(reduce_prompt(texts, final_tail, lang), FINAL_TOKENS[preset],
                                        blank_stop=preset == "tldr", copy_is_echo=True), paragraphs=True)
            self.cache.put(self.key, name, text)
        if not text and preset == "detailed":
            return items  # no usable overview: the parts speak for themselves
        overview = Point(text or leads(texts), _merge([p.source for p in items]))
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
            name = f"reduce-{_sha(json.dumps(texts))[:32]}"
            text = self.cache.get(self.key, name)
            if text is None:
                self._report(force=True)
                text = clean(self._generate(reduce_prompt(texts, _REDUCE_TAIL, self.plan.lang), REDUCE_TOKENS,
                                            blank_stop=True, copy_is_echo=True)) or leads(texts)
                self.cache.put(self.key, name, text)
            out.append(Point(text, _merge([p.source for p in group])))
        return out

    # ---- engine ----------------------------------------------------------------------
    def _generate(self, content: str, max_tokens: int, blank_stop: bool, copy_is_echo: bool = False) -> str:
        """Stream one answer; a blank line, a loop or an echo of the request ends it early.

        ``copy_is_echo``: copying the input counts as an echo too (a combined summary that
        repeats its parts verbatim combines nothing).
        """
        self._partial = []
        iterator = stream_prompt(self.engine, content, replace(self.params, max_tokens=max_tokens), self.stop)
        instruction = _norm(content if copy_is_echo else content[: content.find("<<<")] if "<<<" in content
                            else content[:300])
        seen = ""
        echo = False
        try:
            for delta in iterator:
                self._partial.append(delta)
                self._pending += delta
                self._report()
                seen = (seen + delta).lstrip()
                if len(seen) >= 24 and len(seen) - len(delta) < 24 and _norm(seen[:24]) in instruction:
                    echo = True  # a base model repeating the request: nothing to wait for
                    break
                if (blank_stop and "\n\n" in seen) or _repeats(seen) >= 0:
                    break
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        stats = self._stats = self.engine.last_stats
        self.speeds.learn(stats)
        if stats is not None:
            self._out_tokens += stats.completion_tokens
            self._out_calls += 1
        if self.stop.is_set():
            raise _Cancelled
        if echo:
            return ""
        text = "".join(self._partial).strip()
        cut = _repeats(text)
        text = text[:cut] if cut >= 0 else text
        return text.split("\n\n")[0] if blank_stop else text

    # ---- progress --------------------------------------------------------------------
    def _eta(self) -> float:
        plan, s, preset = self.plan, self.speeds, self.options.preset
        avg = self._out_tokens / self._out_calls if self._out_calls else plan.map_tokens * 0.8
        final = s.seconds(plan.chunk_count * avg, FINAL_TOKENS[preset] * 0.6) if preset in FINAL_TOKENS else 0.0
        if self.phase == "single":  # once text flows, only the rest of the answer is left
            written = len("".join(self._partial)) // 4
            return plan.eta(s, preset) if not written else s.seconds(0, max(0, ANSWER_TOKENS[preset] * 0.7 - written))
        if self.phase == "map":
            left = max(0, plan.chunk_count - len(self.points))
            return s.seconds(max(0, plan.total_tokens - self.input_tokens), left * avg) + final
        return s.seconds(0, FINAL_TOKENS.get(preset, REDUCE_TOKENS) * 0.5)

    def _report(self, point: Point | None = None, force: bool = False) -> None:
        now = time.perf_counter()
        if self.on_progress is None or (not force and now - self._last_report < PROGRESS_INTERVAL_S):
            return
        self._last_report = now
        total = max(self.plan.chunk_count, self.chunk_no)
        self.on_progress(SummaryProgress(self.phase, self.chunk_no, total, self.plan.estimated,
                                         now - self.started, self._eta(), self._pending, point, self._stats))
        self._pending, self._stats = "", None

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


def _merge(sources: list[SourceRange]) -> SourceRange:
    chunks = sorted({c for s in sources for c in s.chunks})
    return SourceRange(sources[0].first, sources[-1].last, tuple(chunks))


def _parse_points(text: str, preset: str, source: SourceRange) -> list[Point]:
    """One-pass answers: a list becomes one point per item; prose one point per paragraph."""
    text = _ECHO.sub("", text.strip())
    if preset == "tldr":
        body = clean(text, paragraphs=True)
        return [Point(body, source)] if body else []
    lines = [line for line in text.splitlines() if line.strip()]
    if preset == "bullets" and any(_BULLET.match(line) for line in lines):
        items = [clean(line) for line in lines]
    else:
        items = [clean(p) for p in re.split(r"\n\s*\n", text)]
    return [Point(item, source) for item in items if item]
