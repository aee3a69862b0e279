"""What the server is doing, for the Server panel: requests running and waiting, and a short log.

Written on the server's thread, read from any thread as an immutable :class:`ApiActivity`
snapshot. ``on_change`` is called (on the server's thread) after every change; a UI hops
to its own thread from there.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

RECENT = 50  # requests kept in the log


@dataclass(frozen=True)
class RequestRecord:
    """One finished request. Figures are measured here, at the server, as the client sees
    them (after queueing); None where they do not apply or were not measured."""

    at: float  # wall-clock time the request arrived (time.time())
    method: str
    path: str
    status: int  # 499: the client left before any answer was sent
    client: str  # the peer's address
    seconds: float  # arrival to the last byte sent
    model: str | None = None
    completion_tokens: int | None = None
    decode_tps: float | None = None  # (tokens - 1) / (last piece of text - first), timed at the server
    ttft_s: float | None = None  # arrival to the first piece of text, queueing included
    stop_reason: str | None = None  # the engine's: eos, length, stop, cancelled (the client left), error


@dataclass
class Trace:
    """What a reply handler learns about its request, for the log line the request leaves."""

    arrived: float  # time.perf_counter() when the request arrived
    model: str | None = None
    completion_tokens: int | None = None
    decode_tps: float | None = None
    ttft_s: float | None = None
    stop_reason: str | None = None


@dataclass(frozen=True)
class ApiActivity:
    """A snapshot: replies generating now, replies waiting for the engine, the latest requests (oldest first)."""

    in_progress: int
    queued: int
    recent: tuple[RequestRecord, ...]


class Abandonable(Protocol):
    """A reply in progress that the server can end when it stops."""

    def abandon(self, message: str) -> None: ...


class Activity:
    """The live counters and log behind :class:`ApiActivity`; thread-safe.

    ``live`` holds the replies not finished yet; only the server's event loop touches it.
    """

    def __init__(self) -> None:
        self.live: set[Abandonable] = set()
        self._lock = threading.Lock()
        self._running = 0
        self._queued = 0
        self._recent: deque[RequestRecord] = deque(maxlen=RECENT)
        self.on_change: Callable[[], None] | None = None

    def snapshot(self) -> ApiActivity:
        with self._lock:
            return ApiActivity(self._running, self._queued, tuple(self._recent))

    @property
    def queued(self) -> int:
        with self._lock:
            return self._queued

    def queue(self) -> None:
        """A reply was handed to the engine's queue."""
        self._change(queued=1)

    def start(self) -> None:
        """A queued reply began generating."""
        self._change(queued=-1, running=1)

    def end(self, *, started: bool) -> None:
        """A reply finished (or was dropped while it waited)."""
        if started:
            self._change(running=-1)
        else:
            self._change(queued=-1)

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._recent.append(record)
        self._notify()

    def _change(self, *, queued: int = 0, running: int = 0) -> None:
        with self._lock:
            self._queued += queued
            self._running += running
        self._notify()

    def _notify(self) -> None:
        callback = self.on_change
        if callback is not None:
            callback()
