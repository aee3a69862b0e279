"""Background work outside the engine, in one small helper instead of raw threads.

Probing the GPU, preparing the starter model, reading a dropped document: each runs
``fn`` on Qt's global thread pool and answers on the GUI thread with ``done(result)``
or ``failed(message)``, then always ``finished`` (superqt's worker contract). The task
object is parented to a GUI object, so results for a closed panel are simply dropped.

The pool thread emits private signals that the task re-emits from its own methods:
PySide runs a lambda connected to a signal in the emitting thread, but a QObject's
method queued in the thread the object lives in, so callers' lambdas run on the GUI
thread.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class Task(QObject):
    """Signals of one background call; lives on the GUI thread."""

    done = Signal(object)
    failed = Signal(str)
    finished = Signal()
    _done = Signal(object)  # emitted on the pool thread
    _failed = Signal(str)
    _finished = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.is_finished = False
        self._done.connect(self._on_done)
        self._failed.connect(self._on_failed)
        self._finished.connect(self._on_finished)

    @Slot(object)
    def _on_done(self, result: object) -> None:
        self.done.emit(result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.failed.emit(message)

    @Slot()
    def _on_finished(self) -> None:
        self.is_finished = True
        self.finished.emit()


class _Runner(QRunnable):
    def __init__(self, task: Task, fn: Callable[[], object], expected: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self._task = task
        self._name = task.objectName()
        self._fn = fn
        self._expected = expected

    def run(self) -> None:
        try:
            result = self._fn()
        except self._expected as exc:
            self._emit("_failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must reach the user, not vanish with the thread
            log.error("task %s crashed:\n%s", self._name, traceback.format_exc())
            self._emit("_failed", f"Unexpected error: {exc}")
        else:
            self._emit("_done", result)
        finally:
            self._emit("_finished")

    def _emit(self, signal_name: str, *args: object) -> None:
        try:
            getattr(self._task, signal_name).emit(*args)
        except RuntimeError:  # the task's owner was closed and deleted it: nobody is waiting
            log.debug("task %s finished after its owner was deleted", self._name)


def run_task(name: str, fn: Callable[[], object], parent: QObject,
             expected: tuple[type[BaseException], ...] = (OSError, ValueError, RuntimeError)) -> Task:
    """Run ``fn()`` off the GUI thread; connect to the returned task's signals right away.

    Exceptions of the ``expected`` types arrive as ``failed(str(exc))``; anything else is
    logged with its traceback and reported as an unexpected error.
    """
    task = Task(name, parent)
    QThreadPool.globalInstance().start(_Runner(task, fn, expected))
    return task
