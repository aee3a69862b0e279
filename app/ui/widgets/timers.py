"""Named QTimers built in one line: the panels each need several debounce and refresh timers."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


def make_timer(parent: QObject, interval_ms: int, slot: Callable[[], object], *, single_shot: bool = True) -> QTimer:
    """A timer owned by ``parent`` (so it dies with it) calling ``slot`` every/after ``interval_ms``."""
    timer = QTimer(parent)
    timer.setSingleShot(single_shot)
    timer.setInterval(interval_ms)
    timer.timeout.connect(slot)
    return timer
