"""The slowest a download may go: less than ``min_bytes`` in ``window`` seconds abandons it.

Why: the read timeout only catches a server that sends nothing at all. One that sends a
little, stalls until the timeout, and does it again on every reconnect held a download for
over twelve minutes. The window runs across reconnects; the waits before a retry are left
out (the retry limit bounds those), so a server that is briefly down is still retried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from app.base.units import format_bytes, format_duration

MIN_BYTES = 16 * 1024  # at least this much must arrive ...
WINDOW_S = 60.0        # ... in every window of this many seconds


class Pace:
    """Consecutive windows of transfer time, each of which must bring ``min_bytes``.

    Asked from the transfer thread and from the socket watcher, hence the lock.
    """

    def __init__(self, min_bytes: int = MIN_BYTES, window: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_bytes = max(0, min_bytes)
        self.window = max(0.001, window)
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._received = 0
        self._paused_at: float | None = None

    def start(self, received: int) -> None:
        """Begin the first window now, with ``received`` bytes counted so far."""
        with self._lock:
            self._start, self._received, self._paused_at = self._clock(), received, None

    def pause(self) -> None:
        """Stop the clock (a wait before a retry is not the server's slowness)."""
        with self._lock:
            if self._paused_at is None:
                self._paused_at = self._clock()

    def resume(self) -> None:
        with self._lock:
            if self._paused_at is not None:
                self._start += self._clock() - self._paused_at
                self._paused_at = None

    def too_slow(self, received: int) -> bool:
        """True once a whole window has passed with less than ``min_bytes`` in it."""
        with self._lock:
            if self._paused_at is not None:
                return False
            now = self._clock()
            if now - self._start < self.window:
                return False
            if received - self._received < self.min_bytes:
                return True
            self._start, self._received = now, received  # enough came: the next window starts
            return False

    def describe(self) -> str:
        """``less than 16.0 KiB arrived in 60 s``: the rule, in words."""
        window = f"{round(self.window)} s" if self.window < 120 else format_duration(self.window)
        return f"less than {format_bytes(self.min_bytes)} arrived in {window}"
