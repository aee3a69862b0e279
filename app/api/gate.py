"""The server's only way to the engine: a :class:`Gate` takes replies in arrival order.

The server never touches an engine. It hands each request to a gate with its own stop
event and a :class:`ReplySink`, and the gate runs the requests one at a time, in the order
they came. The window's gate (``app.ui.engine.gate.QtGate``) puts them on the one engine
worker the window uses; :class:`DirectGate` here runs an engine on a thread of its own, for
tests and benchmarks without Qt.

:func:`run_reply` is what both gates run for one request, so a chat request and a raw
completion mean the same thing whichever gate serves them.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from app.chat.conversation import REFUSE, answer_reserve, fit_messages
from app.engines.contract import (
    ChatMessage,
    ContextOverflowError,
    Engine,
    EngineError,
    GenerationParams,
    GenerationStats,
    LoadedModel,
    ModelSpec,
    TokenEngine,
)

log = logging.getLogger(__name__)

#: Why a reply failed, as the server answers it: ``context_length_exceeded`` and
#: ``unsupported`` are the client's to fix (400), ``engine_error`` is ours (500).
FailureCode = Literal["engine_error", "context_length_exceeded", "unsupported"]


class ReplySink(Protocol):
    """Where one reply goes. Called from any thread, in this order: ``started`` (when it
    runs), ``delta``..., ``stats`` (maybe), ``failed`` (maybe), and ``finished`` always,
    also for a request that never ran because its stop event was set while it waited."""

    def started(self) -> None: ...

    def delta(self, text: str) -> None: ...

    def stats(self, stats: GenerationStats) -> None: ...

    def failed(self, message: str, code: FailureCode = "engine_error") -> None: ...

    def finished(self) -> None: ...


@runtime_checkable
class Gate(Protocol):
    """The engine as the server sees it. Thread-safe; requests run one at a time in arrival order."""

    def model(self) -> LoadedModel | None:
        """The model loaded now (None: none)."""
        ...

    def submit(self, messages: Sequence[ChatMessage], params: GenerationParams, stop: threading.Event,
               sink: ReplySink) -> None:
        """Queue a chat reply; returns at once."""
        ...

    def submit_text(self, prompt: str, params: GenerationParams, stop: threading.Event, sink: ReplySink) -> None:
        """Queue a raw completion of ``prompt`` (no chat template); returns at once."""
        ...

    def load(self, model_id: str) -> LoadedModel:
        """Load the library model ``model_id`` after the requests queued before; blocks until loaded.

        Raises EngineError (KeyError for an id the library does not know).
        """
        ...


@dataclass(frozen=True)
class Prompt:
    """What one request asks for: chat ``messages``, or a raw ``text`` prompt."""

    messages: tuple[ChatMessage, ...] = ()
    text: str | None = None


class RawPromptUnsupported(EngineError):
    """The engine has no tokenizer of its own (a model on a server), so it cannot complete raw text."""


def failure_code(exc: EngineError) -> FailureCode:
    """How the server answers ``exc``: the client's mistake, or ours."""
    if isinstance(exc, ContextOverflowError):
        return "context_length_exceeded"
    if isinstance(exc, RawPromptUnsupported):
        return "unsupported"
    return "engine_error"


def run_reply(engine: Engine, prompt: Prompt, params: GenerationParams, stop: threading.Event,
              emit: Callable[[str], None]) -> None:
    """Stream one reply on the calling (engine) thread; raises EngineError.

    Chat messages are refused, not trimmed, when they do not fit the context with room for
    the answer: a client of an API expects its whole conversation to be read.
    """
    loaded = engine.loaded
    if loaded is None:
        raise EngineError("No model is loaded.")
    if prompt.text is not None:
        if not isinstance(engine, TokenEngine):
            raise RawPromptUnsupported(f"{loaded.name} cannot complete raw text; use /v1/chat/completions.")
        # special tokens written in the prompt count as such, as llama-server reads them
        tokens = engine.tokenize(prompt.text, add_special=True, parse_special=True)
        stream = engine.stream_tokens(tokens, params, stop=stop)
    else:
        fitted = fit_messages(prompt.messages, engine.count_tokens, loaded.n_ctx,
                              answer_reserve(loaded.n_ctx, params.max_tokens), REFUSE)
        stream = engine.stream(fitted.messages, params, stop)
    for text in stream:
        emit(text)


# ---- a gate without Qt --------------------------------------------------------------------
@dataclass(frozen=True)
class _Reply:
    prompt: Prompt
    params: GenerationParams
    stop: threading.Event
    sink: ReplySink


@dataclass(frozen=True)
class _Load:
    spec: ModelSpec
    result: Future[LoadedModel]


class DirectGate(Gate):
    """Runs ``engine`` on one thread of its own, requests in arrival order (tests, benchmarks).

    ``resolve`` turns a model id into what to load (for ``load``); without it loads are refused.
    """

    def __init__(self, engine: Engine, resolve: Callable[[str], ModelSpec] | None = None) -> None:
        self._engine = engine
        self._resolve = resolve
        self._queue: queue.Queue[_Reply | _Load | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kestrel-direct-gate", daemon=True)
        self._thread.start()

    def model(self) -> LoadedModel | None:
        return self._engine.loaded

    def submit(self, messages: Sequence[ChatMessage], params: GenerationParams, stop: threading.Event,
               sink: ReplySink) -> None:
        self._queue.put(_Reply(Prompt(messages=tuple(messages)), params, stop, sink))

    def submit_text(self, prompt: str, params: GenerationParams, stop: threading.Event, sink: ReplySink) -> None:
        self._queue.put(_Reply(Prompt(text=prompt), params, stop, sink))

    def load(self, model_id: str) -> LoadedModel:
        if self._resolve is None:
            raise EngineError("This server cannot load other models.")
        request = _Load(self._resolve(model_id), Future())
        self._queue.put(request)
        return request.result.result()

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queue (requests already stopped are skipped) and end the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, _Load):
                try:
                    item.result.set_result(self._engine.load(item.spec))
                except EngineError as exc:
                    item.result.set_exception(exc)
                continue
            self._serve(item)

    def _serve(self, reply: _Reply) -> None:
        sink = reply.sink
        try:
            if reply.stop.is_set():
                return  # its client left while it waited
            sink.started()
            before = self._engine.last_stats
            try:
                run_reply(self._engine, reply.prompt, reply.params, reply.stop, sink.delta)
            finally:
                stats = self._engine.last_stats
                if stats is not None and stats is not before:  # this reply's, not the one before
                    sink.stats(stats)
        except EngineError as exc:
            sink.failed(str(exc), failure_code(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not end the gate's thread
            log.error("API reply crashed:\n%s", traceback.format_exc())
            sink.failed(f"Unexpected error: {exc}")
        finally:
            sink.finished()
