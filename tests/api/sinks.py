"""A reply sink that records what the gate told it, in order, for the gate tests."""

from __future__ import annotations

import threading

from app.api.gate import FailureCode
from app.engines.contract import GenerationStats


class ListSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.done = threading.Event()

    def started(self) -> None:
        self.calls.append(("started", None))

    def delta(self, text: str) -> None:
        self.calls.append(("delta", text))

    def stats(self, stats: GenerationStats) -> None:
        self.calls.append(("stats", stats.stop_reason))

    def failed(self, message: str, code: FailureCode = "engine_error") -> None:
        self.calls.append(("failed", code))

    def finished(self) -> None:
        self.calls.append(("finished", None))
        self.done.set()
