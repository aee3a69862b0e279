"""Speed arithmetic shared by the engine, the CLI and the readout.

Kept separate and Qt-free so the numbers the user sees are computed one way only.
"""

from __future__ import annotations

import collections


def rate(count: int, seconds: float) -> float:
    """Items per second, 0 when nothing was timed (never a division error)."""
    return count / seconds if seconds > 0 and count > 0 else 0.0


class RollingRate:
    """Events per second over the last ``window_s`` seconds.

    Used for the live tokens/s figure: a whole-reply average hides slow-downs as the
    context fills, and a per-token figure jitters too much to read.
    """

    def __init__(self, window_s: float = 2.0) -> None:
        self._window = window_s
        self._times: collections.deque[float] = collections.deque()

    def add(self, t: float) -> None:
        self._times.append(t)
        while self._times and t - self._times[0] > self._window:
            self._times.popleft()

    def value(self) -> float:
        """Rate from the first to the last event in the window (needs two events)."""
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return rate(len(self._times) - 1, span)

    def clear(self) -> None:
        self._times.clear()


def format_rate(tps: float) -> str:
    """'42.3 tok/s' with sensible precision for both 3 and 3,000 tokens/s."""
    if tps >= 100:
        return f"{tps:,.0f} tok/s"
    return f"{tps:.1f} tok/s"


def format_seconds(seconds: float) -> str:
    """'85 ms', '1.25 s', '2 min 05 s'."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"
