"""One request's guard, on its own thread, so the thread reading the reply can simply block.

The reading thread wakes only for the child's messages, leaving the cores to the decode
(a 5 ms polling loop there cost 3.8 % of a core against 1.5 % for this design). The
watchdog sends Stop the moment the caller's event is set, and ends the child when it does
not answer in time: a stopped request that is still running after the grace time, or a
request past its deadline. A cancelled load ends the child at once. The reader then sees
the pipe close and asks ``killed`` why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

CHECK_S = 0.25  # how often the watchdog looks at the clock while nothing happens

Killed = Literal["cancelled", "stop", "finish"]


class Watchdog:
    """Guards one request until ``end``; ``killed`` says why it ended the child, if it did."""

    def __init__(self, *, stop: threading.Event | None, deadline_s: float | None, grace_s: float,
                 send_stop: Callable[[], None], kill: Callable[[], None], cancel_kills: bool = False) -> None:
        self.killed: Killed | None = None
        self._stop = stop
        self._deadline = None if deadline_s is None else time.monotonic() + deadline_s
        self._grace_s = grace_s
        self._send_stop = send_stop
        self._kill = kill
        self._cancel_kills = cancel_kills
        self._done = threading.Event()
        if stop is not None or deadline_s is not None:
            threading.Thread(target=self._run, name="kestrel-engine-watchdog", daemon=True).start()

    def set_deadline(self, deadline_s: float) -> None:
        """A new part under a deadline begins (the next prompt of a batch is built)."""
        self._deadline = time.monotonic() + deadline_s

    def clear_deadline(self) -> None:
        """The part under a deadline is over (the prompt is built); what follows takes its time."""
        self._deadline = None

    def end(self) -> None:
        """The request has ended: stop watching."""
        self._done.set()

    def _run(self) -> None:
        stopped_at: float | None = None
        while not self._done.is_set():
            now = time.monotonic()
            deadline = self._deadline
            if deadline is not None and now >= deadline:
                self._end_child("finish")
                return
            if stopped_at is not None and now >= stopped_at + self._grace_s:
                self._end_child("stop")
                return
            limits = [t - now for t in (deadline, None if stopped_at is None else stopped_at + self._grace_s)
                      if t is not None]
            timeout = min([CHECK_S, *limits])
            if self._stop is not None and stopped_at is None:
                if self._stop.wait(timeout) and not self._done.is_set():
                    if self._cancel_kills:
                        self._end_child("cancelled")
                        return
                    stopped_at = time.monotonic()
                    self._send_stop()
            else:
                self._done.wait(timeout)

    def _end_child(self, why: Killed) -> None:
        if not self._done.is_set():
            self.killed = why
            self._kill()
