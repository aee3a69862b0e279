"""One reply on its way from the engine's thread to the request's coroutine, and out as HTTP.

:class:`AsyncReply` is the :class:`~app.api.gate.ReplySink` the server hands to the gate:
each call, from whatever thread, is posted to the server's event loop in order. There it
updates the activity counters and the timing seen at the server, and waits in a queue for
:class:`ReplyResponse`, which writes the reply as one JSON body or as server-sent events.

While it writes, the response listens for the client leaving (the ASGI
``http.disconnect`` message) and sets the reply's stop event at once, so the engine stops
within a token and the next request does not wait, however long prefill or the queue takes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.api.activity import Activity, Trace
from app.api.bodies import DONE, Envelope, event, finish_reason
from app.api.errors import error_body
from app.api.gate import FailureCode, ReplySink
from app.engines.contract import GenerationStats

STATUS: dict[FailureCode, int] = {"context_length_exceeded": 400, "unsupported": 400, "engine_error": 500}
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]


@dataclass(frozen=True)
class Started:
    pass


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Stats:
    stats: GenerationStats


@dataclass(frozen=True)
class Failure:
    message: str
    code: FailureCode


@dataclass(frozen=True)
class Finished:
    pass


Event = Started | Delta | Stats | Failure | Finished


class AsyncReply(ReplySink):
    """A reply's events, posted to ``loop``; ``next()`` takes them there, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, activity: Activity) -> None:
        self.stop = threading.Event()
        self._loop = loop
        self._activity = activity
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self.running = False
        self.done = False
        self.first_text_at: float | None = None  # perf_counter at the server, for ttft and decode speed
        self.last_text_at: float | None = None
        self.stats_seen: GenerationStats | None = None
        activity.live.add(self)

    # ---- the sink (any thread) -------------------------------------------------------
    def started(self) -> None:
        self._post(Started())

    def delta(self, text: str) -> None:
        self._post(Delta(text))

    def stats(self, stats: GenerationStats) -> None:
        self._post(Stats(stats))

    def failed(self, message: str, code: FailureCode = "engine_error") -> None:
        self._post(Failure(message, code))

    def finished(self) -> None:
        self._post(Finished())

    def _post(self, item: Event) -> None:
        try:
            self._loop.call_soon_threadsafe(self._arrive, item)
        except RuntimeError:
            pass  # the loop is closed: the server has stopped and nobody waits for this reply

    # ---- on the loop -----------------------------------------------------------------
    def _arrive(self, item: Event) -> None:
        if self.done:
            return  # abandoned at shutdown; the engine's late events have nowhere to go
        if isinstance(item, Started):
            self.running = True
            self._activity.start()
        elif isinstance(item, Delta) and item.text:
            self.last_text_at = time.perf_counter()
            if self.first_text_at is None:
                self.first_text_at = self.last_text_at
        elif isinstance(item, Stats):
            self.stats_seen = item.stats
        elif isinstance(item, Finished):
            self.done = True
            self._activity.live.discard(self)
            self._activity.end(started=self.running)
        self._events.put_nowait(item)

    def drop(self) -> None:
        """The client left while the reply waited: no longer counted as queued; call on the loop.

        The gate skips it when its turn comes (the stop event is set); its late events are ignored.
        """
        self.stop.set()
        if not self.done and not self.running:
            self.done = True
            self._activity.live.discard(self)
            self._activity.end(started=False)

    def abandon(self, message: str) -> None:
        """End the reply now (the server is stopping); call on the loop."""
        self.stop.set()
        if not self.done:
            self._arrive(Failure(message, "engine_error"))
            self._arrive(Finished())

    async def next(self) -> Event:
        return await self._events.get()

    def decode_tps(self) -> float | None:
        """Tokens per second as they left the server: (tokens - 1) / (last text - first text)."""
        stats = self.stats_seen
        if stats is None or stats.completion_tokens < 2 or self.first_text_at is None or self.last_text_at is None:
            return None
        span = self.last_text_at - self.first_text_at
        return (stats.completion_tokens - 1) / span if span > 0 else None


class ReplyResponse(Response):
    """Writes ``reply`` as one JSON body or as SSE; an error before any text is an HTTP error status."""

    def __init__(self, reply: AsyncReply, envelope: Envelope, trace: Trace, *, stream: bool,
                 include_usage: bool) -> None:
        super().__init__()
        self.reply = reply
        self.envelope = envelope
        self.trace = trace
        self.stream = stream
        self.include_usage = include_usage
        self._ending = False  # the last bytes are on their way: a disconnect now is the normal end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch, receive, group.cancel_scope)
                if self.stream:
                    await self._write_stream(send)
                else:
                    await self._write_whole(send)
                group.cancel_scope.cancel()
        finally:
            self.reply.drop()  # the client left, or the reply is over: either way the engine may stop
            self._trace()

    async def _watch(self, receive: Receive, cancel: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if self._ending:
                    return
                self.reply.stop.set()
                self.trace.stop_reason = "cancelled"
                cancel.cancel()
                return

    def _trace(self) -> None:
        reply, trace = self.reply, self.trace
        stats = reply.stats_seen
        if stats is not None:
            trace.completion_tokens = stats.completion_tokens
            trace.stop_reason = trace.stop_reason or stats.stop_reason
        if reply.first_text_at is not None:
            trace.ttft_s = reply.first_text_at - trace.arrived
        trace.decode_tps = reply.decode_tps()

    async def _error(self, send: Send, failure: Failure) -> None:
        status = STATUS[failure.code]
        self.trace.stop_reason = "error"
        body = error_body(status, failure.message, failure.code)
        self._ending = True
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _write_whole(self, send: Send) -> None:
        parts: list[str] = []
        failure: Failure | None = None
        while not isinstance(item := await self.reply.next(), Finished):
            if isinstance(item, Delta):
                parts.append(item.text)
            elif isinstance(item, Failure):
                failure = item
        if failure is not None:
            await self._error(send, failure)
            return
        body = json.dumps(self.envelope.whole("".join(parts), self.reply.stats_seen), ensure_ascii=False).encode()
        self._ending = True
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _write_stream(self, send: Send) -> None:
        opened = False
        failure: Failure | None = None

        async def open_stream() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            if self.envelope.kind == "chat":
                await send({"type": "http.response.body", "body": self.envelope.chunk(role=True), "more_body": True})

        while not isinstance(item := await self.reply.next(), Finished):
            if isinstance(item, Delta) and item.text:
                if not opened:
                    await open_stream()
                    opened = True
                await send({"type": "http.response.body", "body": self.envelope.chunk(item.text), "more_body": True})
            elif isinstance(item, Failure):
                failure = item
        if not opened:
            if failure is not None:
                await self._error(send, failure)  # nothing sent yet: a proper status tells the client
                return
            await open_stream()
        stats = self.reply.stats_seen
        if failure is not None:
            self.trace.stop_reason = "error"
            tail = event(error_body(STATUS[failure.code], failure.message, failure.code).decode())
        else:
            tail = self.envelope.chunk(finish=finish_reason(stats), stats=stats)
            if self.include_usage and stats is not None:
                tail += self.envelope.chunk(usage_only=True, stats=stats)
        self._ending = True
        await send({"type": "http.response.body", "body": tail + DONE, "more_body": False})
