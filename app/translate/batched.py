"""The first request of many segments as one batch, for an engine that decodes several at once.

A local model decodes a few sequences together almost as fast as one
(:class:`~app.engines.contract.BatchEngine`), so a document's segments are sent as one
batch: each one's first request exactly as it would be sent alone, read with the same
:class:`~app.translate.reply.Reply` and ended where that reply is cut. The runner takes
the results in document order; the rare segment that needs more (an empty first reply, a
segment too long for one request) is translated one request at a time as before, once the
batch is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass

from app.engines.contract import BatchEngine, BatchItem, BatchPrompt, GenerationParams
from app.translate.reply import Reply


@dataclass(frozen=True)
class FirstRequest:
    """One segment's first request: its prompt and parameters, and the reply reader it is read with."""

    segment: int
    prompt: BatchPrompt
    params: GenerationParams
    reply: Reply


class FirstReplies:
    """The batch, read as far as the segment asked for needs; ``show`` gets that segment's text as it streams."""

    def __init__(self, engine: BatchEngine, requests: Sequence[FirstRequest], stop: threading.Event,
                 show: Callable[[int, str], None]) -> None:
        self._engine, self._requests, self._stop, self._show = engine, list(requests), stop, show
        self._position = {request.segment: i for i, request in enumerate(self._requests)}
        self._items: Iterator[BatchItem] | None = None
        self._results: dict[int, str | None] = {}
        self._cut: set[int] = set()  # requests whose reply was cut: what follows is not read
        self._waiting_for = -1

    def __contains__(self, segment: int) -> bool:
        return segment in self._position

    def take(self, segment: int) -> str | None:
        """The segment's first reply, cleaned ("" when it gave nothing); None when stopped first."""
        self._waiting_for = segment
        reply = self._requests[self._position[segment]].reply
        if reply.raw and segment not in self._results:
            self._show(segment, reply.partial)
        while segment not in self._results and self._next():
            pass
        return self._results.pop(segment, None)

    def finish(self) -> None:
        """Read the batch to its end (the engine is free for single requests after this)."""
        while self._next():
            pass

    def close(self) -> None:
        """Stop reading: an unfinished batch ends now."""
        if isinstance(self._items, Generator):
            self._items.close()
        self._items = iter(())

    def _next(self) -> bool:
        if self._items is None:
            self._items = self._engine.stream_batch([r.prompt for r in self._requests],
                                                    [r.params for r in self._requests], self._stop)
        item = next(self._items, None)
        if item is None:
            return False
        request = self._requests[item.index]
        reply = request.reply
        if item.stats is None:
            if item.index in self._cut:
                return True
            cut = reply.feed(item.text)
            if request.segment == self._waiting_for:
                self._show(request.segment, reply.partial)
            if cut:
                self._cut.add(item.index)
                self._engine.end_sequence(item.index)
        elif self._stop.is_set() or (item.stats.stop_reason == "cancelled" and not reply.overflow):
            self._results[request.segment] = None
        else:
            self._results[request.segment] = reply.text()
        return True
