"""Whole-document summaries: every part is read, every point says where it came from.

One pass when the document fits the context with room for the answer; otherwise map
(summarize EVERY chunk) then reduce (combine neighbouring summaries, recursively, only
while they do not fit or are too many to list). Sources are tracked structurally: each
map output covers one chunk and each reduce output the chunks of its inputs, so no
model has to copy citations.

Speed: prefill is ~5x faster than decoding on a CPU, so chunks fill most of the context,
map answers are capped short, the bullet preset needs no reduce call at all, and the
fixed instruction comes before the text so the engine's KV prefix reuse skips it.
Chunk summaries are cached on disk per document + model + map settings; the preset is
not part of that key, so changing only the final format re-uses every chunk summary.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.core import paths
from app.core.chunking import Chunk, TokenRatio, chunk_sections, source_label
from app.core.extract import ExtractedDocument
from app.llm.types import ChatMessage, ContextOverflowError, Engine, EngineError, GenerationParams, GenerationStats

PRESETS = ("tldr", "bullets", "detailed")
LANGS = ("auto", "en", "zh")
PROMPT_VERSION = 1
MARGIN = 16  # tokens kept free: separately counted pieces may join into a token or two more
ANSWER_TOKENS = {"tldr": 120, "bullets": 240, "detailed": 400}  # one-pass answers
FINAL_TOKENS = {"tldr": 96, "detailed": 160}  # the overview written from the chunk summaries
SINGLE_RESERVE = max(ANSWER_TOKENS.values())  # same plan for every preset: switching stays cheap
MAX_POINTS = {"bullets": 12, "detailed": 24}
REDUCE_TOKENS = 96
PROGRESS_INTERVAL_S = 0.1
LANG_NAMES = {"en": "English", "zh": "Chinese", "fr": "French", "de": "German", "es": "Spanish",
              "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "ja": "Japanese",
              "ko": "Korean", "ar": "Arabic", "pl": "Polish", "tr": "Turkish", "sv": "Swedish"}
_TAILS = {"tldr": "TL;DR of the whole document in two or three sentences:",
          "bullets": "Its key points as a bulleted list, one short line per point:",
          "detailed": "A detailed summary in a few paragraphs that covers every part:"}
_FINAL_TAILS = {"tldr": "TL;DR of the whole document in two or three sentences:",
                "detailed": "An overview of the whole document in one paragraph:"}
_REDUCE_TAIL = "These parts combined into one summary of three or four sentences:"


def _lang_line(lang: str) -> str:
    name = LANG_NAMES.get(lang)
    return f" Write in {name}." if name else " Write in the same language as the text."


def map_prompt(text: str, lang: str) -> str:
    """Instruction first (identical for every chunk: reused from the KV cache), then the chunk."""
    return ("Summarize this part of a longer document in two or three sentences: its main facts and "
            f"ideas only.{_lang_line(lang)}\n\n<<<\n{text}\n>>>\n\nSummary of this part:")


def single_prompt(text: str, preset: str, lang: str) -> str:
    """The preset comes last, so switching presets re-evaluates only the tail."""
    return f"Summarize the document below.{_lang_line(lang)}\n\n<<<\n{text}\n>>>\n\n{_TAILS[preset]}"


def reduce_prompt(texts: list[str], tail: str, lang: str) -> str:
    items = "\n".join(f"- {t}" for t in texts)
    return f"Below are summaries of consecutive parts of one document, in order.{_lang_line(lang)}\n\n<<<\n{items}\n>>>\n\n{tail}"


@dataclass(frozen=True)
class SummaryOptions:
    preset: str = "bullets"
    lang: str = "auto"
    map_max_tokens: int = 96
    temperature: float = 0.2
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r} (choose {', '.join(PRESETS)})")
        if self.lang not in LANGS:
            raise ValueError(f"unknown language {self.lang!r} (choose {', '.join(LANGS)})")


@dataclass(frozen=True)
class SourceRange:
    """Where a point came from: first/last section labels and the chunks it covers."""

    first: str
    last: str
    chunks: tuple[int, ...]

    @property
    def label(self) -> str:
        return source_label(self.first, self.last)

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "first": self.first, "last": self.last, "chunks": list(self.chunks)}


@dataclass(frozen=True)
class Point:
    text: str
    source: SourceRange


@dataclass(frozen=True)
class ChunkInfo:
    index: int
    label: str
    first: str
    last: str
    tokens: int
    text: str  # empty for large (streamed) documents: they are never held in memory
    summarized: bool = False
    cached: bool = False


@dataclass
class SummaryResult:
    summary: str
    points: list[Point]
    chunks: int
    chunks_summarized: int
    sources: list[dict[str, object]]
    input_tokens: int
    seconds: float
    cancelled: bool
    mode: str  # "single" or "map-reduce"
    preset: str
    lang: str  # the language asked of the model ("auto" resolved)
    cached_chunks: int = 0
    chunk_infos: list[ChunkInfo] = field(default_factory=list)
    prefill_tps: float = 0.0
    decode_tps: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {"summary": self.summary, "chunks": self.chunks, "chunks_summarized": self.chunks_summarized,
                "sources": self.sources, "input_tokens": self.input_tokens, "seconds": round(self.seconds, 3),
                "cancelled": self.cancelled, "mode": self.mode, "preset": self.preset, "lang": self.lang,
                "cached_chunks": self.cached_chunks, "prefill_tps": round(self.prefill_tps, 1),
                "decode_tps": round(self.decode_tps, 1),
                "points": [{"text": p.text, **p.source.to_dict()} for p in self.points],
                "input_tokens_per_s": round(self.input_tokens / self.seconds, 1) if self.seconds > 0 else 0.0}


@dataclass(frozen=True)
class SummaryProgress:
    """Sent to ``on_progress``: where the work is, what is left, and new text."""

    phase: str  # "map", "reduce", "final" or "single"
    chunk: int  # 1-based chunk being summarized (map phase)
    chunks: int
    estimated: bool  # ``chunks`` is an estimate (a large document is chunked as it is read)
    elapsed_s: float
    eta_s: float | None
    delta: str = ""  # text generated since the last report
    point: Point | None = None  # a chunk summary just finished
    stats: GenerationStats | None = None  # the engine's figures for the call that just ended


@dataclass
class Speeds:
    """Measured engine speeds; the ETA uses them, and they improve as work is done."""

    prefill_tps: float = 0.0
    decode_tps: float = 0.0

    def learn(self, stats: GenerationStats | None) -> None:
        if stats is None:
            return
        if stats.evaluated_tokens >= 32 and stats.prefill_tps > 0:
            self.prefill_tps = _mix(self.prefill_tps, stats.prefill_tps)
        if stats.completion_tokens >= 4 and stats.decode_tps > 0:
            self.decode_tps = _mix(self.decode_tps, stats.decode_tps)

    @property
    def known(self) -> bool:
        return self.prefill_tps > 0 and self.decode_tps > 0

    def seconds(self, prompt_tokens: float, output_tokens: float) -> float:
        return prompt_tokens / (self.prefill_tps or 150.0) + output_tokens / (self.decode_tps or 25.0)


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


class SummaryCache:
    """Small JSON files under ``paths.cache_dir()/summaries/<key>/``; failures only cost time."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.cache_dir() / "summaries"

    def get(self, key: str, name: str) -> str | None:
        try:
            data = json.loads((self.root / key / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        text = data.get("text") if isinstance(data, dict) else None
        return text if isinstance(text, str) else None

    def put(self, key: str, name: str, text: str) -> None:
        try:
            folder = self.root / key
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_text(json.dumps({"text": text}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, folder / f"{name}.json")
        except OSError:
            pass


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_identity(engine: Engine) -> str:
    """Path + size + mtime of the model file (name + quant when there is no file)."""
    loaded = engine.loaded
    if loaded is None:
        raise EngineError("No model is loaded.")
    try:
        st = Path(loaded.path).stat()
        return f"{Path(loaded.path).resolve()}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        return f"{loaded.name}|{loaded.quant}|{loaded.path}"


def make_counter(engine: Engine) -> Callable[[str], int]:
    """``count(text)``: the engine's own tokenizer, or the prompt-size difference as a fallback."""
    tokenize = getattr(engine, "tokenize", None)
    if callable(tokenize):
        return lambda text: len(tokenize(text, add_special=False))
    base = engine.count_tokens([ChatMessage("user", "")])
    return lambda text: max(1, engine.count_tokens([ChatMessage("user", text)]) - base)


def detect_language(text: str) -> str:
    """ISO code of the text's language ('en' when unsure)."""
    sample = text[:4000]
    if not sample.strip():
        return "en"
    cjk = sum(1 for ch in sample if "\u4e00" <= ch <= "\u9fff")
    if cjk > len(sample) * 0.2:
        return "zh"
    try:
        import py3langid  # noqa: PLC0415 - 0.4 s to load its model: only when needed

        return str(py3langid.classify(sample)[0])
    except Exception:  # noqa: BLE001 - detection is a nicety; never fail a summary over it
        return "en"


def _prompt_size(engine: Engine, content: str) -> int:
    return engine.count_tokens([ChatMessage("user", content)])


def plan_summary(engine: Engine, document: ExtractedDocument, options: SummaryOptions) -> SummaryPlan:
    """Count tokens and decide one pass or map-reduce; runs on the engine thread."""
    loaded = engine.loaded
    if loaded is None:
        raise EngineError("No model is loaded.")
    n_ctx = loaded.n_ctx
    count = make_counter(engine)
    lang = options.lang if options.lang != "auto" else detect_language(document.sample())
    ratio = TokenRatio()
    if document.large:
        sample = document.sample(50000)
        ratio.learn(len(sample), max(1, count(sample)))
        total, estimated = ratio.estimate(document.characters), True
    else:
        text = document.text
        total, estimated = count(text), False
        ratio.learn(len(text), total)
    single = _prompt_size(engine, single_prompt("", "detailed", lang))
    if not document.large and total + single + SINGLE_RESERVE + MARGIN <= n_ctx:
        return SummaryPlan("single", total, False, 1, n_ctx, n_ctx, n_ctx, 0, lang, None)
    overhead = _prompt_size(engine, map_prompt("", lang))
    budget = n_ctx - overhead - options.map_max_tokens - MARGIN
    if budget < 64:
        raise EngineError(f"The context of {n_ctx:,} tokens is too small to summarize a long document; "
                          "load the model with a larger context.")
    n = max(1, math.ceil(total / (budget * 0.92)))  # chunks fill ~92-97% (paragraphs don't split)
    target = min(budget, math.ceil(total / n * 1.08))  # even chunks: never a tiny last one
    map_tokens = min(options.map_max_tokens, max(24, target // 80))  # decoding is ~5-10x slower than reading
    chunks = None if document.large else list(chunk_sections(document.iter_sections(), budget, count, target, ratio))
    return SummaryPlan("map-reduce", total, estimated, len(chunks) if chunks is not None else n, n_ctx, budget,
                       target, map_tokens, lang, chunks)


def summarize(engine: Engine, document: ExtractedDocument, options: SummaryOptions | None = None, *,
              stop: threading.Event | None = None, on_progress: Callable[[SummaryProgress], None] | None = None,
              plan: SummaryPlan | None = None, cache: SummaryCache | None = None,
              speeds: Speeds | None = None) -> SummaryResult:
    """Summarize the whole document; on cancel, returns what was done (``cancelled=True``)."""
    from app.core.summary_run import Run  # noqa: PLC0415 - the pipeline's moving parts

    options = options or SummaryOptions()
    started = time.perf_counter()
    plan = plan or plan_summary(engine, document, options)
    run = Run(engine, document, options, plan, stop or threading.Event(), on_progress,
              cache if cache is not None else SummaryCache(), speeds or Speeds(), started)
    return run.execute()


def measure_speeds(engine: Engine) -> Speeds:
    """A quick measurement (~1 s): a short prompt and a few tokens, for the first ETA."""
    words = "kestrel river stone lantern orchard signal harbor meadow copper violet".split()
    text = " ".join(words[(i * 7) % len(words)] for i in range(160))
    params = GenerationParams(max_tokens=8, temperature=0.0)
    for _ in engine.stream([ChatMessage("user", f"{time.time_ns()} {text}")], params):
        pass
    speeds = Speeds()
    speeds.learn(engine.last_stats)
    return speeds


def render_markdown(result: SummaryResult, links: bool = False) -> str:
    """The summary as Markdown; with ``links`` each source is a ``source:N`` link (N: point index)."""
    def ref(i: int, point: Point) -> str:
        return f"[{point.source.label}](source:{i})" if links else f"*{point.source.label}*"

    lines: list[str] = []
    points = result.points
    if result.preset == "detailed" and result.mode != "single" and not result.cancelled and points:
        overview = len(points) > 1 and len(points[0].source.chunks) == result.chunks  # parts never overlap it
        if overview:
            lines += ["**Overview** (" + ref(0, points[0]) + ")", "", points[0].text, ""]
        for i, p in enumerate(points[1:] if overview else points, 1 if overview else 0):
            lines += [f"**{ref(i, p)}**" if links else f"**{p.source.label}**", "", p.text, ""]
    elif result.preset == "bullets" or result.cancelled or len(result.points) > 1:
        lines += [f"- {p.text} ({ref(i, p)})" for i, p in enumerate(result.points)]
    else:
        lines += [f"{p.text} ({ref(i, p)})" for i, p in enumerate(result.points)]
    if result.cancelled:
        lines += ["", f"*Cancelled: {result.chunks_summarized} of {result.chunks} parts summarized.*"]
    return "\n".join(lines).strip() + "\n"


def render_text(result: SummaryResult) -> str:
    """Plain text for export: bullets and source ranges, no Markdown syntax."""
    lines: list[str] = []
    for p in result.points:
        lines.append(f"• {p.text} ({p.source.label})" if len(result.points) > 1 else f"{p.text} ({p.source.label})")
    if result.cancelled:
        lines.append(f"\nCancelled: {result.chunks_summarized} of {result.chunks} parts summarized.")
    return "\n".join(lines) + "\n"


def stream_prompt(engine: Engine, content: str, params: GenerationParams,
                  stop: threading.Event) -> Iterator[str]:
    """Stream one user message; with ``prompt_tokens``/``stream_tokens`` the size is checked exactly first."""
    messages = [ChatMessage("user", content)]
    if hasattr(engine, "prompt_tokens") and hasattr(engine, "stream_tokens") and engine.loaded is not None:
        tokens, stops = engine.prompt_tokens(messages)
        room = engine.loaded.n_ctx - len(tokens) - 1
        if room < 4:
            raise ContextOverflowError(len(tokens), engine.loaded.n_ctx,
                                       f"A summary prompt of {len(tokens):,} tokens does not fit the context.")
        params = replace(params, max_tokens=min(params.max_tokens, room))
        return engine.stream_tokens(tokens, params, stop=stop, extra_stops=stops)
    return engine.stream(messages, params, stop)
