"""An engine seen through a reporter: every reply it streams also reports its figures.

Jobs (summaries, translations, comparisons) stream many replies through one engine;
wrapping the engine here sends each reply's live figures and final stats to the
callbacks (the worker forwards them to the speed readout) without the job knowing.
Each wrapper declares exactly the capabilities of the engine it wraps, so
``isinstance(wrapped, TokenEngine)`` stays truthful.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from app.engines.contract import (
    ChatMessage,
    Engine,
    GenerationParams,
    GenerationStats,
    LiveStats,
    LoadedModel,
    LoadProgress,
    LogprobEngine,
    ModelSpec,
    ProgressCallback,
    TokenEngine,
)

OnStats = Callable[[GenerationStats], None]


class ReportingEngine(Engine):
    """Delegates to ``engine``; live figures go to ``on_live``, final stats to ``on_stats``."""

    def __init__(self, engine: Engine, on_live: ProgressCallback, on_stats: OnStats) -> None:
        self._engine = engine
        self._on_live = on_live
        self._on_stats = on_stats

    @property
    def loaded(self) -> LoadedModel | None:
        return self._engine.loaded

    @property
    def last_stats(self) -> GenerationStats | None:
        return self._engine.last_stats

    def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        return self._engine.load(spec, on_progress, cancel)

    def unload(self) -> None:
        self._engine.unload()

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self._engine.count_tokens(messages)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams,
               stop: threading.Event | None = None, on_progress: ProgressCallback | None = None) -> Iterator[str]:
        return self._reported(lambda live: self._engine.stream(messages, params, stop, live), on_progress)

    def _reported(self, produce: Callable[[ProgressCallback], Iterator[str]],
                  on_progress: ProgressCallback | None) -> Iterator[str]:
        def live(figures: LiveStats) -> None:
            self._on_live(figures)
            if on_progress is not None:
                on_progress(figures)

        inner = produce(live)

        def reported() -> Iterator[str]:
            try:
                yield from inner
            finally:
                stats = self._engine.last_stats
                if stats is not None:
                    self._on_stats(stats)

        return reported()


class ReportingTokenEngine(ReportingEngine, TokenEngine):
    """The same for an engine with a tokenizer."""

    def __init__(self, engine: TokenEngine, on_live: ProgressCallback, on_stats: OnStats) -> None:
        super().__init__(engine, on_live, on_stats)
        self._tokens = engine

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
        return self._tokens.tokenize(text, add_special=add_special, parse_special=parse_special)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        return self._tokens.prompt_tokens(messages)

    def stream_tokens(self, tokens: list[int], params: GenerationParams, *, stop: threading.Event | None = None,
                      on_progress: ProgressCallback | None = None,
                      extra_stops: tuple[str, ...] = (), started: float | None = None) -> Iterator[str]:
        return self._reported(
            lambda live: self._tokens.stream_tokens(tokens, params, stop=stop, on_progress=live,
                                                    extra_stops=extra_stops, started=started),
            on_progress)


class ReportingFullEngine(ReportingTokenEngine, LogprobEngine):
    """The same for an engine with a tokenizer and log-probabilities (the quantization comparison)."""

    def __init__(self, engine: Any, on_live: ProgressCallback, on_stats: OnStats) -> None:
        super().__init__(engine, on_live, on_stats)
        self._logprobs: LogprobEngine = engine

    def next_token_logprobs(self, tokens: list[int]) -> Any:
        return self._logprobs.next_token_logprobs(tokens)


def reporting(engine: Engine, on_live: ProgressCallback, on_stats: OnStats) -> Engine:
    """The wrapper that matches ``engine``'s declared capabilities."""
    if isinstance(engine, TokenEngine) and isinstance(engine, LogprobEngine):
        return ReportingFullEngine(engine, on_live, on_stats)
    if isinstance(engine, TokenEngine):
        return ReportingTokenEngine(engine, on_live, on_stats)
    return ReportingEngine(engine, on_live, on_stats)
