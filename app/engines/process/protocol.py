"""The messages between :class:`~app.engines.process.engine.ProcessEngine` and its child.

Requests go in as ``(request_id, request)``; :class:`Stop` names a request id. Every
request ends with exactly one :class:`Done` or :class:`Failed`; before that a load sends
:class:`Progress`, and a reply sends :class:`Prompted` (the prompt is rendered and
tokenized), then :class:`Live` and :class:`Delta`; a :class:`Batch` sends :class:`Prompted`
once per prompt, then its :class:`~app.engines.contract.BatchItem` events as they are
(:class:`EndSequence` ends one of its replies early). Both ends are Kestrel's own
processes on a private pipe, so the messages are plain picklable dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.engines.contract import (
    BatchItem,
    ChatMessage,
    GenerationParams,
    GenerationStats,
    LiveStats,
    LocalModel,
)
from app.gguf.reader import GGUFInfo


# ---- parent to child --------------------------------------------------------------------
@dataclass(frozen=True)
class Load:
    """Load ``spec``; ``header`` is its GGUF header when the parent has read and checked it already."""

    spec: LocalModel
    header: GGUFInfo | None = None


@dataclass(frozen=True)
class Tokenize:
    text: str
    add_special: bool = True
    parse_special: bool = False


@dataclass(frozen=True)
class PromptTokens:
    """The formatted prompt's tokens and stop strings; ``count_only`` sends just the count."""

    messages: tuple[ChatMessage, ...]
    count_only: bool = False


@dataclass(frozen=True)
class Logprobs:
    tokens: list[int]


@dataclass(frozen=True)
class Stream:
    """One reply: from ``messages`` (rendered in the child) or from ready ``tokens``."""

    params: GenerationParams
    messages: tuple[ChatMessage, ...] = ()
    tokens: list[int] = field(default_factory=list)
    extra_stops: tuple[str, ...] = ()


@dataclass(frozen=True)
class Batch:
    """Several replies decoded together: each prompt is chat messages or text to continue, with its parameters."""

    prompts: tuple[tuple[ChatMessage, ...] | str, ...]
    params: tuple[GenerationParams, ...]


@dataclass(frozen=True)
class BatchWidth:
    """How many sequences the engine decodes together."""


Request = Load | Tokenize | PromptTokens | Logprobs | Stream | Batch | BatchWidth


@dataclass(frozen=True)
class Stop:
    """Stop (or cancel the load of) request ``request_id``; ignored once it has ended."""

    request_id: int


@dataclass(frozen=True)
class EndSequence:
    """End prompt ``index``'s reply in batch request ``request_id``; ignored once it has ended."""

    request_id: int
    index: int


# ---- child to parent --------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    fraction: float


@dataclass(frozen=True)
class Prompted:
    """The reply's prompt is rendered and tokenized: what follows is prefill and decode."""


@dataclass(frozen=True)
class Live:
    stats: LiveStats


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    value: Any = None
    stats: GenerationStats | None = None


FailureKind = Literal["error", "cancelled", "overflow", "bug"]


@dataclass(frozen=True)
class Failed:
    """The request failed; enough to raise the same kind of error in the parent."""

    kind: FailureKind
    message: str
    stats: GenerationStats | None = None
    prompt_tokens: int = 0
    n_ctx: int = 0


Reply = Progress | Prompted | Live | Delta | BatchItem | Done | Failed
