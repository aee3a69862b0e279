"""The JSON the server answers with: OpenAI's shapes, plus llama-server's ``timings``.

``usage`` and ``timings`` are built from the engine's :class:`GenerationStats`. A figure
the engine did not measure is left out, never sent as 0, so a client that shows speed
shows only what was measured.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from app.engines.contract import GenerationStats, StopReason

Kind = Literal["chat", "text"]
_FINISH: dict[StopReason, str] = {"eos": "stop", "stop": "stop", "cancelled": "stop", "length": "length",
                                  "context": "length", "error": "stop"}


def finish_reason(stats: GenerationStats | None) -> str:
    """OpenAI's ``finish_reason`` for how the reply ended."""
    return _FINISH[stats.stop_reason] if stats is not None else "stop"


def usage(stats: GenerationStats) -> dict[str, Any]:
    """OpenAI's ``usage``; prompt counts only when the engine counted them."""
    out: dict[str, Any] = {}
    if stats.prompt_tokens is not None:
        out["prompt_tokens"] = stats.prompt_tokens
    out["completion_tokens"] = stats.completion_tokens
    if stats.prompt_tokens is not None:
        out["total_tokens"] = stats.prompt_tokens + stats.completion_tokens
    if stats.cached_tokens is not None:
        out["prompt_tokens_details"] = {"cached_tokens": stats.cached_tokens}
    return out


def timings(stats: GenerationStats) -> dict[str, Any]:
    """llama-server's ``timings``: ``prompt_*`` for the prompt evaluated this time (not the cached
    part, which is ``cache_n``), ``predicted_*`` for decoding. ``predicted_per_second`` is
    (tokens - 1) / (last token - first token): the first token's time is the prompt's."""
    out: dict[str, Any] = {}
    if stats.cached_tokens is not None:
        out["cache_n"] = stats.cached_tokens
    if stats.evaluated_tokens is not None:
        out["prompt_n"] = stats.evaluated_tokens
    if stats.prefill_s is not None:
        out["prompt_ms"] = round(stats.prefill_s * 1000, 3)
    if stats.prefill_tps:
        out["prompt_per_token_ms"] = round(1000 / stats.prefill_tps, 3)
        out["prompt_per_second"] = round(stats.prefill_tps, 3)
    out["predicted_n"] = stats.completion_tokens
    if stats.decode_s is not None:
        out["predicted_ms"] = round(stats.decode_s * 1000, 3)
    if stats.decode_tps:
        out["predicted_per_token_ms"] = round(1000 / stats.decode_tps, 3)
        out["predicted_per_second"] = round(stats.decode_tps, 3)
    return out


@dataclass
class Envelope:
    """What every body or chunk of one reply shares: its id, time and model."""

    kind: Kind
    model: str
    created: int = field(default_factory=lambda: int(time.time()))
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = ("chatcmpl-" if self.kind == "chat" else "cmpl-") + secrets.token_hex(12)

    def _base(self, object_name: str) -> dict[str, Any]:
        return {"id": self.id, "object": object_name, "created": self.created, "model": self.model}

    def _choice(self, text: str | None, finish: str | None, *, whole: bool) -> dict[str, Any]:
        if self.kind == "text":
            return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
        if whole:
            message = {"role": "assistant", "content": text or ""}
            return {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        delta = {"content": text} if text is not None else {}
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    def whole(self, text: str, stats: GenerationStats | None) -> dict[str, Any]:
        """The non-streaming answer."""
        body = self._base("chat.completion" if self.kind == "chat" else "text_completion")
        body["choices"] = [self._choice(text, finish_reason(stats), whole=True)]
        if stats is not None:
            body["usage"] = usage(stats)
            body["timings"] = timings(stats)
        return body

    def chunk(self, text: str | None = None, finish: str | None = None, *, role: bool = False,
              stats: GenerationStats | None = None, usage_only: bool = False) -> bytes:
        """One SSE event: a piece of text, the opening role, the closing finish reason (with
        ``usage`` and ``timings``, as llama-server sends them), or the ``usage`` chunk whose
        ``choices`` is empty (``stream_options.include_usage``, as OpenAI sends it)."""
        body = self._base("chat.completion.chunk" if self.kind == "chat" else "text_completion")
        if usage_only:
            body["choices"] = []
        elif role and self.kind == "chat":
            choice = self._choice(None, None, whole=False)
            choice["delta"] = {"role": "assistant", "content": ""}
            body["choices"] = [choice]
        else:
            body["choices"] = [self._choice(text, finish, whole=False)]
        if stats is not None:
            body["usage"] = usage(stats)
            body["timings"] = timings(stats)
        return event(body)


#: Characters JSON leaves raw that some readers take for line ends (Python's ``str.splitlines``).
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def event(body: dict[str, Any] | str) -> bytes:
    """One server-sent event: ``data: ...`` and a blank line, on one line whatever the text holds."""
    data = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"data: {data.translate(_LINE_BREAKS)}\n\n".encode()


DONE = event("[DONE]")
