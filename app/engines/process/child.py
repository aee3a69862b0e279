"""The engine child process: one engine, requests from a pipe, answers back.

The main thread runs one request at a time (template rendering included, so a runaway
template can be stopped by a signal there); a reader thread takes :class:`Stop`
messages as they arrive and sets that request's event, so stop works within one
token. When the parent goes away the pipe closes and the child exits at once.

Anything the native code prints (a ``GGML_ASSERT`` line before an abort) goes to the
log file the parent named, which the parent reads when the child dies.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any, Literal

from app.base.child_flags import ENGINE_CHILD_FLAG
from app.engines.contract import (
    BatchEngine,
    BatchItem,
    ContextOverflowError,
    EngineError,
    LiveStats,
    LoadCancelled,
)
from app.engines.llama.states import store
from app.engines.process.protocol import (
    Batch,
    BatchWidth,
    Delta,
    Done,
    EndSequence,
    Failed,
    Live,
    Load,
    Logprobs,
    Progress,
    Prompted,
    PromptTokens,
    Reply,
    Request,
    Stop,
    Stream,
    Tokenize,
)
from app.gguf.memory import current_rss

EngineKind = Literal["llama", "fake"]
CHILD_FLAG = ENGINE_CHILD_FLAG  # the frozen bundle's executable runs the child when given this
PROGRESS_STEP = 0.01  # send load progress in steps of 1 %
# Deltas within this interval travel together: the window repaints at most ~30 times a second
# anyway, and each message wakes the parent on a core the decode could use. A delta is held
# at most until the next token (or the end), so what reaches the screen is never late by more.
DELTA_INTERVAL_S = 1 / 30
STATE_FLUSH_S = 1.5  # the parent kills a child that has not exited 2 s after closing the pipe


def _make_engine(kind: EngineKind, options: dict[str, Any]) -> Any:
    if kind == "fake":
        from app.engines.fake import FakeEngine  # noqa: PLC0415 - tests only

        return FakeEngine(**options)
    from app.engines.llama.engine import LlamaEngine  # noqa: PLC0415 - loads llama.cpp's bindings

    return LlamaEngine()


def child_main(argv: list[str]) -> int:
    """Entry point of the child: ``argv`` is the pipe's file descriptor; the first message names the engine."""
    os.environ.setdefault("GGML_NO_BACKTRACE", "1")
    conn = _connection(argv[0])
    try:
        kind, options = conn.recv()
    except (EOFError, OSError):
        return 0
    _Child(conn, _make_engine(kind, options)).run()
    return 0


def _connection(argument: str) -> Connection:
    """Our end of the pipe: an inherited descriptor (POSIX), or a shared socket read from stdin (Windows)."""
    if sys.platform == "win32" and argument == "-":
        import socket  # noqa: PLC0415 - Windows only

        return Connection(socket.fromshare(sys.stdin.buffer.read()).detach())
    return Connection(int(argument))


class _Child:
    def __init__(self, conn: Connection, engine: Any) -> None:
        self._conn = conn
        self._engine = engine
        self._inbox: queue.SimpleQueue[tuple[int, Request]] = queue.SimpleQueue()
        self._events: dict[int, threading.Event] = {}
        self._ended: dict[int, set[int]] = {}  # per batch request: the prompts whose replies the parent ended
        self._lock = threading.Lock()

    def run(self) -> None:
        threading.Thread(target=self._read, name="engine-child-reader", daemon=True).start()
        while True:
            rid, request = self._inbox.get()
            with self._lock:
                event = self._events.setdefault(rid, threading.Event())
                ended = self._ended.setdefault(rid, set())
            try:
                self._handle(request, event, ended)
            finally:
                with self._lock:
                    self._events.pop(rid, None)
                    self._ended.pop(rid, None)

    def _read(self) -> None:
        """Queue requests, set stop events; exit the process when the parent is gone."""
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                store.flush_all(STATE_FLUSH_S)  # a conversation state still being written
                os._exit(0)
            if isinstance(message, Stop):
                with self._lock:
                    event = self._events.get(message.request_id)  # None: that request has ended
                if event is not None:
                    event.set()
                continue
            if isinstance(message, EndSequence):
                with self._lock:
                    ended = self._ended.get(message.request_id)  # None: that request has ended
                    if ended is not None:
                        ended.add(message.index)
                continue
            rid, request = message
            with self._lock:
                self._events.setdefault(rid, threading.Event())
                self._ended.setdefault(rid, set())
            self._inbox.put((rid, request))

    def _send(self, reply: Reply) -> None:
        try:
            self._conn.send(reply)
        except (OSError, ValueError):
            os._exit(0)  # the parent is gone

    def _handle(self, request: Request, stop: threading.Event, ended: set[int]) -> None:
        engine = self._engine
        try:
            if isinstance(request, Load):
                if request.header is not None:  # the llama engine: the parent read the header already
                    loaded = engine.load(request.spec, self._load_progress(), stop, header=request.header)
                else:
                    loaded = engine.load(request.spec, self._load_progress(), stop)
                self._send(Done(loaded))
            elif isinstance(request, Tokenize):
                self._send(Done(engine.tokenize(request.text, add_special=request.add_special,
                                                parse_special=request.parse_special)))
            elif isinstance(request, PromptTokens):
                tokens, stops = engine.prompt_tokens(list(request.messages))
                self._send(Done(len(tokens) if request.count_only else (tokens, stops)))
            elif isinstance(request, Logprobs):
                import numpy as np  # noqa: PLC0415 - only the comparison asks

                # float32 halves what crosses the pipe; the KL divergence needs no more
                self._send(Done(np.asarray(engine.next_token_logprobs(request.tokens), dtype=np.float32)))
            elif isinstance(request, BatchWidth):
                self._send(Done(engine.batch_width if isinstance(engine, BatchEngine) else 1))
            elif isinstance(request, Batch):
                self._stream_batch(request, stop, ended)
            else:
                self._stream(request, stop)
        except LoadCancelled as exc:
            self._send(Failed("cancelled", str(exc), engine.last_stats))
        except ContextOverflowError as exc:
            self._send(Failed("overflow", str(exc), None, exc.prompt_tokens, exc.n_ctx))
        except EngineError as exc:
            self._send(Failed("error", str(exc), engine.last_stats))
        except MemoryError:
            self._send(Failed("error", "The engine ran out of memory for this request.", engine.last_stats))
        except Exception as exc:  # noqa: BLE001 - a bug must reach the user as one line, not kill the child
            traceback.print_exc(file=sys.stderr)
            self._send(Failed("bug", f"Unexpected error in the engine: {type(exc).__name__}: {exc}",
                              engine.last_stats))

    def _load_progress(self) -> Callable[[float], None]:
        last = -1.0

        def report(fraction: float) -> None:
            nonlocal last
            if fraction - last >= PROGRESS_STEP or fraction >= 1.0:
                last = fraction
                self._send(Progress(fraction))

        return report

    def _stream(self, request: Stream, stop: threading.Event) -> None:
        engine = self._engine
        started = time.perf_counter()
        tokens, stops = request.tokens, request.extra_stops
        if request.messages:
            tokens, format_stops = engine.prompt_tokens(list(request.messages))
            stops = stops + format_stops
        replies = engine.stream_tokens(tokens, request.params, stop=stop, on_progress=self._live,
                                       extra_stops=stops, started=started)
        self._send(Prompted())
        held: list[str] = []
        sent_at = 0.0
        for text in replies:
            held.append(text)
            now = time.monotonic()
            if now - sent_at >= DELTA_INTERVAL_S:  # the first at once, then at most ~30 a second
                self._send(Delta("".join(held)))
                held.clear()
                sent_at = now
        if held:
            self._send(Delta("".join(held)))
        stats = engine.last_stats
        self._send(Done(None, None if stats is None else replace(stats, engine_rss_bytes=current_rss())))

    def _stream_batch(self, request: Batch, stop: threading.Event, ended: set[int]) -> None:
        """Build each prompt (Prompted after each: a runaway template is caught per prompt), then run the batch.

        Deltas are held per prompt and sent together at most ~30 times a second, as a reply's;
        a reply's held text always goes before its closing item.
        """
        engine = self._engine
        prompts = []
        for prompt in request.prompts:
            prompts.append(engine.batch_prompt(prompt))
            self._send(Prompted())
        held: dict[int, list[str]] = {}
        sent_at = 0.0
        for item in engine.stream_batch_tokens(prompts, list(request.params), stop, ended):
            if item.stats is not None:
                text = "".join(held.pop(item.index, []))
                if text:
                    self._send(BatchItem(item.index, text))
                self._send(item)
                continue
            held.setdefault(item.index, []).append(item.text)
            now = time.monotonic()
            if now - sent_at >= DELTA_INTERVAL_S:
                for index, texts in held.items():
                    self._send(BatchItem(index, "".join(texts)))
                held.clear()
                sent_at = now
        stats = engine.last_stats
        self._send(Done(None, None if stats is None else replace(stats, engine_rss_bytes=current_rss())))

    def _live(self, stats: LiveStats) -> None:
        self._send(Live(stats))


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
