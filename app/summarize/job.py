"""What a summary and a question about a whole document share: model answers streamed one at a time.

Reading each answer as it streams (a blank line, a loop or an echo of the request ends it
early), and the runner's bookkeeping around it: progress reported at most every
``PROGRESS_INTERVAL_S``, speeds learnt for the time left, the stop event turned into
:class:`CancelledError`. The summarizer's ``Run`` and the asker (``app.ask.run``) build on
:class:`StreamingJob`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace

from app.engines.contract import Engine, GenerationParams, GenerationStats
from app.summarize.answers import norm, repeats
from app.summarize.plan import Speeds
from app.summarize.results import Point, SummaryProgress

PROGRESS_INTERVAL_S = 0.1


def read_answer(iterator: Iterator[str], content: str, *, blank_stop: bool, copy_is_echo: bool,
                on_delta: Callable[[str], None] | None = None) -> tuple[str, bool]:
    """Stream one answer; a blank line, a loop or an echo of the request ends it early.

    Returns the text streamed and whether it was an echo. ``copy_is_echo``: copying the
    input counts as an echo too (a combined summary that repeats its parts verbatim
    combines nothing). The iterator is closed on the way out, so the engine's request
    ends now, not when the generator is collected.
    """
    reader = AnswerReader(content, blank_stop=blank_stop, copy_is_echo=copy_is_echo)
    try:
        for delta in iterator:
            if on_delta is not None:
                on_delta(delta)
            if reader.feed(delta):
                break
    finally:
        if isinstance(iterator, Generator):
            iterator.close()
    return reader.text, reader.echo


class AnswerReader:
    """One answer as it streams (see :func:`read_answer`): says when a blank line, a loop or an echo ended it."""

    def __init__(self, content: str, *, blank_stop: bool, copy_is_echo: bool) -> None:
        self._instruction = norm(content if copy_is_echo else content[: content.find("<<<")] if "<<<" in content
                                 else content[:300])
        self._blank_stop = blank_stop
        self._pieces: list[str] = []
        self._seen = ""
        self.echo = False
        self.done = False

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    def feed(self, delta: str) -> bool:
        """Add a delta; True once the answer is complete (nothing after that belongs to it)."""
        if self.done:
            return True
        self._pieces.append(delta)
        seen = self._seen = (self._seen + delta).lstrip()
        if len(seen) >= 24 and len(seen) - len(delta) < 24 and norm(seen[:24]) in self._instruction:
            self.echo = self.done = True  # a base model repeating the request: nothing to wait for
        elif (self._blank_stop and "\n\n" in seen) or repeats(seen) >= 0:
            self.done = True
        return self.done


def finish_answer(text: str, echo: bool, blank_stop: bool) -> str:
    """The usable part of a streamed answer: no echo, no loop, the first paragraph where asked."""
    if echo:
        return ""
    text = text.strip()
    cut = repeats(text)
    text = text[:cut] if cut >= 0 else text
    return text.split("\n\n")[0] if blank_stop else text


class CancelledError(Exception):
    """The stop event was set: unwind to return what is done."""


class StreamingJob(ABC):
    """A document job that asks the model one answer at a time and reports its progress.

    Subclasses say how a request is sent (:meth:`_stream`), how long is left (:meth:`_eta`)
    and how many parts there are (:meth:`_parts`).
    """

    def __init__(self, engine: Engine, params: GenerationParams, *, stop: threading.Event,
                 on_progress: Callable[[SummaryProgress], None] | None, speeds: Speeds, started: float) -> None:
        self.engine, self.params = engine, params
        self.stop, self.on_progress, self.speeds, self.started = stop, on_progress, speeds, started
        self.phase = "map"
        self.chunk_no = 0
        self._prompt_tokens = self._out_tokens = self._out_calls = 0
        self._pending = ""
        self._partial: list[str] = []
        self._last_report = 0.0
        self._stats: GenerationStats | None = None

    @abstractmethod
    def _stream(self, content: str, params: GenerationParams) -> Iterator[str]:
        """Send ``content`` as one request."""

    @abstractmethod
    def _eta(self) -> float:
        """Seconds left, from the speeds learnt so far."""

    @abstractmethod
    def _parts(self) -> tuple[int, bool]:
        """(how many parts the document has, whether that count is an estimate)."""

    def _generate(self, content: str, max_tokens: int, blank_stop: bool, copy_is_echo: bool = False) -> str:
        """Stream one answer (see :func:`read_answer`), reporting it as it comes."""
        self._partial = []

        def show(delta: str) -> None:
            self._partial.append(delta)
            self._pending += delta
            self._report()

        iterator = self._stream(content, replace(self.params, max_tokens=max_tokens))
        text, echo = read_answer(iterator, content, blank_stop=blank_stop, copy_is_echo=copy_is_echo,
                                 on_delta=show)
        self._learn(self.engine.last_stats)
        if self.stop.is_set():
            raise CancelledError
        return finish_answer(text, echo, blank_stop)

    def _learn(self, stats: GenerationStats | None) -> None:
        self._stats = stats
        self.speeds.learn(stats)
        if stats is not None:
            self._prompt_tokens += stats.prompt_tokens or 0
            self._out_tokens += stats.completion_tokens
            self._out_calls += 1

    def _report(self, point: Point | None = None, force: bool = False) -> None:
        now = time.perf_counter()
        if self.on_progress is None or (not force and now - self._last_report < PROGRESS_INTERVAL_S):
            return
        self._last_report = now
        count, estimated = self._parts()
        self.on_progress(SummaryProgress(self.phase, self.chunk_no, max(count, self.chunk_no), estimated,
                                         now - self.started, self._eta(), self._pending, point, self._stats))
        self._pending, self._stats = "", None
