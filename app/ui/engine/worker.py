"""The engine on its own thread: the only object that touches an engine.

``EngineWorker`` is a QObject moved to a QThread (like GPT4All's ``ChatLLM``). It takes
requests as ``*_requested`` signals (queued across threads by Qt) and answers with
signals carrying the request id; the controller routes them to each request's handle.
Every request runs through ``_run_request``: ``started``, the body, ``failed`` on any
error, and always ``finished`` from a ``finally``. Errors never travel in the reply text.

Which engine runs is decided by the model spec through the factory: a load of another
kind of model replaces the engine.

When the engine's process dies (:class:`EngineCrashed`), the request fails with the
engine's reason, the worker loads the last model that loaded well again (announced as
``loaded(-1, ...)``), and a model that stopped the engine is recorded so the next start
does not load it by itself (:mod:`app.models.crashes`).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, Signal, Slot

from app.chat.conversation import DROP_OLDEST, answer_reserve, fit_messages
from app.engines.contract import (
    ChatMessage,
    Engine,
    EngineCrashed,
    EngineError,
    EngineFactory,
    GenerationParams,
    GenerationStats,
    LiveStats,
    LoadCancelled,
    LoadedModel,
    LocalModel,
    ModelSpec,
)
from app.engines.factory import same_kind
from app.engines.reporting import reporting
from app.models import crashes

log = logging.getLogger(__name__)

#: ``run(engine, stop, report)`` runs on the engine thread; ``report(payload)`` reaches the
#: GUI as the handle's ``job_progress``, the return value as ``done``.
JobFunction = Callable[[Engine, threading.Event, Callable[[object], None]], object]


@dataclass(frozen=True)
class LoadRequest:
    """Load ``spec``; setting ``cancel`` makes the load give up at its next progress step."""

    load_id: int
    spec: ModelSpec
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class GenerationRequest:
    """Everything the worker needs for one reply."""

    request_id: int
    messages: tuple[ChatMessage, ...]
    params: GenerationParams
    stop: threading.Event
    overflow_policy: str = DROP_OLDEST


@dataclass(frozen=True)
class EngineJob:
    """A longer task that needs the engine (summarize a document, translate one, compare models)."""

    request_id: int
    run: JobFunction
    stop: threading.Event


@dataclass(frozen=True)
class CountRequest:
    """Count the prompt tokens of ``messages``."""

    request_id: int
    messages: tuple[ChatMessage, ...]


class EngineWorker(QObject):
    """Owns the engine; runs on the engine thread."""

    load_requested = Signal(object)  # LoadRequest
    generate_requested = Signal(object)  # GenerationRequest
    count_requested = Signal(object)  # CountRequest
    job_requested = Signal(object)  # EngineJob

    load_progress = Signal(int, float)  # load id, fraction
    loaded = Signal(int, object)  # load id (-1: the model restored after a job), LoadedModel
    load_failed = Signal(int, str)
    started = Signal(int)
    trimmed = Signal(int, int)  # request id, messages dropped to fit the context
    delta = Signal(int, str)
    progress = Signal(int, object)  # request id, LiveStats
    stats = Signal(int, object)  # request id, GenerationStats
    job_progress = Signal(int, object)
    done = Signal(int, object)  # request id, result (a job's value, a token count)
    failed = Signal(int, str)
    finished = Signal(int)

    def __init__(self, factory: EngineFactory) -> None:
        super().__init__()
        self._factory = factory
        self.engine: Engine | None = None
        self._engine_spec: ModelSpec | None = None  # the spec the engine was made for
        self._good: ModelSpec | None = None  # the last spec that loaded: what a crashed engine restarts with
        self.load_requested.connect(self._load)
        self.generate_requested.connect(self._generate)
        self.count_requested.connect(self._count)
        self.job_requested.connect(self._job)

    def _engine_for(self, spec: ModelSpec) -> Engine:
        current = self.engine
        if current is not None and self._engine_spec is not None and same_kind(self._engine_spec, spec):
            return current
        if current is not None:
            current.unload()
        self.engine = self._factory(spec)
        self._engine_spec = spec
        return self.engine

    @Slot(object)
    def _load(self, request: LoadRequest) -> None:
        if request.cancel.is_set():
            self.load_failed.emit(request.load_id, f"Loading {request.spec.label} was cancelled.")
            return
        try:
            engine = self._engine_for(request.spec)
            loaded = engine.load(request.spec, lambda f: self.load_progress.emit(request.load_id, f), request.cancel)
        except LoadCancelled as exc:
            self.load_failed.emit(request.load_id, str(exc))
        except EngineError as exc:
            if isinstance(exc, EngineCrashed):
                self._remember_crash(request.spec, str(exc))
            self.load_failed.emit(request.load_id, str(exc))
            self._back_to_good(request.spec)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the thread silently
            log.error("load crashed:\n%s", traceback.format_exc())
            self.load_failed.emit(request.load_id, f"Unexpected error while loading: {exc}")
        else:
            self._loaded_well(request.spec)
            self.loaded.emit(request.load_id, loaded)

    def _loaded_well(self, spec: ModelSpec) -> None:
        self._good = spec
        if isinstance(spec, LocalModel):
            crashes.clear(spec.path)

    @staticmethod
    def _remember_crash(spec: ModelSpec | None, reason: str) -> None:
        if isinstance(spec, LocalModel):
            crashes.record(spec.path, reason)

    def _back_to_good(self, failed: ModelSpec) -> None:
        """After a failed load the last good model is in use again: still loaded, or loaded afresh."""
        engine = self.engine
        if engine is None:
            return
        if engine.loaded is not None:  # the engine refused the new file before letting go of the old one
            self.loaded.emit(-1, engine.loaded)
        elif self._good is not None and self._good != failed:
            self._recover(engine)

    def _recover(self, engine: Engine) -> None:
        """After a crash: a fresh engine with the last model that loaded well (``loaded(-1, ...)``)."""
        if self._good is None or engine.loaded is not None:
            return
        try:
            loaded = engine.load(self._good)
        except EngineCrashed as exc:
            self._remember_crash(self._good, str(exc))
            self.load_failed.emit(-1, str(exc))
        except EngineError as exc:
            self.load_failed.emit(-1, str(exc))
        else:
            self._loaded_well(self._good)
            self.loaded.emit(-1, loaded)

    def _run_request(self, rid: int, body: Callable[[Engine, LoadedModel], None]) -> None:
        """started, the body, failed on error, and always finished: the contract for every request."""
        self.started.emit(rid)
        try:
            engine = self.engine
            loaded = engine.loaded if engine is not None else None
            if engine is None or loaded is None:
                raise EngineError("No model is loaded yet.")
            body(engine, loaded)
        except EngineCrashed as exc:
            self.failed.emit(rid, str(exc))  # what was streamed before stays with the handle
            if engine is not None and engine.loaded is None:  # a job may have restored it already
                self._remember_crash(exc.model, str(exc))
                self._recover(engine)
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

        def body(engine: Engine, loaded: LoadedModel) -> None:
            fitted = fit_messages(
                request.messages, engine.count_tokens, loaded.n_ctx,
                answer_reserve(loaded.n_ctx, request.params.max_tokens), request.overflow_policy,
            )
            if fitted.dropped_messages:
                self.trimmed.emit(rid, fitted.dropped_messages)

            def on_progress(live: LiveStats) -> None:
                self.progress.emit(rid, live)

            try:
                for text in engine.stream(fitted.messages, request.params, request.stop, on_progress):
                    self.delta.emit(rid, text)
            except EngineError:
                # a reply cut by an error keeps its figures, marked as ended by the error;
                # one that failed before any text has no reply to carry them
                stats = engine.last_stats
                if stats is not None and stats.completion_tokens > 0:
                    ended = stats.stop_reason in ("error", "context", "cancelled")
                    self.stats.emit(rid, stats if ended else replace(stats, stop_reason="error"))
                raise
            self.stats.emit(rid, engine.last_stats)

        self._run_request(rid, body)

    @Slot(object)
    def _job(self, job: EngineJob) -> None:
        rid = job.request_id

        def body(engine: Engine, loaded: LoadedModel) -> None:
            def on_stats(stats: GenerationStats) -> None:
                self.stats.emit(rid, stats)

            try:
                result = job.run(reporting(engine, lambda live: self.progress.emit(rid, live), on_stats),
                                 job.stop, lambda payload: self.job_progress.emit(rid, payload))
            finally:
                self._restore(engine, loaded)
            self.done.emit(rid, result)

        self._run_request(rid, body)

    def _restore(self, engine: Engine, before: LoadedModel) -> None:
        """A job that loaded other models (a comparison) leaves the user's model loaded again."""
        if engine.loaded == before:
            return
        try:
            restored = engine.load(before.spec)
            self._loaded_well(before.spec)
            self.loaded.emit(-1, restored)
        except LoadCancelled:
            pass
        except EngineError as exc:
            self.load_failed.emit(-1, str(exc))

    @Slot(object)
    def _count(self, request: CountRequest) -> None:
        rid = request.request_id

        def body(engine: Engine, _loaded: LoadedModel) -> None:
            self.done.emit(rid, engine.count_tokens(request.messages))

        self._run_request(rid, body)
