"""The engine contract: the small vocabulary every engine speaks and every feature uses.

Kept free of llama.cpp, HTTP and Qt so the llama engine, the fake engine, a remote
engine, the worker thread and the tests all share it. Nothing here assumes a model
file: a model is a :data:`ModelSpec` (a local GGUF or a server endpoint), the loaded
description's llama-only fields are optional, and every speed figure says where it was
measured, or is ``None`` when nobody measured it.

Capabilities beyond plain chat are declared as protocols (:class:`TokenEngine`,
:class:`LogprobEngine`, :class:`ConcurrentEngine`, :class:`BatchEngine`) that an engine class inherits
explicitly; callers check them with ``isinstance``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
#: "error": the reply ended because something failed (a server cut the stream, a timeout).
StopReason = Literal["eos", "length", "stop", "cancelled", "context", "error"]
#: Where a figure was measured: by the engine in this process, reported by a server,
#: or timed here on the client side of a connection.
Source = Literal["engine", "server", "client"]
#: Speculative decoding for a reply: "auto" drafts (with the draft model when one is loaded, else
#: from n-grams of the prompt and reply) while it makes the reply faster; "ngram" and "draft"
#: always draft that way (for measuring); "off" never drafts.
Speculation = Literal["auto", "off", "ngram", "draft"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation as the engine sees it."""

    role: Role
    content: str


# ---- what to load ---------------------------------------------------------------------
@dataclass(frozen=True)
class LocalModel:
    """A GGUF file on this machine. ``n_ctx`` is rounded up to a multiple of 256 by the engine."""

    path: Path
    n_ctx: int = 4096
    n_threads: int | None = None  # None: physical cores, as llama.cpp picks
    n_gpu_layers: int = -1  # -1: automatic (as many as fit in free VRAM), 0: CPU only
    allow_fallback: bool = True  # on a memory failure, retry with fewer GPU layers, then less context
    flash_attn: bool | None = None  # None: let llama.cpp decide (auto)
    state_budget_mb: int = 2048  # disk for saved conversation KV states (app.engines.llama.states); 0 turns saving off
    draft_model: Path | None = None  # a smaller GGUF with the same vocabulary, for speculative decoding
    parallel_sequences: int = 0  # document work decoded as this many sequences at once; 0: automatic

    @property
    def label(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Endpoint:
    """A model on a server that speaks the OpenAI API.

    ``credential`` names a stored key (never the key itself); ``n_ctx`` is the context
    size when the server does not report it; ``ca_file`` verifies a private https server.
    """

    url: str
    model_id: str
    credential: str | None = None
    n_ctx: int | None = None
    ca_file: str | None = None  # a CA bundle to verify an https server's certificate with
    parallel: int | None = None  # replies the server may run at once for us; None: as it reports, else 1

    @property
    def label(self) -> str:
        return f"{self.model_id} @ {self.url}"


ModelSpec = LocalModel | Endpoint


# ---- how to generate ------------------------------------------------------------------
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
    #: keep the conversation's KV state on disk after the reply (an engine that can): a chat or an
    #: API conversation is continued later; a one-off document step is not worth the disk
    save_state: bool = True
    speculative: Speculation = "auto"


# ---- what came back -------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedModel:
    """What a successful load reports to the user. Fields an engine cannot know are None."""

    spec: ModelSpec
    name: str
    n_ctx: int
    backend: str  # "CPU", "CUDA", "Metal", ... or the server's kind
    chat_format: str  # "gguf-template", "plain", or "server" when the server formats the prompt
    load_s: float
    quant: str | None = None
    n_ctx_train: int | None = None
    gpu_layers: int | None = None
    n_layers: int | None = None
    adjustments: tuple[str, ...] = ()  # what a self-healing load changed, in words
    exact_counts: bool = True  # False: token counts are estimates (a server that cannot tokenize for us)

    @property
    def path(self) -> Path | None:
        """The model file, for a local model."""
        return self.spec.path if isinstance(self.spec, LocalModel) else None


@dataclass(frozen=True)
class ServerFigures:
    """What a server reported about one reply in its own words (each None when it did not say).

    Kept beside the client-side figures of :class:`GenerationStats`, so both can be shown
    and the difference (network and queueing) seen.
    """

    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    evaluated_tokens: int | None = None
    completion_tokens: int | None = None
    prefill_s: float | None = None
    prefill_tps: float | None = None
    decode_s: float | None = None
    decode_tps: float | None = None

    @property
    def empty(self) -> bool:
        return all(value is None for value in asdict(self).values())


@dataclass(frozen=True)
class LiveStats:
    """A progress snapshot sent at most every 0.25 s while a reply is produced."""

    phase: Literal["prefill", "decode"]
    prompt_tokens: int
    evaluated_tokens: int  # prompt tokens evaluated so far (prefill progress)
    to_evaluate: int  # prompt tokens that need evaluating (not from cache)
    completion_tokens: int
    elapsed_s: float
    decode_tps: float | None  # rolling over the last ~2 s of decoding; None until known
    server: ServerFigures | None = None  # a server's own running figures (llama-server's per-token timings)
    drafted_tokens: int | None = None  # speculative decoding: tokens proposed so far (None: not drafting)
    accepted_tokens: int | None = None  # of those, the tokens the model agreed with


#: The figures of :class:`GenerationStats` that carry a source.
FIGURES = ("prompt_tokens", "cached_tokens", "evaluated_tokens", "completion_tokens", "ttft_s",
           "prefill_s", "prefill_tps", "decode_s", "decode_tps", "total_s", "context_used")


@dataclass(frozen=True)
class GenerationStats:
    """Honest figures for one reply.

    A figure nobody measured is None (shown as unknown, never as zero). ``source`` says
    where the figures were measured; ``sources`` overrides it per figure when they come
    from different places (a server's token counts beside client-side timings).
    """

    completion_tokens: int
    total_s: float
    stop_reason: StopReason
    backend: str
    model: str
    prompt_tokens: int | None = None
    cached_tokens: int | None = None  # prompt tokens reused from the KV cache
    evaluated_tokens: int | None = None  # prompt tokens actually evaluated this turn
    ttft_s: float | None = None  # request start to first token, including tokenizing and prefill
    prefill_s: float | None = None
    prefill_tps: float | None = None
    decode_s: float | None = None  # first token to last token
    decode_tps: float | None = None  # (completion_tokens - 1) / decode_s: the first token is prefill's
    n_ctx: int | None = None
    context_used: int | None = None  # tokens in the KV cache after the reply
    gpu_layers: int | None = None
    engine_rss_bytes: int | None = None  # resident memory of the engine's own process after the reply
    server: ServerFigures | None = None  # a remote server's own figures for this reply, when it reports any
    source: Source = "engine"
    sources: Mapping[str, Source] = field(default_factory=dict)
    restored_tokens: int | None = None  # prompt tokens taken from a conversation state saved on disk
    restore_s: float | None = None  # time to read and restore that state (part of ttft_s)
    drafted_tokens: int | None = None  # speculative decoding: tokens proposed by the draft (None: it did not run)
    accepted_tokens: int | None = None  # drafted tokens the model agreed with (each saved a decode step)

    def source_of(self, figure: str) -> Source | None:
        """Where ``figure`` was measured, or None when it is unknown."""
        if getattr(self, figure) is None:
            return None
        return self.sources.get(figure, self.source)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (the CLI's ``--json`` line and the history are built from this)."""
        data = asdict(self)
        data["sources"] = {name: self.source_of(name) for name in FIGURES if self.source_of(name) is not None}
        del data["source"]
        return data


ProgressCallback = Callable[[LiveStats], None]
LoadProgress = Callable[[float], None]


# ---- errors ---------------------------------------------------------------------------
class EngineError(RuntimeError):
    """A problem the user must be told about (bad file, out of memory, prompt too long)."""


class LoadCancelled(EngineError):
    """The load was cancelled (the window closed, or another load replaced it)."""


class EngineCrashed(EngineError):
    """The engine's process died (a native assert, a segfault, out of memory, killed).

    ``model`` is the model it held or was loading, so the caller can tell which model
    to reload (the last good one) and which one to stop loading automatically.
    """

    def __init__(self, message: str, model: ModelSpec | None = None) -> None:
        super().__init__(message)
        self.model = model


class ContextOverflowError(EngineError):
    """The prompt does not fit the context window."""

    def __init__(self, prompt_tokens: int, n_ctx: int, message: str) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx


# ---- the engines ----------------------------------------------------------------------
class Engine(Protocol):
    """What every engine offers: load a model, count a prompt, stream a reply."""

    @property
    def loaded(self) -> LoadedModel | None: ...

    @property
    def last_stats(self) -> GenerationStats | None: ...

    def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        """Load ``spec``; raises EngineError (LoadCancelled once ``cancel`` is set)."""
        ...

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


@runtime_checkable
class TokenEngine(Engine, Protocol):
    """An engine that exposes its tokenizer, so prompts can be measured and built exactly."""

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]: ...

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        """The formatted prompt's tokens and the stop strings its format needs."""
        ...

    def stream_tokens(
        self,
        tokens: list[int],
        params: GenerationParams,
        *,
        stop: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
        extra_stops: tuple[str, ...] = (),
        started: float | None = None,
    ) -> Iterator[str]:
        """Like ``stream`` for an already tokenized prompt.

        ``started`` (a ``time.perf_counter()`` value) is when the request began, so time to
        first token includes the tokenizing done before; None: now.
        """
        ...


@runtime_checkable
class LogprobEngine(Engine, Protocol):
    """An engine that returns next-token log-probabilities (the quantization comparison)."""

    def next_token_logprobs(self, tokens: list[int]) -> Any:
        """An ``n x n_vocab`` numpy array of log-probabilities for every position."""
        ...


@runtime_checkable
class ConcurrentEngine(Engine, Protocol):
    """An engine that can run several replies at once (a server with parallel slots).

    ``stream_concurrent`` may be called from several threads at the same time; each reply's
    figures go to its own ``on_stats`` instead of the shared ``last_stats``.
    """

    @property
    def parallel(self) -> int:
        """How many replies may run at once (1: one at a time)."""
        ...

    def stream_concurrent(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stop: threading.Event | None = None,
        on_stats: Callable[[GenerationStats], None] | None = None,
    ) -> Iterator[str]:
        """Like ``stream``; ``on_stats`` gets this reply's figures when the iterator ends, however it ends."""
        ...


#: One prompt of a batch: chat messages (formatted by the model's chat format), or text the
#: model continues as it is (a base model's completion-style request, tokenized with BOS).
BatchPrompt = Sequence[ChatMessage] | str


@dataclass(frozen=True)
class BatchItem:
    """One event of a batched run: a delta of prompt ``index``'s reply, or (``stats`` set) the end of that reply."""

    index: int
    text: str = ""
    stats: GenerationStats | None = None


@runtime_checkable
class BatchEngine(Engine, Protocol):
    """An engine that decodes several replies together (separate sequences, one model step for all).

    Document work (summary map steps, translated segments) sends its prompts in one batch;
    the results are those of sending them one by one, sooner.
    """

    @property
    def batch_width(self) -> int:
        """How many sequences decode together (1: no batching)."""
        ...

    def stream_batch(
        self,
        prompts: Sequence[BatchPrompt],
        params: GenerationParams | Sequence[GenerationParams],
        stop: threading.Event | None = None,
    ) -> Iterator[BatchItem]:
        """Every prompt's reply, up to ``batch_width`` at a time, a new prompt admitted as soon as a sequence ends.

        ``params``: one for every prompt, or one per prompt. Each reply ends with exactly one
        item with ``stats`` (its own figures, timed from when its sequence started; stop_reason
        "cancelled" for a reply stopped by ``stop`` or :meth:`end_sequence`). ``last_stats``
        holds the whole run's figures when the iterator ends.
        """
        ...

    def end_sequence(self, index: int) -> None:
        """End prompt ``index``'s reply in the running batch now (the reader has what it needs).

        Its closing item follows; ignored once that reply has ended or when no batch runs.
        """
        ...


EngineFactory = Callable[[ModelSpec], Engine]
