"""Ollama's own chat API, used for Ollama servers because it says how long each part took.

Ollama's OpenAI-compatible endpoint reports token counts only. Its native ``POST /api/chat``
ends the reply with the figures Ollama measured itself: ``prompt_eval_count`` (the whole
prompt), ``prompt_eval_cached_count`` (newer versions: the part read from its cache),
``prompt_eval_duration``, ``eval_count`` and ``eval_duration``, in nanoseconds. The reply is
newline-delimited JSON, one object a line; an ``error`` line ends it badly.

The request also sends ``num_ctx``: without it Ollama uses its own default context and
silently drops the start of a longer prompt, while Kestrel budgets for the context it shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from huggingface_hub.utils import httpx

from app.engines.contract import ChatMessage, GenerationParams
from app.engines.remote.sse import Chunk, MalformedChunk, json_object, mapping

CHAT_PATH = "/api/chat"  # under the server's root, not under /v1
ACCEPT = "application/x-ndjson"
_METRICS = ("prompt_eval_count", "prompt_eval_cached_count", "prompt_eval_duration", "eval_count",
            "eval_duration", "load_duration", "total_duration")


def chat_body(model_id: str, messages: Sequence[ChatMessage], params: GenerationParams, n_ctx: int) -> dict[str, Any]:
    """The ``/api/chat`` request for one streamed reply."""
    options: dict[str, Any] = {"num_predict": params.max_tokens, "temperature": params.temperature,
                               "top_p": params.top_p, "num_ctx": n_ctx}
    if params.seed is not None:
        options["seed"] = params.seed
    if params.stop:
        options["stop"] = list(params.stop)
    return {"model": model_id, "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True, "options": options}


def parse_line(line: str) -> Chunk:
    """One line of the reply as a :class:`Chunk`; the last one (``done: true``) carries the metrics."""
    obj = json_object(line)
    message = mapping(obj.get("message"), "message") or {}
    content = message.get("content", "")
    if not isinstance(content, str):
        raise MalformedChunk("its content is not text")
    if obj.get("done") is not True:
        return Chunk(content=content)
    reason = obj.get("done_reason")
    metrics = {key: obj[key] for key in _METRICS if key in obj}
    return Chunk(content=content, finish_reason=reason if isinstance(reason, str) and reason else "stop",
                 metrics=metrics, done=True)


def read_lines(response: httpx.Response) -> Iterator[Chunk]:
    """The chunks of an ``/api/chat`` reply, one per non-empty line."""
    for line in response.iter_lines():
        if line.strip():
            yield parse_line(line)
