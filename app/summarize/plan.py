"""Deciding how to summarize before starting: one pass or N chunks, how many tokens, how long.

One pass when the document fits the context with room for the answer; otherwise map
(summarize EVERY chunk) then reduce. Prefill is ~5x faster than decoding on a CPU, so
chunks fill most of the context and map answers are capped short. The plan is shown
to the user (chunks, ETA) and then executed by ``app.summarize.run``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.base.languages import UNDETERMINED, detect_language, resolve_language
from app.documents.chunking import Chunk, TokenRatio, chunk_sections
from app.documents.document import ExtractedDocument
from app.engines.contract import ChatMessage, Engine, EngineError, GenerationParams, GenerationStats
from app.summarize.options import SummaryOptions
from app.summarize.prompts import ANSWER_TOKENS, FINAL_TOKENS, map_prompt, single_prompt
from app.summarize.tokens import make_counter, prompt_size

MARGIN = 16  # tokens kept free: separately counted pieces may join into a token or two more
SINGLE_RESERVE = max(ANSWER_TOKENS.values())  # same plan for every preset: switching stays cheap
DEFAULT_PREFILL_TPS = 150.0  # guesses for the first ETA, before anything was measured
DEFAULT_DECODE_TPS = 25.0


@dataclass
class Speeds:
    """Measured engine speeds (0.0: not measured yet); the ETA uses them, and they improve as work is done."""

    prefill_tps: float = 0.0
    decode_tps: float = 0.0

    def learn(self, stats: GenerationStats | None) -> None:
        """Mix in a reply's figures; unknown ones, and ones from too little work to trust, are skipped."""
        if stats is None:
            return
        if stats.evaluated_tokens is not None and stats.evaluated_tokens >= 32 and stats.prefill_tps:
            self.prefill_tps = _mix(self.prefill_tps, stats.prefill_tps)
        if stats.completion_tokens >= 4 and stats.decode_tps:
            self.decode_tps = _mix(self.decode_tps, stats.decode_tps)

    @property
    def known(self) -> bool:
        return self.prefill_tps > 0 and self.decode_tps > 0

    def seconds(self, prompt_tokens: float, output_tokens: float) -> float:
        return (prompt_tokens / (self.prefill_tps or DEFAULT_PREFILL_TPS)
                + output_tokens / (self.decode_tps or DEFAULT_DECODE_TPS))


def _mix(old: float, new: float) -> float:
    return new if old <= 0 else 0.5 * old + 0.5 * new


@dataclass
class SummaryPlan:
    """Decided before starting (and shown to the user): one pass or N chunks, tokens, ETA."""

    mode: str
    total_tokens: int
    estimated: bool
    chunk_count: int
    n_ctx: int
    budget: int
    target: int
    map_tokens: int
    lang: str
    chunks: list[Chunk] | None  # None for a large document (chunked lazily) and for one pass

    def eta(self, speeds: Speeds, preset: str) -> float:
        if self.mode == "single":
            return speeds.seconds(self.total_tokens, ANSWER_TOKENS[preset] * 0.7)
        out = self.chunk_count * self.map_tokens * 0.8
        final = speeds.seconds(out, FINAL_TOKENS[preset] * 0.6) if preset in FINAL_TOKENS else 0.0
        return speeds.seconds(self.total_tokens, out) + final


def summary_language(document: ExtractedDocument, options: SummaryOptions) -> str:
    """The language code the summary is written in: the one asked for, or the document's ('en' when unsure)."""
    if options.lang != "auto":
        language = resolve_language(options.lang)
        return language.code if language else options.lang
    code, _confidence = detect_language(document.sample())
    return "en" if code == UNDETERMINED else code


def plan_summary(engine: Engine, document: ExtractedDocument, options: SummaryOptions) -> SummaryPlan:
    """Count tokens and decide one pass or map-reduce; runs on the engine thread."""
    loaded = engine.loaded
    if loaded is None:
        raise EngineError("No model is loaded.")
    n_ctx = loaded.n_ctx
    count = make_counter(engine)
    lang = summary_language(document, options)
    total, estimated, ratio = count_document(document, count)
    single = prompt_size(engine, single_prompt("", "detailed", lang))
    if not document.large and total + single + SINGLE_RESERVE + MARGIN <= n_ctx:
        return SummaryPlan("single", total, False, 1, n_ctx, n_ctx, n_ctx, 0, lang, None)
    overhead = prompt_size(engine, map_prompt("", lang))
    budget = n_ctx - overhead - options.map_max_tokens - MARGIN
    if budget < 64:
        raise EngineError(f"The context of {n_ctx:,} tokens is too small to summarize a long document; "
                          "load the model with a larger context.")
    target, chunks, chunk_count = plan_chunks(document, total, budget, count, ratio)
    map_tokens = min(options.map_max_tokens, max(24, target // 80))  # decoding is ~5-10x slower than reading
    return SummaryPlan("map-reduce", total, estimated, chunk_count, n_ctx, budget, target, map_tokens, lang, chunks)


def count_document(document: ExtractedDocument, count: Callable[[str], int]) -> tuple[int, bool, TokenRatio]:
    """(tokens in the document, whether that is an estimate, characters per token learnt).

    A large document is estimated from a 50,000-character sample rather than counted whole.
    """
    ratio = TokenRatio()
    if document.large:
        sample = document.sample(50000)
        ratio.learn(len(sample), max(1, count(sample)))
        return ratio.estimate(document.characters), True, ratio
    text = document.text
    total = count(text)
    ratio.learn(len(text), total)
    return total, False, ratio


def plan_chunks(document: ExtractedDocument, total: int, budget: int, count: Callable[[str], int],
                ratio: TokenRatio) -> tuple[int, list[Chunk] | None, int]:
    """(target tokens per chunk, the chunks or None for a large document read as it goes, how many).

    Chunks come out even, so the last one is never tiny.
    """
    n = max(1, math.ceil(total / (budget * 0.92)))  # chunks fill ~92-97% (paragraphs don't split)
    target = min(budget, math.ceil(total / n * 1.08))
    chunks = None if document.large else list(chunk_sections(document.iter_sections(), budget, count, target, ratio))
    return target, chunks, len(chunks) if chunks is not None else n


def measure_speeds(engine: Engine) -> Speeds:
    """A quick measurement (~1 s): a short prompt and a few tokens, for the first ETA."""
    words = ["kestrel", "river", "stone", "lantern", "orchard", "signal", "harbor", "meadow", "copper", "violet"]
    text = " ".join(words[(i * 7) % len(words)] for i in range(160))
    params = GenerationParams(max_tokens=8, temperature=0.0, save_state=False)
    for _ in engine.stream([ChatMessage("user", f"{time.time_ns()} {text}")], params):
        pass
    speeds = Speeds()
    speeds.learn(engine.last_stats)
    return speeds
