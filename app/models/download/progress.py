"""Progress reports of a download and the meter that throttles them and keeps a rolling speed."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from app.base.units import format_bytes, format_duration

Phase = Literal["checking", "downloading", "retrying", "verifying", "done"]

PROGRESS_INTERVAL = 0.1      # seconds between progress callbacks (the GUI repaints at most 10/s)
_SPEED_WINDOW = 3.0          # seconds of samples behind the rolling speed


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report; immutable so it can be handed across threads as it is."""

    repo_id: str
    filename: str
    phase: Phase
    done: int                 # bytes on disk (or re-hashed, in the "checking" phase)
    total: int | None
    speed: float = 0.0        # bytes per second over the last few seconds; 0 when unknown
    eta: float | None = None  # seconds left at that speed
    resumed_from: int = 0     # bytes that were already on disk when this call started
    attempt: int = 1          # 1 for the first connection, 2 after the first reconnect, ...
    note: str = ""            # why we are retrying, in the "retrying" phase

    @property
    def fraction(self) -> float | None:
        """0..1 for a progress bar, None while the size is unknown."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    def line(self) -> str:
        """A short status line, e.g. ``45.1 MiB / 241 MiB · 12.3 MiB/s · ETA 16 s``."""
        amount = format_bytes(self.done) + (f" / {format_bytes(self.total)}" if self.total else "")
        if self.phase == "checking":
            return f"checking the partial file · {amount}"
        if self.phase == "verifying":
            return f"verifying · {amount}"
        if self.phase == "done":
            return f"done · {amount}"
        if self.phase == "retrying":
            return f"{amount} · {self.note}" if self.note else f"{amount} · retrying"
        parts = [amount]
        if self.speed > 0:
            parts.append(f"{format_bytes(self.speed)}/s")
        if self.eta is not None:
            parts.append(f"ETA {format_duration(self.eta)}")
        return " · ".join(parts)


ProgressCallback = Callable[[DownloadProgress], None]


class Meter:
    """Throttles progress callbacks and keeps a rolling speed."""

    def __init__(self, callback: ProgressCallback | None, repo_id: str, filename: str) -> None:
        self.callback = callback
        self.repo_id = repo_id
        self.filename = filename
        self.samples: deque[tuple[float, int]] = deque()
        self.last_emit = -1.0
        self.last_phase: Phase | None = None
        self.speed = 0.0

    def reset_speed(self) -> None:
        self.samples.clear()
        self.speed = 0.0

    def emit(self, phase: Phase, done: int, total: int | None, *, resumed_from: int, attempt: int,
             note: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if phase == "downloading":
            self.samples.append((now, done))
            while len(self.samples) > 2 and now - self.samples[1][0] >= _SPEED_WINDOW:
                self.samples.popleft()
        if self.callback is None:
            return
        if not force and phase == self.last_phase and now - self.last_emit < PROGRESS_INTERVAL:
            return
        if phase == "downloading" and len(self.samples) >= 2:
            (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
            if t1 - t0 >= 0.2:
                self.speed = (d1 - d0) / (t1 - t0)
        eta = None
        if phase == "downloading" and total is not None and self.speed > 0:
            eta = max(0.0, (total - done) / self.speed)
        self.last_emit, self.last_phase = now, phase
        self.callback(DownloadProgress(
            self.repo_id, self.filename, phase, done, total,
            speed=self.speed if phase == "downloading" else 0.0, eta=eta,
            resumed_from=resumed_from, attempt=attempt, note=note,
        ))
