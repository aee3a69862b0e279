"""Speed arithmetic shared by the engine, the CLI and the readout.

Kept separate and Qt-free so the numbers the user sees are computed one way only.
"""

from __future__ import annotations

import collections


def rate(count: int | None, seconds: float | None) -> float | None:
    """Items per second; None when nothing was counted or timed (unknown, not zero)."""
    if count is None or seconds is None or count <= 0 or seconds <= 0:
        return None
    return count / seconds


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

    def value(self) -> float | None:
        """Rate from the first to the last event in the window (needs two events, else None)."""
        if len(self._times) < 2:
            return None
        span = self._times[-1] - self._times[0]
        return rate(len(self._times) - 1, span)

    def clear(self) -> None:
        self._times.clear()


def format_rate(tps: float) -> str:
    """'42.3 tok/s' with sensible precision for both 3 and 3,000 tokens/s."""
    if tps >= 100:
        return f"{tps:,.0f} tok/s"
    return f"{tps:.1f} tok/s"

