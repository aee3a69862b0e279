"""The API server's way onto the window's one engine worker.

:class:`QtGate` implements :class:`app.api.gate.Gate` over the :class:`EngineController`:
``submit`` is called on the server's thread and hops to the GUI thread with a queued
signal (to a slot of a QObject, never a lambda: see ``EngineController._wire``). There the
requests wait in arrival order and each runs as a controller job when the engine is free,
so API requests take turns with the window's own replies, summaries and loads; a chat turn the
user sends while an API request runs goes before the next one (``EngineController.when_free``). Each job
runs :func:`app.api.gate.run_reply` on the engine thread with the request's own stop event;
its text comes back as the handle's ``job_progress`` and goes on to the request's sink.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import QObject, Signal, Slot

from app.api.gate import FailureCode, Gate, Prompt, RawPromptUnsupported, ReplySink, failure_code, run_reply
from app.engines.contract import (
    ChatMessage,
    ContextOverflowError,
    Engine,
    EngineError,
    GenerationParams,
    GenerationStats,
    LoadedModel,
    ModelSpec,
)
from app.ui.engine.controller import EngineController
from app.ui.engine.handle import RequestHandle


@dataclass(frozen=True)
class _Reply:
    prompt: Prompt
    params: GenerationParams
    stop: threading.Event
    sink: ReplySink


@dataclass
class _Load:
    spec: ModelSpec
    done: threading.Event = field(default_factory=threading.Event)
    loaded: LoadedModel | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Refusal:
    """A failure that is the client's to fix, reported by the job before it ends."""

    message: str
    code: FailureCode


def _reply_job(prompt: Prompt, params: GenerationParams, stop: threading.Event,
               engine: Engine, _handle_stop: threading.Event, report: Callable[[object], None]) -> None:
    """The job on the engine thread: text goes out through ``report``; ``stop`` is the request's
    event, which is also the handle's (``run_job(..., stop=...)``)."""
    try:
        run_reply(engine, prompt, params, stop, report)
    except (ContextOverflowError, RawPromptUnsupported) as exc:
        report(_Refusal(str(exc), failure_code(exc)))


class _Pump(QObject):
    """Lives on the GUI thread: the queue of API work, started whenever the controller is free."""

    submitted = Signal(object)  # _Reply or _Load, from any thread

    def __init__(self, controller: EngineController) -> None:
        super().__init__()
        self._controller = controller
        self._waiting: deque[_Reply | _Load] = deque()
        self._current: _Reply | None = None
        self._handle: RequestHandle | None = None
        self._loading: _Load | None = None
        self._closed = False
        self.submitted.connect(self._on_submitted)
        controller.busy_changed.connect(self._on_busy_changed)
        controller.loaded.connect(self._on_loaded)
        controller.load_failed.connect(self._on_load_failed)

    @Slot(object)
    def _on_submitted(self, work: _Reply | _Load) -> None:
        if self._closed:
            self._drop(work, "The server is stopping.")
            return
        self._waiting.append(work)
        self._next()

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        if not busy:
            self._next()

    def _next(self) -> None:
        while self._waiting and self._current is None and self._loading is None and not self._controller.busy:
            work = self._waiting.popleft()
            if isinstance(work, _Load):
                self._loading = work
                self._controller.load(work.spec)
            elif work.stop.is_set():
                work.sink.finished()  # its client left while it waited
            else:
                self._start(work)

    def _start(self, work: _Reply) -> None:
        handle = self._controller.run_job(partial(_reply_job, work.prompt, work.params, work.stop), stop=work.stop)
        self._current, self._handle = work, handle
        handle.started.connect(self._on_started)
        handle.job_progress.connect(self._on_job_progress)
        handle.stats.connect(self._on_stats)
        handle.failed.connect(self._on_failed)
        handle.finished.connect(self._on_finished)

    # ---- the running reply's handle (GUI thread, in the worker's order) -----------------
    @Slot()
    def _on_started(self) -> None:
        if self._current is not None:
            self._current.sink.started()

    @Slot(object)
    def _on_job_progress(self, payload: object) -> None:
        if self._current is None:
            return
        if isinstance(payload, str):
            self._current.sink.delta(payload)
        elif isinstance(payload, _Refusal):
            self._current.sink.failed(payload.message, payload.code)

    @Slot(object)
    def _on_stats(self, stats: GenerationStats) -> None:
        if self._current is not None:
            self._current.sink.stats(stats)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._current is not None:
            self._current.sink.failed(message, "engine_error")

    @Slot()
    def _on_finished(self) -> None:
        work, self._current, self._handle = self._current, None, None
        if work is not None:
            work.sink.finished()
        # the next request starts on busy_changed, which the controller sends after it has woken
        # the window's own waiters: a turn the user sent meanwhile goes first

    # ---- loads ------------------------------------------------------------------------
    @Slot(object)
    def _on_loaded(self, loaded: LoadedModel) -> None:
        work, self._loading = self._loading, None
        if work is None:
            return
        if loaded.spec == work.spec:
            work.loaded = loaded
        else:
            work.error = f"{loaded.name} was loaded in the window meanwhile"
        work.done.set()

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        work, self._loading = self._loading, None
        if work is not None:
            work.error = message
            work.done.set()

    # ---- closing ----------------------------------------------------------------------
    @staticmethod
    def _drop(work: _Reply | _Load, reason: str) -> None:
        if isinstance(work, _Load):
            work.error = reason
            work.done.set()
        else:
            work.stop.set()
            work.sink.finished()

    def close(self) -> None:
        """Drop every waiting request and stop the running one (its handle still finishes it)."""
        self._closed = True
        while self._waiting:
            self._drop(self._waiting.popleft(), "The server is stopping.")
        if self._current is not None:
            self._current.stop.set()
        if self._loading is not None:
            self._drop(self._loading, "The server is stopping.")
            self._loading = None


class QtGate(Gate):
    """:class:`~app.api.gate.Gate` over the window's engine controller. Make it on the GUI thread.

    ``resolve`` turns a model id into what to load (``ModelCatalog.spec``); without it the
    API cannot load models.
    """

    def __init__(self, controller: EngineController, resolve: Callable[[str], ModelSpec] | None = None) -> None:
        self._controller = controller
        self._resolve = resolve
        self._pump = _Pump(controller)

    def model(self) -> LoadedModel | None:
        return self._controller.model  # a reference read: safe from the server's thread

    def submit(self, messages: Sequence[ChatMessage], params: GenerationParams, stop: threading.Event,
               sink: ReplySink) -> None:
        self._pump.submitted.emit(_Reply(Prompt(messages=tuple(messages)), params, stop, sink))

    def submit_text(self, prompt: str, params: GenerationParams, stop: threading.Event, sink: ReplySink) -> None:
        self._pump.submitted.emit(_Reply(Prompt(text=prompt), params, stop, sink))

    def load(self, model_id: str) -> LoadedModel:
        """Blocks the calling (server) thread until the load ends; never call it on the GUI thread."""
        if self._resolve is None:
            raise EngineError("Loading models through the API is off.")
        work = _Load(self._resolve(model_id))
        self._pump.submitted.emit(work)
        work.done.wait()
        if work.loaded is None:
            raise EngineError(work.error or "the load did not finish")
        return work.loaded

    def close(self) -> None:
        """On the GUI thread, after the server stopped: requests still waiting are dropped."""
        self._pump.close()
