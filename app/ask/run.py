"""Asking a whole document: every part is read, and the answer says which parts it came from.

Peers retrieve a few chunks that look like the question and miss the rest; here the model
reads all of it. When the document and the question fit the context, the whole text goes
in with the question in one prompt. When not, every chunk is asked the question (the
summarizer's map step, ``app.summarize.run``, with the question instead of "summarize"),
parts that answer "not here" are dropped, and the answers of the rest are combined in a
final step. Sources are structural: each part's answer covers one chunk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from app.ask.answers import is_not_here, part_answer, strip_label
from app.ask.prompts import BASE_STOPS, combine_prompt, map_prompt, single_prompt
from app.ask.results import AskOptions, AskResult, PartAnswer
from app.documents.chunking import Chunk, chunk_sections, source_label
from app.documents.document import ExtractedDocument
from app.engines.completion import is_base_model, stream_completion
from app.engines.contract import (
    Engine,
    EngineError,
    GenerationParams,
    LoadedModel,
    TokenEngine,
)
from app.summarize.answers import clean, leads
from app.summarize.job import CancelledError, StreamingJob
from app.summarize.plan import MARGIN, Speeds, count_document, plan_chunks
from app.summarize.results import Point, SourceRange, SummaryProgress
from app.summarize.tokens import make_counter, prompt_size, stream_prompt

MIN_BUDGET = 64  # tokens of document per part below which asking part by part makes no sense


@dataclass
class AskPlan:
    """Decided before asking: the whole text at once, or N parts of up to ``budget`` tokens."""

    mode: str  # "single" or "map"
    total_tokens: int
    estimated: bool
    chunk_count: int
    n_ctx: int
    budget: int
    target: int
    base: bool  # completion-style prompts (a base model)
    chunks: list[Chunk] | None  # None for a large document (chunked lazily) and for one pass


def uses_base_prompts(loaded: LoadedModel | None, options: AskOptions) -> bool:
    if options.style != "auto":
        return options.style == "base"
    return is_base_model(loaded)


class Prompter:
    """Measures and sends prompts in one style: chat messages, or raw completion text for a base model."""

    def __init__(self, engine: Engine, base: bool) -> None:
        self.engine = engine
        self.raw = base and isinstance(engine, TokenEngine)

    def size(self, content: str) -> int:
        engine = self.engine
        if self.raw and isinstance(engine, TokenEngine):
            return len(engine.tokenize(content, add_special=True))
        return prompt_size(engine, content)

    def stream(self, content: str, params: GenerationParams, stop: threading.Event) -> Iterator[str]:
        if self.raw:
            return stream_completion(self.engine, content, params, stop, BASE_STOPS)
        return stream_prompt(self.engine, content, params, stop)


def plan_ask(engine: Engine, document: ExtractedDocument, question: str,
             options: AskOptions | None = None) -> AskPlan:
    """Count tokens and decide: one prompt, or every part asked; runs on the engine thread."""
    options = options or AskOptions()
    loaded = engine.loaded
    if loaded is None:
        raise EngineError("No model is loaded.")
    n_ctx, base = loaded.n_ctx, uses_base_prompts(loaded, options)
    prompter = Prompter(engine, base)
    count = make_counter(engine)
    total, estimated, ratio = count_document(document, count)
    single = prompter.size(single_prompt("", question, base))
    if not document.large and total + single + options.answer_tokens + MARGIN <= n_ctx:
        return AskPlan("single", total, False, 1, n_ctx, n_ctx, n_ctx, base, None)
    overhead = prompter.size(map_prompt("", question, base))
    budget = n_ctx - overhead - options.map_max_tokens - MARGIN
    if budget < MIN_BUDGET:
        raise EngineError(f"The context of {n_ctx:,} tokens is too small to read a long document part by part "
                          "with this question: load the model with a larger context, or ask a shorter question.")
    target, chunks, chunk_count = plan_chunks(document, total, budget, count, ratio)
    return AskPlan("map", total, estimated, chunk_count, n_ctx, budget, target, base, chunks)


def ask(engine: Engine, document: ExtractedDocument, question: str, options: AskOptions | None = None, *,
        stop: threading.Event | None = None, on_progress: Callable[[SummaryProgress], None] | None = None,
        plan: AskPlan | None = None, speeds: Speeds | None = None) -> AskResult:
    """Answer ``question`` from the whole document; on stop, returns what was found (``cancelled=True``).

    Progress arrives as :class:`SummaryProgress` (phase "single", "map" or "final"); a
    part that answered comes with its answer as ``point``.
    """
    question = " ".join(question.split())
    if not question:
        raise ValueError("the question is empty")
    options = options or AskOptions()
    started = time.perf_counter()
    plan = plan or plan_ask(engine, document, question, options)
    return Asker(engine, document, question, options, plan, stop=stop or threading.Event(),
                 on_progress=on_progress, speeds=speeds or Speeds(), started=started).execute()


class Asker(StreamingJob):
    """Runs an :class:`AskPlan` against an engine, reporting progress as it goes."""

    def __init__(self, engine: Engine, document: ExtractedDocument, question: str, options: AskOptions,
                 plan: AskPlan, *, stop: threading.Event, on_progress: Callable[[SummaryProgress], None] | None,
                 speeds: Speeds, started: float) -> None:
        # save_state off: each step is asked once, and its state would push chats out of the disk budget
        super().__init__(engine, GenerationParams(max_tokens=options.map_max_tokens, temperature=options.temperature,
                                                  top_k=40, top_p=0.9, min_p=0.05, seed=options.seed,
                                                  save_state=False),
                         stop=stop, on_progress=on_progress, speeds=speeds, started=started)
        self.document, self.question, self.options, self.plan = document, question, options, plan
        self.prompter = Prompter(engine, plan.base)
        self.count = make_counter(engine)
        self.parts: list[PartAnswer] = []
        self.points: list[Point] = []
        self.input_tokens = 0

    # ---- top level -------------------------------------------------------------------
    def execute(self) -> AskResult:
        if self.plan.mode == "single":
            return self._single()
        cancelled = False
        answer = ""
        try:
            self._map()
            answer = self._combine()
        except CancelledError:
            cancelled = True
        return self._result(answer, cancelled)

    def _single(self) -> AskResult:
        self.phase, self.chunk_no = "single", 1
        sections = self.document.sections
        text = self.document.text
        source = SourceRange(sections[0].label, sections[-1].label, (0,))
        self._report(force=True)
        cancelled = False
        try:
            out = self._generate(single_prompt(text, self.question, self.plan.base), self.options.answer_tokens,
                                 blank_stop=self.plan.base)
        except CancelledError:
            out, cancelled = "".join(self._partial), True
        answer = clean(strip_label(out), paragraphs=True)
        self.input_tokens = self.plan.total_tokens
        self.parts = [PartAnswer(0, source.label, source.first, source.last, sections[0].index, sections[-1].index,
                                 self.plan.total_tokens, not cancelled, answer, text)]
        self.points = [Point(answer, source)] if answer else []
        return self._result(answer, cancelled)

    # ---- every part ------------------------------------------------------------------
    def _chunks(self) -> Iterable[Chunk]:
        if self.plan.chunks is not None:
            return self.plan.chunks
        return chunk_sections(self.document.iter_sections(), self.plan.budget, self.count, self.plan.target)

    def _map(self) -> None:
        self.phase = "map"
        for chunk in self._chunks():
            if self.stop.is_set():
                raise CancelledError
            self.chunk_no = chunk.index + 1
            self._report(force=True)
            out = self._generate(map_prompt(chunk.text, self.question, self.plan.base), self.options.map_max_tokens,
                                 blank_stop=True)
            answer = part_answer(out, self.question, chunk.text if self.plan.base else None)
            self.parts.append(PartAnswer(chunk.index, chunk.label, chunk.first_label, chunk.last_label,
                                         chunk.first_section, chunk.last_section, chunk.tokens, True, answer,
                                         "" if self.document.large else chunk.text))
            self.input_tokens += chunk.tokens
            point = None
            if answer:
                point = Point(answer, SourceRange(chunk.first_label, chunk.last_label, (chunk.index,)))
                self.points.append(point)
            self._report(point=point, force=True)

    # ---- the combined answer ---------------------------------------------------------
    def _size(self, label: str, text: str) -> int:
        return self.count(f"- ({label}) {text}") + 1

    def _combine(self) -> str:
        """One answer from the parts that answered; one part's answer needs no further call."""
        if len(self.points) <= 1:
            return self.points[0].text if self.points else ""
        base, question, n_ctx = self.plan.base, self.question, self.plan.n_ctx
        notes = [(p.source.label, p.text, p.source.first, p.source.last) for p in self.points]
        room = n_ctx - self.prompter.size(combine_prompt([], question, base)) - self.options.answer_tokens - MARGIN
        while len(notes) > 1 and sum(self._size(n[0], n[1]) for n in notes) > room:
            reduced = self._reduce_round(notes, room)
            if len(reduced) == len(notes):
                break
            notes = reduced
        while len(notes) > 1 and sum(self._size(n[0], n[1]) for n in notes) > room:
            notes = notes[:-1]  # still too long (answers longer than the context): the first ones
        self.phase = "final"
        self._report(force=True)
        out = self._generate(combine_prompt([(n[0], n[1]) for n in notes], question, base),
                             self.options.answer_tokens, blank_stop=base, copy_is_echo=True)
        answer = clean(strip_label(out), paragraphs=True)
        if not answer or is_not_here(answer, question):
            return leads([p.text for p in self.points])  # no usable combination: the parts' own words
        return answer

    def _reduce_round(self, notes: list[tuple[str, str, str, str]], room: int) -> list[tuple[str, str, str, str]]:
        """Neighbouring answers combined in groups that fit, so the final step can read them all."""
        groups: list[list[tuple[str, str, str, str]]] = [[]]
        used = 0
        for note in notes:
            size = self._size(note[0], note[1])
            if groups[-1] and used + size > room:
                groups.append([])
                used = 0
            groups[-1].append(note)
            used += size
        self.phase = "final"
        out: list[tuple[str, str, str, str]] = []
        for group in groups:
            if len(group) == 1:
                out.append(group[0])
                continue
            self._report(force=True)
            text = self._generate(combine_prompt([(n[0], n[1]) for n in group], self.question, self.plan.base),
                                  self.options.map_max_tokens * 2, blank_stop=True, copy_is_echo=True)
            text = clean(strip_label(text)) or leads([n[1] for n in group])
            first, last = group[0][2], group[-1][3]
            out.append((source_label(first, last), text, first, last))
        return out

    # ---- engine ----------------------------------------------------------------------
    def _stream(self, content: str, params: GenerationParams) -> Iterator[str]:
        return self.prompter.stream(content, params, self.stop)

    # ---- progress --------------------------------------------------------------------
    def _eta(self) -> float:
        s, answer = self.speeds, self.options.answer_tokens * 0.5
        if self.phase == "single":
            written = len("".join(self._partial)) // 4
            return s.seconds(0 if written else self.plan.total_tokens, max(0.0, answer - written))
        if self.phase == "map":  # most parts answer "not here": a few tokens each
            avg = self._out_tokens / self._out_calls if self._out_calls else 16.0
            left = max(0, self.plan.chunk_count - len(self.parts))
            return s.seconds(max(0, self.plan.total_tokens - self.input_tokens), left * avg + answer)
        return s.seconds(0, answer)

    def _parts(self) -> tuple[int, bool]:
        return self.plan.chunk_count, self.plan.estimated

    def _result(self, answer: str, cancelled: bool) -> AskResult:
        parts = list(self.parts)
        if self.plan.chunks is not None:  # every part named, read or not
            parts += [PartAnswer(c.index, c.label, c.first_label, c.last_label, c.first_section, c.last_section,
                                 c.tokens, False, "", c.text) for c in self.plan.chunks[len(parts):]]
        total = len(parts) if not cancelled or self.plan.chunks is not None else max(len(parts), self.plan.chunk_count)
        return AskResult(
            question=self.question, answer=answer, points=list(self.points), parts=parts, mode=self.plan.mode,
            document=self.document.name, input_tokens=self.input_tokens,
            seconds=time.perf_counter() - self.started, cancelled=cancelled,
            estimated=self.plan.estimated and cancelled and self.plan.chunks is None, chunk_total=total,
            prompt_tokens=self._prompt_tokens, completion_tokens=self._out_tokens,
            decode_tps=self.speeds.decode_tps, prefill_tps=self.speeds.prefill_tps)
