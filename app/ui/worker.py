"""The engine on its own thread, and the one place where threads are wired together.

``EngineWorker`` is a QObject moved to a QThread; it alone touches the engine. It
takes requests as ``*_requested`` signals (queued across threads by Qt) and answers
with ``started``, ``delta``..., ``stats``, then always ``finished`` (from a
``finally``), or ``failed(message)`` before ``finished`` when something goes wrong:
errors never travel inside the reply text.

``EngineController`` lives on the GUI thread. It owns the thread, creates request
ids, and re-emits the worker's signals as its own, so panels connect to a GUI-thread
object and every cross-thread connection is made in ``_wire`` (like GPT4All's
``Chat::connectLLM``). Stop sets the request's ``threading.Event`` directly: a queued
"stop" slot would wait behind the very generation it should stop.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.conversation import DROP_OLDEST, answer_reserve, fit_messages
from app.llm.types import (
    ChatMessage,
    Engine,
    EngineError,
    GenerationParams,
    LiveStats,
    LoadedModel,
    LoadParams,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationRequest:
    """Everything the worker needs for one reply."""

    request_id: int
    messages: tuple[ChatMessage, ...]
    params: GenerationParams
    stop: threading.Event = field(default_factory=threading.Event)
    overflow_policy: str = DROP_OLDEST


JobFunction = Callable[[Engine, threading.Event, Callable[[object], None]], object]


@dataclass(frozen=True)
class EngineJob:
    """A longer task that needs the engine (summarize a document, translate one).

    ``run(engine, stop, report)`` executes on the engine thread; ``report(payload)``
    reaches the GUI as ``job_progress``, the return value as ``job_done``.
    """

    request_id: int
    run: JobFunction
    stop: threading.Event = field(default_factory=threading.Event)


class _ReportingEngine:
    """The engine as a job sees it: every reply it streams also feeds the speed readout.

    Jobs (summaries, translations) call ``stream``/``stream_tokens`` many times; wrapping
    them here sends each reply's live figures and final stats on the worker's ordinary
    ``progress``/``stats`` signals, so the readout works for every panel.
    """

    def __init__(self, engine: Engine, worker: EngineWorker, rid: int) -> None:
        self._engine = engine
        self._worker = worker
        self._rid = rid

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self._engine, name)  # AttributeError stays truthful for hasattr()
        if name != "stream_tokens":
            return attribute

        def stream_tokens(tokens: list[int], params: GenerationParams, *,
                          on_progress: Callable[[LiveStats], None] | None = None, **kwargs: object) -> Iterator[str]:
            return self._wrap(lambda p: attribute(tokens, params, on_progress=p, **kwargs), on_progress)  # type: ignore[operator]

        return stream_tokens

    def _wrap(self, produce: Callable[[Callable[[LiveStats], None]], Iterator[str]],
              on_progress: Callable[[LiveStats], None] | None) -> Iterator[str]:
        def progress(live: LiveStats) -> None:
            self._worker.progress.emit(self._rid, live)
            if on_progress is not None:
                on_progress(live)

        inner = produce(progress)

        def reported() -> Iterator[str]:
            try:
                yield from inner
            finally:
                if self._engine.last_stats is not None:
                    self._worker.stats.emit(self._rid, self._engine.last_stats)

        return reported()

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams,
               stop: threading.Event | None = None,
               on_progress: Callable[[LiveStats], None] | None = None) -> Iterator[str]:
        return self._wrap(lambda p: self._engine.stream(messages, params, stop, p), on_progress)


class EngineWorker(QObject):
    """Owns the engine; runs on the engine thread."""

    load_requested = Signal(object)  # LoadParams
    generate_requested = Signal(object)  # GenerationRequest
    count_requested = Signal(int, object)  # ticket, messages
    job_requested = Signal(object)  # EngineJob

    load_progress = Signal(float)
    loaded = Signal(object)  # LoadedModel
    load_failed = Signal(str)
    started = Signal(int)
    trimmed = Signal(int, int)  # request id, messages dropped to fit the context
    delta = Signal(int, str)
    progress = Signal(int, object)  # request id, LiveStats
    stats = Signal(int, object)  # request id, GenerationStats
    failed = Signal(int, str)
    finished = Signal(int)
    counted = Signal(int, int)  # ticket, tokens (-1: no model)
    job_progress = Signal(int, object)
    job_done = Signal(int, object)

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.load_requested.connect(self._load)
        self.generate_requested.connect(self._generate)
        self.count_requested.connect(self._count)
        self.job_requested.connect(self._job)

    @Slot(object)
    def _load(self, params: LoadParams) -> None:
        try:
            loaded = self.engine.load(params, self.load_progress.emit)
        except EngineError as exc:
            self.load_failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the thread silently
            log.error("load crashed:\n%s", traceback.format_exc())
            self.load_failed.emit(f"Unexpected error while loading: {exc}")
        else:
            self.loaded.emit(loaded)

    def _run_request(self, rid: int, body: Callable[[LoadedModel], None]) -> None:
        """started, the body, failed on error, and always finished: the contract for every request."""
        self.started.emit(rid)
        try:
            loaded = self.engine.loaded
            if loaded is None:
                raise EngineError("No model is loaded yet.")
            body(loaded)
        except EngineError as exc:
            self.failed.emit(rid, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the thread silently
            log.error("request %d crashed:\n%s", rid, traceback.format_exc())
            self.failed.emit(rid, f"Unexpected error: {exc}")
        finally:
            self.finished.emit(rid)

    @Slot(object)
    def _generate(self, request: GenerationRequest) -> None:
        rid = request.request_id

        def body(loaded: LoadedModel) -> None:
            fitted = fit_messages(
                request.messages, self.engine.count_tokens, loaded.n_ctx,
                answer_reserve(loaded.n_ctx, request.params.max_tokens), request.overflow_policy,
            )
            if fitted.dropped_messages:
                self.trimmed.emit(rid, fitted.dropped_messages)

            def on_progress(live: LiveStats) -> None:
                self.progress.emit(rid, live)

            for text in self.engine.stream(fitted.messages, request.params, request.stop, on_progress):
                self.delta.emit(rid, text)
            self.stats.emit(rid, self.engine.last_stats)

        self._run_request(rid, body)

    @Slot(object)
    def _job(self, job: EngineJob) -> None:
        rid = job.request_id

        def body(_loaded: LoadedModel) -> None:
            engine = _ReportingEngine(self.engine, self, rid)
            result = job.run(engine, job.stop, lambda payload: self.job_progress.emit(rid, payload))  # type: ignore[arg-type]
            self.job_done.emit(rid, result)

        self._run_request(rid, body)

    @Slot(int, object)
    def _count(self, ticket: int, messages: Sequence[ChatMessage]) -> None:
        try:
            n = self.engine.count_tokens(messages) if self.engine.loaded is not None else -1
        except EngineError:
            n = -1
        self.counted.emit(ticket, n)


class EngineController(QObject):
    """GUI-thread face of the engine thread; panels talk only to this."""

    load_started = Signal()
    load_progress = Signal(float)
    loaded = Signal(object)
    load_failed = Signal(str)
    started = Signal(int)
    trimmed = Signal(int, int)
    delta = Signal(int, str)
    progress = Signal(int, object)
    stats = Signal(int, object)
    failed = Signal(int, str)
    finished = Signal(int)
    counted = Signal(int, int)
    job_progress = Signal(int, object)
    job_done = Signal(int, object)
    busy_changed = Signal(bool)

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._thread = QThread()
        self._thread.setObjectName("kestrel-engine")
        self.worker = EngineWorker(engine)
        self.worker.moveToThread(self._thread)
        self._next_id = 0
        self._active: GenerationRequest | EngineJob | None = None
        self._loading = False
        self._model: LoadedModel | None = None
        self._wire()
        self._thread.start()

    def _wire(self) -> None:
        """Every connection between the engine thread and the GUI thread, in one place."""
        w = self.worker
        w.load_progress.connect(self.load_progress)
        w.loaded.connect(self._on_loaded)
        w.load_failed.connect(self._on_load_failed)
        w.started.connect(self.started)
        w.trimmed.connect(self.trimmed)
        w.delta.connect(self.delta)
        w.progress.connect(self.progress)
        w.stats.connect(self.stats)
        w.failed.connect(self.failed)
        w.finished.connect(self._on_finished)
        w.counted.connect(self.counted)
        w.job_progress.connect(self.job_progress)
        w.job_done.connect(self.job_done)

    # ---- state -----------------------------------------------------------------------
    @property
    def model(self) -> LoadedModel | None:
        """The model the worker last reported loaded (GUI-thread copy)."""
        return self._model

    @property
    def busy(self) -> bool:
        """True while a reply is produced or a model loads."""
        return self._active is not None or self._loading

    @property
    def active_request(self) -> int | None:
        return self._active.request_id if self._active else None

    # ---- requests --------------------------------------------------------------------
    def load(self, params: LoadParams) -> None:
        """Load (or switch) the model on the worker; progress and result come as signals."""
        if self._active is not None:
            self._active.stop.set()
        self._loading = True
        self._model = None
        self.busy_changed.emit(True)
        self.load_started.emit()
        self.worker.load_requested.emit(params)

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams,
                 overflow_policy: str = DROP_OLDEST) -> int:
        """Queue one reply; returns its request id. Only one runs at a time."""
        if self.busy:
            raise RuntimeError("the engine is busy")
        self._next_id += 1
        request = GenerationRequest(self._next_id, tuple(messages), params, overflow_policy=overflow_policy)
        self._active = request
        self.busy_changed.emit(True)
        self.worker.generate_requested.emit(request)
        return request.request_id

    def run_job(self, run: JobFunction) -> int:
        """Queue a job on the engine thread; returns its id (started, job_progress..., job_done or
        failed, then always finished)."""
        if self.busy:
            raise RuntimeError("the engine is busy")
        self._next_id += 1
        job = EngineJob(self._next_id, run)
        self._active = job
        self.busy_changed.emit(True)
        self.worker.job_requested.emit(job)
        return job.request_id

    def stop(self) -> None:
        """Stop the current reply within one token (or interrupt the prompt evaluation)."""
        if self._active is not None:
            self._active.stop.set()

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Ask the worker to count prompt tokens; the answer comes as ``counted(ticket, n)``."""
        self._next_id += 1
        self.worker.count_requested.emit(self._next_id, tuple(messages))
        return self._next_id

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop any reply, end the thread, free the model. True if the thread ended in time."""
        self.stop()
        self._thread.quit()
        ended = self._thread.wait(timeout_ms)
        if ended:
            self.engine.unload()
        return bool(ended)

    # ---- worker results --------------------------------------------------------------
    def _on_loaded(self, loaded: LoadedModel) -> None:
        self._loading = False
        self._model = loaded
        self.loaded.emit(loaded)
        self.busy_changed.emit(self.busy)

    def _on_load_failed(self, message: str) -> None:
        self._loading = False
        self.load_failed.emit(message)
        self.busy_changed.emit(self.busy)

    def _on_finished(self, request_id: int) -> None:
        if self._active is not None and self._active.request_id == request_id:
            self._active = None
        self.finished.emit(request_id)
        self.busy_changed.emit(self.busy)
