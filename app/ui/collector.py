"""Python's cyclic garbage collection, run by the event loop instead of at any allocation.

CPython collects when allocations cross a threshold, wherever the program is: with the
thousands of objects a chat window holds, a full (generation 2) pass took 36 ms here, and
when it fell in the middle of a streamed reply it was the longest stall of the stream. So
automatic collection is off; a timer collects the youngest generation as CPython would,
and the older ones (a gen 1 pass took 26 ms with a 200-message chat open) only after a
second with no reply being written. Objects that exist once the window is up (modules,
widgets, Qt wrappers) are frozen out of every pass (``gc.freeze``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

CHECK_MS = 250
QUIET_S = 1.0  # the older generations are collected only after this long without a reply being written


class IdleCollector(QObject):
    """Collects on a timer: generation 0 when due, the older ones only after ``QUIET_S`` of ``busy()`` False."""

    def __init__(self, parent: QObject, busy: Callable[[], bool] = lambda: False) -> None:
        super().__init__(parent)
        self._busy = busy
        self._thresholds = gc.get_threshold()
        self._busy_at = 0.0  # when a reply was last seen being written
        gc.disable()
        gc.freeze()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect what CPython would have collected by now, holding the older generations back while busy."""
        now = time.monotonic()
        if self._busy():
            self._busy_at = now
        young, middle, old = gc.get_count()
        if young <= self._thresholds[0]:
            return
        generation = 0
        if middle > self._thresholds[1] and now - self._busy_at >= QUIET_S:
            generation = 2 if old > self._thresholds[2] else 1
        gc.collect(generation)

    def stop(self) -> None:
        """Give collection back to CPython (tests, and the end of the app)."""
        self._timer.stop()
        gc.unfreeze()
        gc.enable()
