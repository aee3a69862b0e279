"""Words for the speed figures, shared by the chat view, the readout and their tests.

Qt-free so every place that shows a figure says it the same way. The functions take a
plain mapping (a :meth:`GenerationStats.to_dict`) because stats are stored with each
message in the history: old messages may lack keys added later, or carry only
``{"stop_reason": "interrupted"}`` when the app was closed mid-reply, and a stored file
may hold a wrong type. Every key is therefore optional and a bad value is skipped, never
an exception. A figure nobody measured (None) is never shown as zero: the short lines
leave it out and the details tooltip shows "—" for a reply's key figures. The message's
short line stays short; its tooltip and the readout say where each figure not measured
by a local engine came from (``sources``: "(server)" for a server's report, "measured
here" for one timed on this side of the connection).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from app.base.speed import format_rate
from app.base.units import format_seconds
from app.engines.contract import LiveStats

__all__ = [
    "STOP_REASONS",
    "details_line",
    "details_tooltip",
    "live_line",
    "stop_reason_words",
    "summary_line",
]

SEP = " · "
UNKNOWN = "—"  # a figure nobody measured: never shown as zero

#: How the tooltip names where a figure came from; engine figures need no note.
SOURCE_NOTES: dict[str, str] = {"server": " (server)", "client": " (measured here)"}

#: Stop reasons in words; "interrupted" is what the history records for a reply cut off
#: by a crash or by closing the app, which the engine itself never reports.
STOP_REASONS: dict[str, str] = {
    "eos": "end of text",
    "length": "length limit",
    "stop": "stop string",
    "cancelled": "stopped by you",
    "context": "context full",
    "error": "ended by an error",
    "interrupted": "interrupted",
}


def _number(stats: Mapping[str, object], key: str) -> float | None:
    """A finite number stored under ``key``, or None (missing, bool, text, NaN)."""
    value = stats.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _count(stats: Mapping[str, object], key: str) -> int | None:
    """A non-negative whole count under ``key``, or None."""
    value = _number(stats, key)
    return int(value) if value is not None and value >= 0 else None


def _text(stats: Mapping[str, object], key: str) -> str | None:
    value = stats.get(key)
    return value if isinstance(value, str) and value else None


def _source(stats: Mapping[str, object], key: str) -> str:
    """' (server)' or ' (measured here)' when ``key`` was not measured by the engine, else ''."""
    sources = stats.get("sources")
    if not isinstance(sources, Mapping):
        return ""
    where = sources.get(key)
    return SOURCE_NOTES.get(where, "") if isinstance(where, str) else ""


def _tokens(n: int) -> str:
    """'1 token', '1,234 tokens'."""
    return f"{n:,} token" if n == 1 else f"{n:,} tokens"


def stop_reason_words(reason: str) -> str:
    """A stop reason as the user reads it; an unknown code is shown as it is."""
    return STOP_REASONS.get(reason, reason)


def details_line(stats: Mapping[str, object]) -> str:
    """One short line under an assistant message, e.g. '42.3 tok/s · 128 tokens · ...'.

    Empty when nothing is known, so the caller can simply hide an empty label.
    """
    parts: list[str] = []
    tps = _number(stats, "decode_tps")
    if tps is not None and tps > 0:
        parts.append(format_rate(tps))
    completion = _count(stats, "completion_tokens")
    if completion is not None:
        parts.append(_tokens(completion))
    ttft = _number(stats, "ttft_s")
    if ttft is not None and ttft >= 0 and completion != 0:
        parts.append(f"{format_seconds(ttft)} to first token")
    reason = _text(stats, "stop_reason")
    if reason == "interrupted":
        parts.append("interrupted")
    elif reason is not None:
        parts.append(f"stop: {reason}")
    return SEP.join(parts)


def summary_line(stats: Mapping[str, object]) -> str:
    """The readout's final figures: '42.3 tok/s · TTFT 85 ms · prompt 310 tok/s · ...'.

    Parts that would read as a misleading zero (no prompt evaluated because all of it was
    cached, a one-token reply with no decode speed) are left out rather than shown as 0.
    """
    parts: list[str] = []
    tps = _number(stats, "decode_tps")
    if tps is not None and tps > 0:
        parts.append(format_rate(tps) + _where(stats, "decode_tps"))
    server = stats.get("server")
    server_tps = _number(server, "decode_tps") if isinstance(server, Mapping) else None
    if server_tps is not None and server_tps > 0:
        parts.append(f"server {format_rate(server_tps)}")
    ttft = _number(stats, "ttft_s")
    if ttft is not None and ttft >= 0:
        parts.append(f"TTFT {format_seconds(ttft)}{_where(stats, 'ttft_s')}")
    prefill = _number(stats, "prefill_tps")
    if prefill is not None and prefill > 0:
        parts.append(f"prompt {format_rate(prefill)}{_where(stats, 'prefill_tps')}")
    cached = _count(stats, "cached_tokens")
    if cached:
        parts.append(f"{cached:,} cached{_where(stats, 'cached_tokens')}")
    restored = _restored(stats)
    if restored:
        parts.append(restored)
    drafts = _drafts(_count(stats, "drafted_tokens"), _count(stats, "accepted_tokens"))
    if drafts:
        parts.append(drafts)
    used, n_ctx = _count(stats, "context_used"), _count(stats, "n_ctx")
    if used is not None and n_ctx:
        parts.append(f"ctx {used:,}/{n_ctx:,}{_where(stats, 'context_used')}")
    reason = _text(stats, "stop_reason")
    if not parts and reason is not None:
        return stop_reason_words(reason)
    return SEP.join(parts)


def _restored(stats: Mapping[str, object]) -> str:
    """'restored 2,048 tokens in 40 ms' when the prompt came from a conversation saved on disk, else ''."""
    restored = _count(stats, "restored_tokens")
    if not restored:
        return ""
    took = _number(stats, "restore_s")
    return f"restored {restored:,} tokens" + (f" in {format_seconds(took)}" if took is not None and took >= 0 else "")


def _drafts(drafted: int | None, accepted: int | None) -> str:
    """'drafted 120, accepted 95 (79%)' when speculative decoding proposed tokens, else ''."""
    if not drafted or accepted is None:
        return ""
    return f"drafted {drafted:,}, accepted {accepted:,} ({accepted / drafted:.0%})"


def _server_lines(stats: Mapping[str, object]) -> list[str]:
    """A server's own figures beside ours, and the network and queueing time they reveal."""
    server = stats.get("server")
    if not isinstance(server, Mapping):
        return []
    lines: list[str] = []
    decode = _number(server, "decode_tps")
    if decode is not None and decode > 0:
        lines.append(f"Generation on the server: {format_rate(decode)} (server)")
    ttft, prefill_s = _number(stats, "ttft_s"), _number(server, "prefill_s")
    sources = stats.get("sources")
    timed_here = isinstance(sources, Mapping) and sources.get("ttft_s") == "client"
    if timed_here and ttft is not None and prefill_s is not None and ttft >= prefill_s:
        lines.append(f"Network and queueing: {format_seconds(ttft - prefill_s)} "
                     "(time to first token measured here, less the server's prompt time)")
    return lines


def _where(stats: Mapping[str, object], figure: str) -> str:
    """' measured here' / ' (server)' for a figure not timed by a local engine; '' otherwise."""
    sources = stats.get("sources")
    source = sources.get(figure) if isinstance(sources, Mapping) else None
    return {"client": " measured here", "server": " (server)"}.get(source, "") if isinstance(source, str) else ""


def details_tooltip(stats: Mapping[str, object]) -> str:
    """Every figure on its own line, in plain text, for a tooltip or a copy to clipboard.

    A figure a server reported or the client timed carries a note saying so.
    """
    lines: list[str] = []
    # a reply whose key figures nobody measured (a server that reports nothing) says so with "—"
    reply = _count(stats, "completion_tokens") is not None
    ttft = _number(stats, "ttft_s")
    if ttft is not None and ttft >= 0:
        lines.append(f"Time to first token: {format_seconds(ttft)}{_source(stats, 'ttft_s')}")
    elif reply:
        lines.append(f"Time to first token: {UNKNOWN}")

    prompt = _count(stats, "prompt_tokens")
    cached = _count(stats, "cached_tokens")
    evaluated = _count(stats, "evaluated_tokens")
    if prompt is not None:
        split = []
        if cached is not None:
            split.append(f"{cached:,} cached")
        if evaluated is not None:
            split.append(f"{evaluated:,} evaluated")
        extra = f" ({', '.join(split)})" if split else ""
        lines.append(f"Prompt: {_tokens(prompt)}{_source(stats, 'prompt_tokens')}{extra}")
        restored = _restored(stats)
        if restored:
            lines.append(f"Saved conversation: {restored}")
    elif reply:
        lines.append(f"Prompt: {UNKNOWN}")

    prefill = _number(stats, "prefill_tps")
    if prefill is not None and prefill > 0:
        lines.append(f"Prompt reading: {format_rate(prefill)}{_source(stats, 'prefill_tps')}")
    elif evaluated == 0 and prompt:
        lines.append("Prompt reading: all from cache")
    elif reply:
        lines.append(f"Prompt reading: {UNKNOWN}")

    decode = _number(stats, "decode_tps")
    if decode is not None and decode > 0:
        lines.append(f"Generation: {format_rate(decode)}{_source(stats, 'decode_tps')} (excluding the first token)")
    elif reply:
        lines.append(f"Generation: {UNKNOWN}")

    drafts = _drafts(_count(stats, "drafted_tokens"), _count(stats, "accepted_tokens"))
    if drafts:
        lines.append(f"Speculative decoding: {drafts} (the generation speed above includes the accepted tokens)")
    lines.extend(_server_lines(stats))

    completion = _count(stats, "completion_tokens")
    if completion is not None:
        total = _number(stats, "total_s")
        took = f" in {format_seconds(total)}{_source(stats, 'total_s')}" if total is not None and total > 0 else ""
        lines.append(f"Reply: {_tokens(completion)}{_source(stats, 'completion_tokens')}{took}")

    reason = _text(stats, "stop_reason")
    if reason is not None:
        lines.append(f"Stopped: {stop_reason_words(reason)}")

    used, n_ctx = _count(stats, "context_used"), _count(stats, "n_ctx")
    if used is not None and n_ctx:
        lines.append(f"Context used: {used:,} / {n_ctx:,} tokens ({used / n_ctx:.0%}){_source(stats, 'context_used')}")

    backend = _text(stats, "backend")
    if backend is not None:
        layers = _number(stats, "gpu_layers")
        if layers is None or layers == 0:
            lines.append(f"Backend: {backend}")
        elif layers < 0:
            lines.append(f"Backend: {backend}, all layers on the GPU")
        else:
            n = int(layers)
            lines.append(f"Backend: {backend}, {n:,} GPU layer{'s' if n != 1 else ''}")

    model = _text(stats, "model")
    if model is not None:
        lines.append(f"Model: {model}")
    return "\n".join(lines)


def live_line(live: LiveStats) -> str:
    """The figure shown while a reply is produced.

    Prefill counts only the tokens that need evaluating (cached ones cost nothing), so
    the progress reaches its end instead of stalling at the cached share.
    """
    if live.phase == "prefill":
        if live.to_evaluate > 0:
            done = min(live.evaluated_tokens, live.to_evaluate)
            return f"Reading prompt {done:,} / {live.to_evaluate:,} tokens"
        return "Reading prompt…"
    parts: list[str] = []
    if live.decode_tps is not None and live.decode_tps > 0:
        parts.append(format_rate(live.decode_tps))
    server_tps = live.server.decode_tps if live.server is not None else None
    if server_tps is not None and server_tps > 0:  # llama-server's own running figure
        parts.append(f"server {format_rate(server_tps)}")
    drafts = _drafts(live.drafted_tokens, live.accepted_tokens)
    return SEP.join([*parts, _tokens(live.completion_tokens), *([drafts] if drafts else [])])
