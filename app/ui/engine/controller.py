"""The GUI-thread face of the engine thread; panels talk only to this.

``EngineController`` owns the thread and the worker, and makes every cross-thread
connection in ``_wire`` (like GPT4All's ``Chat::connectLLM``). Each reply, job or
token count gets its own :class:`RequestHandle`; the controller routes the worker's
id-tagged signals to it, so panels never filter by id. Model state (none, loading,
ready) lives here only. Loads are cancellable: a new load or ``shutdown`` cancels the
one in progress, and ``busy`` counts every pending load, not just the last.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from enum import Enum

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.chat.conversation import DROP_OLDEST
from app.engines.contract import (
    ChatMessage,
    EngineFactory,
    GenerationParams,
    GenerationStats,
    LiveStats,
    LoadedModel,
    ModelSpec,
)
from app.ui.engine.handle import RequestHandle
from app.ui.engine.worker import (
    CountRequest,
    EngineJob,
    EngineWorker,
    GenerationRequest,
    JobFunction,
    LoadRequest,
)


class ModelState(Enum):
    """The one source of truth for what the status bar and panels say about the model."""

    NONE = "none"
    LOADING = "loading"
    READY = "ready"


class EngineController(QObject):
    """Creates requests, routes answers to their handles, and keeps the model state."""

    load_started = Signal()
    load_progress = Signal(float)
    loaded = Signal(object)  # LoadedModel
    load_failed = Signal(str)
    state_changed = Signal(object)  # ModelState
    request_started = Signal(object)  # RequestHandle of a reply or job (not of token counts)
    progress = Signal(object)  # LiveStats of whichever reply or job runs (the readout)
    stats = Signal(object)  # GenerationStats, likewise
    finished = Signal(object)  # RequestHandle
    busy_changed = Signal(bool)

    def __init__(self, factory: EngineFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("kestrel-engine")
        self.worker = EngineWorker(factory)
        self.worker.moveToThread(self._thread)
        self._next_id = 0
        self._handles: dict[int, RequestHandle] = {}
        self._active: RequestHandle | None = None
        self._loads: dict[int, LoadRequest] = {}
        self._latest_load = 0
        self._model: LoadedModel | None = None
        self._shut_down = False
        self._waiters: deque[Callable[[], None]] = deque()  # see when_free
        self._wire()
        self._thread.start()

    def _wire(self) -> None:
        """Every connection between the engine thread and the GUI thread, in one place.

        Each goes to a method of this object, never to a lambda: PySide runs a lambda in
        the emitting (engine) thread, while a method of a QObject runs queued in the
        thread the object lives in, so every handle signal is emitted here, in order.
        """
        w = self.worker
        w.load_progress.connect(self._on_load_progress)
        w.loaded.connect(self._on_loaded)
        w.load_failed.connect(self._on_load_failed)
        w.started.connect(self._on_started)
        w.trimmed.connect(self._on_trimmed)
        w.delta.connect(self._on_delta)
        w.progress.connect(self._on_progress)
        w.stats.connect(self._on_stats)
        w.job_progress.connect(self._on_job_progress)
        w.done.connect(self._on_done)
        w.failed.connect(self._on_failed)
        w.finished.connect(self._on_finished)

    # ---- state -----------------------------------------------------------------------
    @property
    def model(self) -> LoadedModel | None:
        """The model the worker last reported loaded (GUI-thread copy)."""
        return self._model

    @property
    def state(self) -> ModelState:
        if self._loads:
            return ModelState.LOADING
        return ModelState.READY if self._model is not None else ModelState.NONE

    @property
    def busy(self) -> bool:
        """True while a reply or job runs or any model load is pending."""
        return self._active is not None or bool(self._loads)

    @property
    def active(self) -> RequestHandle | None:
        return self._active

    # ---- requests --------------------------------------------------------------------
    def load(self, spec: ModelSpec) -> None:
        """Load (or switch) the model; an earlier load still in progress is cancelled."""
        if self._shut_down:
            return
        for pending in self._loads.values():
            pending.cancel.set()
        if self._active is not None:
            self._active.stop()
        self._next_id += 1
        request = LoadRequest(self._next_id, spec)
        self._loads[request.load_id] = request
        self._latest_load = request.load_id
        self._model = None
        self.busy_changed.emit(True)
        self.load_started.emit()
        self.state_changed.emit(self.state)
        self.worker.load_requested.emit(request)

    def _new_handle(self, stop: threading.Event | None) -> RequestHandle:
        if self.busy:
            raise RuntimeError("the engine is busy")
        self._next_id += 1
        handle = RequestHandle(self._next_id)
        if stop is not None:  # the caller's own event (an API request's), so its owner can stop it directly
            handle.stop_event = stop
        self._handles[handle.request_id] = handle
        self._active = handle
        self.busy_changed.emit(True)
        return handle

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams,
                 overflow_policy: str = DROP_OLDEST, stop: threading.Event | None = None) -> RequestHandle:
        """Queue one reply. Only one reply or job runs at a time (RuntimeError when busy).

        ``stop``: the event that stops it (default: a new one on the handle).
        """
        handle = self._new_handle(stop)
        self.worker.generate_requested.emit(GenerationRequest(
            handle.request_id, tuple(messages), params, handle.stop_event, overflow_policy))
        return handle

    def run_job(self, run: JobFunction, stop: threading.Event | None = None) -> RequestHandle:
        """Queue a job on the engine thread (started, job_progress..., done or failed, finished).

        ``stop``: the event that stops it (default: a new one on the handle).
        """
        handle = self._new_handle(stop)
        self.worker.job_requested.emit(EngineJob(handle.request_id, run, handle.stop_event))
        return handle

    def count_tokens(self, messages: Sequence[ChatMessage]) -> RequestHandle:
        """Count prompt tokens on the engine thread; the count arrives as ``done(int)``."""
        self._next_id += 1
        handle = RequestHandle(self._next_id)
        self._handles[handle.request_id] = handle
        self.worker.count_requested.emit(CountRequest(handle.request_id, tuple(messages)))
        return handle

    def when_free(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` as soon as the engine is free (at once if it is); returns a cancel function.

        Waiters go first, in order, before anything that only listens to ``busy_changed``
        (the API server's queue): a turn the user sent while an API request ran is next.
        """
        if not self.busy and not self._shut_down:
            callback()
            return lambda: None
        self._waiters.append(callback)

        def cancel() -> None:
            if callback in self._waiters:
                self._waiters.remove(callback)

        return cancel

    def _became_free(self) -> None:
        """A request or load ended: wake the window's waiters first, then tell everyone."""
        while self._waiters and not self.busy and not self._shut_down:
            self._waiters.popleft()()
        self.busy_changed.emit(self.busy)

    def stop(self) -> None:
        """Stop the current reply or job within one token."""
        if self._active is not None:
            self._active.stop()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel loads, stop any reply, end the thread, free the model. True if the thread ended in time.

        When it returns False the thread still runs: the caller must not let this object
        be destroyed yet (the window waits with ``wait_stopped``).
        """
        self._shut_down = True
        for pending in self._loads.values():
            pending.cancel.set()
        self.stop()
        self._thread.quit()
        return self.wait_stopped(timeout_ms)

    def wait_stopped(self, timeout_ms: int) -> bool:
        """Wait for the engine thread to end; then free the engine and finish what never ran."""
        if not self._thread.wait(timeout_ms):
            return False
        if self.worker.engine is not None:
            self.worker.engine.unload()
        for rid in list(self._handles):  # queued behind the shutdown: they never started
            self._on_finished(rid)
        return True

    # ---- worker results --------------------------------------------------------------
    def _route(self, rid: int, signal_name: str, *args: object) -> None:
        handle = self._handles.get(rid)
        if handle is not None:
            getattr(handle, signal_name).emit(*args)

    @Slot(int)
    def _on_started(self, rid: int) -> None:
        handle = self._handles.get(rid)
        if handle is None:
            return
        handle.started.emit()
        if handle is self._active:
            self.request_started.emit(handle)

    @Slot(int, int)
    def _on_trimmed(self, rid: int, dropped: int) -> None:
        self._route(rid, "trimmed", dropped)

    @Slot(int, str)
    def _on_delta(self, rid: int, text: str) -> None:
        self._route(rid, "delta", text)

    @Slot(int, object)
    def _on_job_progress(self, rid: int, payload: object) -> None:
        self._route(rid, "job_progress", payload)

    @Slot(int, object)
    def _on_done(self, rid: int, result: object) -> None:
        self._route(rid, "done", result)

    @Slot(int, str)
    def _on_failed(self, rid: int, message: str) -> None:
        self._route(rid, "failed", message)

    @Slot(int, object)
    def _on_progress(self, rid: int, live: LiveStats) -> None:
        self._route(rid, "progress", live)
        self.progress.emit(live)

    @Slot(int, object)
    def _on_stats(self, rid: int, stats: GenerationStats) -> None:
        self._route(rid, "stats", stats)
        self.stats.emit(stats)

    @Slot(int)
    def _on_finished(self, rid: int) -> None:
        handle = self._handles.pop(rid, None)
        if handle is None:
            return
        handle.is_finished = True
        if handle is self._active:
            self._active = None
        handle.finished.emit()
        self.finished.emit(handle)
        self._became_free()

    @Slot(int, float)
    def _on_load_progress(self, load_id: int, fraction: float) -> None:
        if load_id == self._latest_load:
            self.load_progress.emit(fraction)

    @Slot(int, object)
    def _on_loaded(self, load_id: int, loaded: LoadedModel) -> None:
        self._loads.pop(load_id, None)
        if load_id in (self._latest_load, -1):
            self._model = loaded
            self.loaded.emit(loaded)
        self.state_changed.emit(self.state)
        self._became_free()

    @Slot(int, str)
    def _on_load_failed(self, load_id: int, message: str) -> None:
        self._loads.pop(load_id, None)
        if load_id in (self._latest_load, -1):
            self._model = None
            self.load_failed.emit(message)
        self.state_changed.emit(self.state)
        self._became_free()
