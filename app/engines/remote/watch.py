"""A stop or a timeout closes a streaming reply at once, even while a read is blocked.

Why: a blocked socket read only returns when data comes or its timeout (minutes, for a
slow prefill) passes. Shutting the socket down from a watcher thread wakes the read at
once, and closing the connection is also how the server learns to stop generating, so its
next request does not wait for the stopped one.

The socket is caught through httpcore's ``trace`` extension as the connection is made;
streams use connections that are never pooled, so every stream makes its own.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Literal

Fired = Literal["stop", "first-byte", "idle"]
_POLL_S = 0.05  # how often the watcher looks at the clock; a stop wakes it at once


class StreamWatch:
    """Watches one streaming request: ``stop`` set, no content within ``first_byte_s``, or a gap over ``idle_s``."""

    def __init__(self, stop: threading.Event, *, first_byte_s: float, idle_s: float) -> None:
        self.stop = stop
        self.first_byte_s = first_byte_s
        self.idle_s = idle_s
        self.fired: Fired | None = None
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._finished = False
        self._content = False
        self._deadline = time.monotonic() + first_byte_s
        self._thread = threading.Thread(target=self._run, name="kestrel-remote-watch", daemon=True)

    def __enter__(self) -> StreamWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: keep the socket of the connection this request makes."""
        if not event.endswith("connect_tcp.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._socket = sock
                if self.fired is not None:
                    self._shutdown()

    def content_arrived(self) -> None:
        """Content came: from now on the idle gap, not the first-byte wait, is the limit."""
        self._content = True
        self._deadline = time.monotonic() + self.idle_s

    def finish(self) -> None:
        """The request is over: the watcher must not touch the socket any more (it ends by itself)."""
        with self._lock:
            self._finished = True

    def _fire(self, why: Fired) -> None:
        with self._lock:
            if self._finished:
                return
            self.fired = why
            self._shutdown()

    def _shutdown(self) -> None:
        if self._socket is None:
            return
        try:
            socket.socket.shutdown(self._socket, socket.SHUT_RDWR)  # the plain socket's, also under TLS
        except OSError:
            pass  # already closed

    def _run(self) -> None:
        while not self._finished:
            if self.stop.wait(_POLL_S):
                self._fire("stop")
                return
            if time.monotonic() > self._deadline:
                self._fire("idle" if self._content else "first-byte")
                return
