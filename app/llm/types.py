"""Plain data passed between the engine, the CLI and the UI.

Kept free of llama.cpp and Qt so the fake engine, the worker thread and the tests
all speak the same small vocabulary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]
StopReason = Literal["eos", "length", "stop", "cancelled", "context"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation as the engine sees it."""

    role: Role
    content: str


@dataclass(frozen=True)
class LoadParams:
    """How to load a model. ``n_ctx`` is rounded up to a multiple of 256 by the engine."""

    model_path: Path
    n_ctx: int = 4096
    n_threads: int | None = None  # None: physical cores, as llama.cpp picks
    n_gpu_layers: int = -1  # -1: automatic (as many as fit in free VRAM), 0: CPU only
    allow_fallback: bool = True  # on a memory failure, retry with fewer GPU layers, then less context
    flash_attn: bool | None = None  # None: let llama.cpp decide (auto)


@dataclass(frozen=True)
class GenerationParams:
    """Sampling and length limits for one reply."""

    max_tokens: int = 512
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    seed: int | None = None  # None: a random seed
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadedModel:
    """What a successful load reports to the user."""

    path: Path
    name: str
    quant: str
    n_ctx: int
    n_ctx_train: int
    backend: str  # "CPU", "CUDA", "Metal", "Vulkan", ...
    gpu_layers: int
    n_layers: int
    chat_format: str  # "gguf-template" or "plain"
    load_s: float
    adjustments: tuple[str, ...] = ()  # what a self-healing load changed, in words


@dataclass(frozen=True)
class LiveStats:
    """A progress snapshot sent at most every 0.25 s while a reply is produced."""

    phase: Literal["prefill", "decode"]
    prompt_tokens: int
    evaluated_tokens: int  # prompt tokens evaluated so far (prefill progress)
    to_evaluate: int  # prompt tokens that need evaluating (not from cache)
    completion_tokens: int
    elapsed_s: float
    decode_tps: float  # rolling over the last ~2 s of decoding; 0 during prefill


@dataclass(frozen=True)
class GenerationStats:
    """Honest figures for one reply, measured by the engine itself."""

    prompt_tokens: int
    cached_tokens: int  # prompt tokens reused from the KV cache
    evaluated_tokens: int  # prompt tokens actually evaluated this turn
    completion_tokens: int
    ttft_s: float  # request start to first token, including tokenizing and prefill
    prefill_s: float
    prefill_tps: float
    decode_s: float  # first token to last token
    decode_tps: float  # (completion_tokens - 1) / decode_s: the first token is prefill's
    total_s: float
    stop_reason: StopReason
    n_ctx: int
    context_used: int  # tokens in the KV cache after the reply
    backend: str
    gpu_layers: int
    model: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (the CLI's ``--json`` line is built from this)."""
        return asdict(self)


ProgressCallback = Callable[[LiveStats], None]


class EngineError(RuntimeError):
    """A problem the user must be told about (bad file, out of memory, prompt too long)."""


class ContextOverflowError(EngineError):
    """The prompt does not fit the context window."""

    def __init__(self, prompt_tokens: int, n_ctx: int, message: str) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx


class Engine(Protocol):
    """What the CLI and the UI worker need from an engine (real or fake)."""

    @property
    def loaded(self) -> LoadedModel | None: ...

    @property
    def last_stats(self) -> GenerationStats | None: ...

    def load(self, params: LoadParams, on_progress: Callable[[float], None] | None = None) -> LoadedModel: ...

    def unload(self) -> None: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the formatted prompt for ``messages`` would take, generation prompt included."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stop: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Iterator[str]:
        """Yield text deltas; ``last_stats`` is set when the iterator ends, however it ends."""
        ...

