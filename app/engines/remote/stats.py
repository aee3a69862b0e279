"""Honest figures for a remote reply: what was timed here, and what the server says, kept apart.

Timed here (source ``client``): time to first token (request start to the first content
chunk), decode time (first to last content chunk), decode rate, total time. Reported by the
server (source ``server``): token counts from ``usage`` (OpenAI, vLLM, Ollama, llama-server)
and llama-server's ``timings`` (prompt and cache counts, prefill time and rate, its own
decode rate), or Ollama's native durations. The contract's :class:`GenerationStats` holds
one decode rate, so it gets the client's; the server's own figures are kept whole in its
``server`` field (:class:`ServerFigures`). Unknown is None, never 0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from app.base.speed import RollingRate, rate
from app.engines.contract import GenerationStats, LiveStats, ServerFigures, Source, StopReason

PROGRESS_INTERVAL_S = 0.25


def _int(data: Mapping[str, Any] | None, key: str) -> int | None:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _float(data: Mapping[str, Any] | None, key: str) -> float | None:
    value = data.get(key) if data is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _seconds(ms: float | None) -> float | None:
    return ms / 1000.0 if ms is not None else None


def server_figures(usage: Mapping[str, Any] | None, timings: Mapping[str, Any] | None) -> ServerFigures:
    """Merge OpenAI ``usage`` and llama-server ``timings`` (timings win: they split cache from evaluation)."""
    evaluated = _int(timings, "prompt_n")
    cached = _int(timings, "cache_n")
    prompt = _int(usage, "prompt_tokens")
    if evaluated is not None and cached is not None:
        prompt = evaluated + cached
    prefill_s = _seconds(_float(timings, "prompt_ms"))
    decode_s = _seconds(_float(timings, "predicted_ms"))
    completion = _int(timings, "predicted_n")
    if completion is None:
        completion = _int(usage, "completion_tokens")
    return ServerFigures(
        prompt_tokens=prompt, cached_tokens=cached, evaluated_tokens=evaluated, completion_tokens=completion,
        prefill_s=prefill_s, prefill_tps=_float(timings, "prompt_per_second") or rate(evaluated, prefill_s),
        decode_s=decode_s, decode_tps=_float(timings, "predicted_per_second") or rate(completion, decode_s),
    )


def _nanoseconds(value: float | None) -> float | None:
    return value / 1e9 if value is not None else None


def ollama_figures(metrics: Mapping[str, Any] | None) -> ServerFigures:
    """Ollama's end-of-reply counts and durations (nanoseconds).

    ``prompt_eval_count`` is the whole prompt and ``prompt_eval_cached_count`` the part read
    from Ollama's cache (newer versions); the prefill rate counts only what was evaluated, as
    Ollama's own ``--verbose`` does, so it is unknown when the cached part is not reported.
    """
    prompt = _int(metrics, "prompt_eval_count")
    cached = _int(metrics, "prompt_eval_cached_count")
    evaluated = prompt - cached if prompt is not None and cached is not None and cached <= prompt else None
    prefill_s = _nanoseconds(_float(metrics, "prompt_eval_duration"))
    completion = _int(metrics, "eval_count")
    decode_s = _nanoseconds(_float(metrics, "eval_duration"))
    return ServerFigures(
        prompt_tokens=prompt, cached_tokens=cached, evaluated_tokens=evaluated, completion_tokens=completion,
        prefill_s=prefill_s, prefill_tps=rate(evaluated, prefill_s), decode_s=decode_s,
        decode_tps=rate(completion, decode_s),
    )


class ReplyClock:
    """Chunk arrival times of one reply, timed here with ``time.perf_counter``."""

    def __init__(self, started: float | None = None) -> None:
        self.started = time.perf_counter() if started is None else started
        self.first: float | None = None
        self.last: float | None = None
        self.chunks = 0  # content chunks received
        self._rolling = RollingRate()
        self._next_report = 0.0

    def content(self) -> float:
        """A content chunk arrived now; returns the time."""
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.chunks += 1
        self._rolling.add(now)
        return now

    def due(self, now: float) -> bool:
        """Whether a progress snapshot is due (at most one every 0.25 s)."""
        return now >= self._next_report

    def live(self, now: float, server: ServerFigures | None = None) -> LiveStats:
        """A progress snapshot; the prompt figures are the server's running ones where it sends them, else 0.

        ``server``: llama-server's per-token ``timings`` so far (None when the server sends none).
        """
        self._next_report = now + PROGRESS_INTERVAL_S
        server = None if server is None or server.empty else server
        prompt = server.prompt_tokens if server is not None and server.prompt_tokens is not None else 0
        evaluated = server.evaluated_tokens if server is not None and server.evaluated_tokens is not None else 0
        if self.first is None:
            return LiveStats("prefill", prompt, evaluated, evaluated, 0, now - self.started, None, server)
        # chunks ~ tokens: servers send one token per chunk (llama-server, llama-cpp-python, Ollama);
        # vLLM may group a few, which makes the live rate read low, never high.
        return LiveStats("decode", prompt, evaluated, evaluated, self.chunks, now - self.started,
                         self._rolling.value(), server)


def reply_stats(clock: ReplyClock, server: ServerFigures, *, reason: StopReason, backend: str, model: str,
                n_ctx: int | None) -> GenerationStats:
    """The reply's :class:`GenerationStats`: timings from ``clock`` (client), counts from ``server`` where given.

    Decode rate = (tokens - 1) / (last chunk - first chunk): the first token is prefill's. The
    token count is the server's when it reports one; otherwise the number of content chunks,
    an approximation (one token per chunk, as llama-server, llama-cpp-python and Ollama send).
    """
    end = time.perf_counter()
    sources: dict[str, Source] = {}
    completion = clock.chunks
    if server.completion_tokens is not None:
        completion = server.completion_tokens
        sources["completion_tokens"] = "server"
    decode_s = (clock.last - clock.first) if clock.first is not None and clock.last is not None else None
    if decode_s is not None and (clock.chunks < 2 or decode_s <= 0):
        decode_s = None
    for name in ("prompt_tokens", "cached_tokens", "evaluated_tokens", "prefill_s", "prefill_tps"):
        if getattr(server, name) is not None:
            sources[name] = "server"
    context_used = None
    if server.prompt_tokens is not None:
        context_used = server.prompt_tokens + completion
        sources["context_used"] = "server"
    return GenerationStats(
        completion_tokens=completion, total_s=end - clock.started, stop_reason=reason, backend=backend, model=model,
        prompt_tokens=server.prompt_tokens, cached_tokens=server.cached_tokens,
        evaluated_tokens=server.evaluated_tokens,
        ttft_s=(clock.first - clock.started) if clock.first is not None else None,
        prefill_s=server.prefill_s, prefill_tps=server.prefill_tps,
        decode_s=decode_s, decode_tps=rate(completion - 1, decode_s),
        n_ctx=n_ctx, context_used=context_used, source="client", sources=sources,
        server=None if server.empty else server,
    )
