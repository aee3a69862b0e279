"""What a summary run hands back: points with their sources, per-chunk facts, and progress reports.

Sources are tracked structurally: each map output covers one chunk and each reduce
output the chunks of its inputs, so no model has to copy citations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.documents.chunking import source_label
from app.engines.contract import GenerationStats


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


def merge_sources(sources: list[SourceRange]) -> SourceRange:
    """The range a combined summary covers: first of the first, last of the last, every chunk."""
    chunks = sorted({c for s in sources for c in s.chunks})
    return SourceRange(sources[0].first, sources[-1].last, tuple(chunks))


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
    """The summary (Markdown), its points and sources; speeds are 0.0 when none was measured."""

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
