"""What asking a document hands back: the answer, the parts it came from, and every part read.

Sources are tracked structurally, as in a summary (``app.summarize.results``): each part's
answer covers one chunk, so no model has to copy citations, and the combined answer cites
exactly the parts that answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.ask.prompts import ANSWER_TOKENS, MAP_TOKENS
from app.summarize.results import Point


@dataclass(frozen=True)
class AskOptions:
    """How long each answer may be, the sampling, and the prompt style.

    ``style``: "auto" prompts a base model (no chat template) in completion style and any
    other model with instructions; "base" and "instruct" force one.
    """

    map_max_tokens: int = MAP_TOKENS
    answer_tokens: int = ANSWER_TOKENS
    temperature: float = 0.2
    seed: int = 1234
    style: str = "auto"

    def __post_init__(self) -> None:
        if self.style not in ("auto", "base", "instruct"):
            raise ValueError(f"unknown prompt style {self.style!r} (choose auto, base or instruct)")


@dataclass(frozen=True)
class PartAnswer:
    """One part (chunk) of the document as it was asked: where it is, and what it answered."""

    index: int
    label: str
    first: str  # section labels
    last: str
    first_section: int  # section indices, to show the text again later (a chat reopened)
    last_section: int
    tokens: int
    read: bool  # asked (False: a stop came first)
    answer: str = ""  # "" when the part does not hold the answer
    text: str = ""  # the part's text; empty for large (streamed) documents

    @property
    def answered(self) -> bool:
        return bool(self.answer)

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "label": self.label, "first": self.first, "last": self.last,
                "sections": [self.first_section, self.last_section], "tokens": self.tokens, "read": self.read,
                "answered": self.answered, "answer": self.answer}


@dataclass
class AskResult:
    """The answer and its sources; ``points`` are the parts' answers, each with its own source."""

    question: str
    answer: str  # the model's answer: combined from the parts, or the one part's (or whole text's) answer
    points: list[Point]  # the parts that answered, in document order (one point: the whole text, single mode)
    parts: list[PartAnswer]
    mode: str  # "single" (the whole text in one prompt) or "map" (every part asked)
    document: str  # the document's name
    input_tokens: int
    seconds: float
    cancelled: bool
    estimated: bool = False  # the part count of a large document was an estimate when it stopped
    chunk_total: int = 0  # parts in the document (an estimate when cancelled early on a large one)
    prompt_tokens: int = 0  # every request's prompt and answer tokens together (the work done)
    completion_tokens: int = 0
    decode_tps: float = 0.0
    prefill_tps: float = 0.0

    @property
    def chunks_read(self) -> int:
        return sum(p.read for p in self.parts)

    @property
    def chunks_answered(self) -> int:
        return sum(p.answered for p in self.parts)

    def source_parts(self, point: int) -> list[PartAnswer]:
        """The parts behind point ``point`` (the whole document's one part in single mode)."""
        wanted = set(self.points[point].source.chunks) if 0 <= point < len(self.points) else set()
        return [p for p in self.parts if p.index in wanted]

    def sources(self) -> list[dict[str, object]]:
        """Each point's source: its label, section labels and indices, and the parts it covers."""
        out: list[dict[str, object]] = []
        for i, point in enumerate(self.points):
            parts = self.source_parts(i)
            sections = [parts[0].first_section, parts[-1].last_section] if parts else []
            out.append({**point.source.to_dict(), "sections": sections, "text": point.text})
        return out

    def to_json(self) -> dict[str, object]:
        return {"question": self.question, "answer": self.answer, "mode": self.mode, "document": self.document,
                "chunks": [p.to_dict() for p in self.parts], "chunk_count": self.chunk_total,
                "chunks_read": self.chunks_read, "chunks_answered": self.chunks_answered,
                "sources": self.sources(), "input_tokens": self.input_tokens, "seconds": round(self.seconds, 3),
                "cancelled": self.cancelled, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "decode_tps": round(self.decode_tps, 1),
                "prefill_tps": round(self.prefill_tps, 1)}
