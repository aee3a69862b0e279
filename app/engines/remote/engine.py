"""The remote engine: chat with a model on a server that speaks the OpenAI API.

``load`` checks the endpoint (reachable, key accepted, the model listed) and learns what it
can about the server (:mod:`~app.engines.remote.discovery`); ``stream`` posts a streamed chat
completion and yields the content as it arrives; ``count_tokens`` asks the server's tokenizer
when it has one. It connects to nothing but the endpoint, and only inside those calls.

Every failure is an :class:`EngineError` in one line, raised after the deltas already
yielded (they stay with the caller) and with ``last_stats`` set to what is known; a reply
that ends badly has ``stop_reason`` ``"error"`` and the error's message says what happened.

Replies go to ``/v1/chat/completions``, except on Ollama, whose native ``/api/chat`` reports
the durations it measured (:mod:`~app.engines.remote.ollama`). llama-server is asked for its
running figures with every token (``timings_per_token``) so the live readout can show them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from huggingface_hub.utils import httpx

from app.engines.contract import (
    ChatMessage,
    ConcurrentEngine,
    Endpoint,
    EngineError,
    GenerationParams,
    GenerationStats,
    LoadCancelled,
    LoadedModel,
    LoadProgress,
    ModelSpec,
    ProgressCallback,
    ServerFigures,
    StopReason,
)
from app.engines.remote import ollama
from app.engines.remote.client import (
    Answer,
    ServerConnection,
    Timeouts,
    context_overflow,
    http_failure,
    parse_json,
    server_words,
    transport_failure,
)
from app.engines.remote.discovery import ServerInfo, TokenCounting, count_prompt, discover, estimate_tokens
from app.engines.remote.sse import Chunk, MalformedChunk, StreamedError, read_chunks
from app.engines.remote.stats import ReplyClock, ollama_figures, reply_stats, server_figures
from app.engines.remote.watch import StreamWatch

#: The context size assumed when neither the server nor the connection says it.
DEFAULT_N_CTX = 4096
FAILED: StopReason = "error"
_REASONS: dict[str, StopReason] = {"stop": "eos", "length": "length", "content_filter": "stop"}

KeyResolver = Callable[[str], str | None]


def _name(model_id: str) -> str:
    """llama-cpp-python lists a model by its file path: show the file's name."""
    return model_id.replace("\\", "/").rsplit("/", 1)[-1] if model_id.lower().endswith(".gguf") else model_id


class RemoteEngine(ConcurrentEngine):
    """An engine for an :class:`Endpoint`: chat, several replies at once where the server allows.

    No token-level or log-probability capability: the server owns the tokenizer and the template.
    """

    def __init__(self, api_key: str | None = None, *, resolve_key: KeyResolver | None = None,
                 connect_s: float = 10.0, request_s: float = 30.0, first_byte_s: float = 600.0,
                 idle_s: float = 120.0, verify: bool | str = True) -> None:
        """``api_key`` is used as given; otherwise ``resolve_key(spec.credential)`` finds the stored key.

        ``verify``: check certificates (True), a CA bundle file, or False. Timeouts in seconds:
        connecting, one JSON call, request to first content (a long prompt's prefill), and the
        longest gap between chunks once content flows.
        """
        self._api_key = api_key
        self._resolve_key = resolve_key
        self.timeouts = Timeouts(connect_s=connect_s, request_s=request_s, first_byte_s=first_byte_s, idle_s=idle_s)
        self._verify = verify
        self._conn: ServerConnection | None = None
        self._info: ServerInfo | None = None
        self._loaded: LoadedModel | None = None
        self._last_stats: GenerationStats | None = None
        self._last_server: ServerFigures | None = None
        self._counts_exact = False

    # ---- state -----------------------------------------------------------------------
    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def last_stats(self) -> GenerationStats | None:
        return self._last_stats

    @property
    def last_server_figures(self) -> ServerFigures | None:
        """What the server itself reported about the last reply (None: it reported nothing)."""
        return self._last_server

    @property
    def server_kind(self) -> str | None:
        return self._info.kind if self._info is not None else None

    @property
    def token_counting(self) -> TokenCounting:
        """How ``count_tokens`` counts on this server (before any call: what it will try)."""
        return self._info.counting if self._info is not None else "estimate"

    @property
    def last_count_exact(self) -> bool:
        """Whether the last ``count_tokens`` came from the server's tokenizer (False: an estimate)."""
        return self._counts_exact

    # ---- loading ---------------------------------------------------------------------
    def _key(self, spec: Endpoint) -> str | None:
        if self._api_key is not None or spec.credential is None:
            return self._api_key
        try:
            key = self._resolve_key(spec.credential) if self._resolve_key is not None else None
        except RuntimeError as exc:  # the resolver says where it looked (app.base.credentials.CredentialError)
            raise EngineError(f"Cannot use the API key for {spec.url}: {exc}.") from exc
        if not key:
            raise EngineError(f"The API key {spec.credential!r} for {spec.url} is not stored on this computer.")
        return key

    def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        """Check the endpoint and the model; each step is bounded by the connect and request timeouts."""
        if not isinstance(spec, Endpoint):
            raise EngineError(f"The remote engine connects to servers; it cannot load {spec.label}.")
        self.unload()
        started = time.perf_counter()
        if not spec.url.lower().startswith(("http://", "https://")):
            raise EngineError(f"{spec.url!r} is not a web address; it should look like http://host:8080/v1.")
        conn = ServerConnection(spec.url, api_key=self._key(spec), timeouts=self.timeouts, verify=self._verify)
        try:
            if cancel is not None and cancel.is_set():
                raise LoadCancelled(f"Loading {spec.label} was cancelled.")
            info = discover(conn, spec.model_id)
            if cancel is not None and cancel.is_set():
                raise LoadCancelled(f"Loading {spec.label} was cancelled.")
        except BaseException:
            conn.close()
            raise
        adjustments: tuple[str, ...] = ()
        n_ctx = info.n_ctx or spec.n_ctx
        if n_ctx is None:
            n_ctx = DEFAULT_N_CTX
            adjustments = (f"The server does not report its context size; Kestrel assumes {DEFAULT_N_CTX:,} "
                           "tokens (set the context size on the connection).",)
        self._conn, self._info = conn, info
        self._loaded = LoadedModel(spec=spec, name=_name(info.model_id), n_ctx=n_ctx, backend=info.kind,
                                   chat_format="server", load_s=time.perf_counter() - started,
                                   n_ctx_train=info.n_ctx_train, adjustments=adjustments,
                                   exact_counts=info.counting == "exact")
        if on_progress is not None:
            on_progress(1.0)
        return self._loaded

    def unload(self) -> None:
        """Close the HTTP clients; nothing runs on the server on our behalf afterwards."""
        conn, self._conn = self._conn, None
        self._info = None
        self._loaded = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Alias of unload, for ``contextlib.closing``."""
        self.unload()

    def _ready(self) -> tuple[ServerConnection, ServerInfo, LoadedModel]:
        if self._conn is None or self._info is None or self._loaded is None:
            raise EngineError("No model is loaded.")
        return self._conn, self._info, self._loaded

    # ---- tokens ----------------------------------------------------------------------
    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """The server's count where it has a tokenizer, else a safe over-estimate (see ``last_count_exact``)."""
        if self._conn is None or self._info is None:
            self._counts_exact = False
            return estimate_tokens(messages)
        count, self._counts_exact = count_prompt(self._conn, self._info, messages)
        return count

    # ---- generation ------------------------------------------------------------------
    @property
    def parallel(self) -> int:
        """Replies to run at once: the connection's setting, else the server's slot count, else 1."""
        if self._loaded is None or not isinstance(self._loaded.spec, Endpoint):
            return 1
        if self._loaded.spec.parallel:
            return max(1, self._loaded.spec.parallel)
        return self._info.slots if self._info is not None and self._info.slots else 1

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams,
               stop: threading.Event | None = None, on_progress: ProgressCallback | None = None) -> Iterator[str]:
        conn, info, loaded = self._ready()
        self._last_stats = None
        self._last_server = None

        def keep(stats: GenerationStats) -> None:
            self._last_stats, self._last_server = stats, stats.server

        return self._reply(conn, info, loaded, self._request(info, loaded, messages, params), messages,
                           stop or threading.Event(), on_progress, keep)

    def stream_concurrent(self, messages: Sequence[ChatMessage], params: GenerationParams,
                          stop: threading.Event | None = None,
                          on_stats: Callable[[GenerationStats], None] | None = None) -> Iterator[str]:
        """``stream`` for one of several replies at once: its figures go to ``on_stats`` only."""
        conn, info, loaded = self._ready()
        return self._reply(conn, info, loaded, self._request(info, loaded, messages, params), messages,
                           stop or threading.Event(), None, on_stats or (lambda _stats: None))

    @staticmethod
    def _request(info: ServerInfo, loaded: LoadedModel, messages: Sequence[ChatMessage],
                 params: GenerationParams) -> _Request:
        """Ollama's native chat (it reports durations), else an OpenAI chat completion."""
        if info.kind == "Ollama":
            return _Request(ollama.CHAT_PATH, True, ollama.chat_body(info.model_id, messages, params, loaded.n_ctx),
                            ollama.ACCEPT, ollama.read_lines)
        body: dict[str, Any] = {
            "model": info.model_id, "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True, "stream_options": {"include_usage": True},
            "max_tokens": params.max_tokens, "temperature": params.temperature, "top_p": params.top_p,
        }
        if info.kind == "llama-server":
            body["timings_per_token"] = True  # its running figures, shown live
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        return _Request("/chat/completions", False, body, "text/event-stream", read_chunks)

    def _reply(self, conn: ServerConnection, info: ServerInfo, loaded: LoadedModel, request: _Request,
               messages: Sequence[ChatMessage], stop: threading.Event, on_progress: ProgressCallback | None,
               report: Callable[[GenerationStats], None]) -> Iterator[str]:
        clock = ReplyClock()
        usage: dict[str, Any] = {}
        timings: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        reason: StopReason = FAILED
        finished = False
        watch = StreamWatch(stop, first_byte_s=self.timeouts.first_byte_s, idle_s=self.timeouts.idle_s)
        url = conn.url(request.path, root=request.root)
        try:
            with watch, conn.stream(request.path, request.body, watch, root=request.root,
                                    accept=request.accept) as response:
                if response.status_code != 200:
                    text = response.read().decode("utf-8", errors="replace")
                    answer = Answer(response.status_code, parse_json(text), text)
                    raise http_failure(answer, url, model_id=info.model_id, n_ctx=loaded.n_ctx,
                                       prompt_estimate=estimate_tokens(messages))
                if on_progress is not None:
                    on_progress(clock.live(time.perf_counter()))
                for chunk in request.read(response):
                    if stop.is_set():
                        break
                    _merge(chunk, usage, timings, metrics)
                    if chunk.content:
                        now = clock.content()
                        watch.content_arrived()
                        yield chunk.content
                        if on_progress is not None and clock.due(now):
                            on_progress(clock.live(now, server_figures(usage or None, timings or None)))
                    if chunk.finish_reason is not None:
                        finished = True
                        reason = _REASONS.get(chunk.finish_reason, "stop")
                    if chunk.done:
                        break
                if stop.is_set() and not finished:
                    reason = "cancelled"
                elif not finished:
                    raise EngineError(self._cut_words(clock, "the server ended the stream"))
        except GeneratorExit:
            reason = "cancelled" if not finished else reason
            raise
        except httpx.TransportError as exc:
            if watch.fired == "stop" or (stop.is_set() and not finished):
                reason = "cancelled"
            elif finished:
                pass  # the reply was complete; only the trailing usage or [DONE] was lost
            else:
                raise self._transport_error(exc, watch, clock, url) from exc
        except MalformedChunk as exc:
            raise EngineError(self._cut_words(clock, f"the server sent a malformed chunk ({exc})")) from exc
        except StreamedError as exc:
            words = server_words(exc.data)
            if "context" in words.lower() or "exceed" in words.lower():
                raise context_overflow(exc.data, words, loaded.n_ctx, estimate_tokens(messages)) from exc
            raise EngineError(self._cut_words(clock, f"the server reported an error: {words}")) from exc
        finally:
            watch.finish()
            figures = ollama_figures(metrics) if metrics else server_figures(usage or None, timings or None)
            report(reply_stats(clock, figures, reason=reason, backend=loaded.backend, model=loaded.name,
                               n_ctx=loaded.n_ctx))

    def _transport_error(self, exc: httpx.TransportError, watch: StreamWatch, clock: ReplyClock,
                         url: str) -> EngineError:
        if watch.fired == "first-byte":
            return EngineError(f"The server at {url} sent nothing within {self.timeouts.first_byte_s:g} s "
                               "(the first-byte timeout); it may be overloaded or stuck.")
        if watch.fired == "idle":
            return EngineError(self._cut_words(clock, f"the server went silent for {self.timeouts.idle_s:g} s"))
        if clock.chunks == 0 and not isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError):
            return transport_failure(exc, url, self.timeouts)
        return EngineError(self._cut_words(clock, "the connection to the server was cut"))

    @staticmethod
    def _cut_words(clock: ReplyClock, what: str) -> str:
        if clock.chunks == 0:
            return f"The reply failed before any text came: {what}."
        return f"The reply was cut: {what} after {clock.chunks:,} chunks; the text received so far is kept."


@dataclass(frozen=True)
class _Request:
    """Where and how one reply is asked for, and how its stream is read."""

    path: str
    root: bool  # under the server's root (Ollama's /api/...), not under the base URL's /v1
    body: dict[str, Any]
    accept: str
    read: Callable[[httpx.Response], Iterator[Chunk]]


def _merge(chunk: Chunk, usage: dict[str, Any], timings: dict[str, Any], metrics: dict[str, Any]) -> None:
    if chunk.usage is not None:
        usage.update(chunk.usage)
    if chunk.timings is not None:
        timings.update(chunk.timings)
    if chunk.metrics is not None:
        metrics.update(chunk.metrics)
