"""One request to the engine, as the panel that made it sees it.

Panels connect to their own handle instead of filtering shared signals by id. The
order is always ``started``, then any of ``trimmed``/``delta``/``progress``/``stats``,
then ``done`` (jobs) or ``failed``, and always ``finished`` last, even when the request
never ran (the model was unloaded, the window closed). ``stop()`` sets the request's
``threading.Event`` directly: the engine sees it before its next token.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal


class RequestHandle(QObject):
    """Signals of one reply or job; lives on the GUI thread."""

    started = Signal()
    trimmed = Signal(int)  # messages dropped to fit the context
    delta = Signal(str)
    progress = Signal(object)  # LiveStats
    stats = Signal(object)  # GenerationStats, once per engine reply (a job may make several)
    job_progress = Signal(object)  # whatever the job reports
    done = Signal(object)  # the job's result
    failed = Signal(str)
    finished = Signal()

    def __init__(self, request_id: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.request_id = request_id
        self.stop_event = threading.Event()
        self.is_finished = False

    def stop(self) -> None:
        """Stop within one token (or interrupt the prompt evaluation)."""
        self.stop_event.set()
