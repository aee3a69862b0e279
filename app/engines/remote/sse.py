"""Reading a streamed chat completion: server-sent events in, typed chunks out.

The event framing is httpx's own SSE reader; this module only turns each ``data:`` payload
into a :class:`Chunk`. A payload that is not a JSON object raises :class:`MalformedChunk`
(real servers never send one: the reply ends there with a clear error and what came before
is kept). A JSON object without anything we read (no choices, no usage, no timings) is
skipped: servers add their own kinds of events. An ``error`` object inside the stream (what
llama-server and llama-cpp-python send when generation fails after the headers) raises
:class:`StreamedError` with the server's words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from huggingface_hub.utils import httpx

DONE_MARK = "[DONE]"


@dataclass(frozen=True)
class Chunk:
    """What one event carried. ``done`` marks the end of the stream (``[DONE]``)."""

    content: str = ""
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    timings: Mapping[str, Any] | None = None
    metrics: Mapping[str, Any] | None = None  # Ollama's native end-of-reply counts and durations
    done: bool = False


class MalformedChunk(Exception):
    """An event whose data is not a JSON object, or whose fields have the wrong types."""


class StreamedError(Exception):
    """The server reported an error inside the stream; ``data`` is its JSON."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__("the server reported an error")
        self.data = data


def preview(data: str) -> str:
    text = " ".join(data.split())
    return text if len(text) <= 60 else text[:57] + "..."


def mapping(value: Any, what: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise MalformedChunk(f"its {what} is not an object")
    return value


def json_object(data: str) -> Mapping[str, Any]:
    """A streamed piece's JSON object; MalformedChunk when it is not one, StreamedError when it is an error."""
    try:
        obj = json.loads(data)
    except ValueError:
        raise MalformedChunk(f"not JSON: {preview(data)!r}") from None
    if not isinstance(obj, Mapping):
        raise MalformedChunk(f"not a JSON object: {preview(data)!r}")
    if obj.get("error") is not None:
        raise StreamedError(obj)
    return obj


def parse_chunk(data: str) -> Chunk:
    """One event's data as a :class:`Chunk`."""
    if data.strip() == DONE_MARK:
        return Chunk(done=True)
    obj = json_object(data)
    content, finish = "", None
    choices = obj.get("choices")
    if choices is not None and not isinstance(choices, list):
        raise MalformedChunk("its choices are not a list")
    if choices:
        choice = mapping(choices[0], "choice") or {}
        delta = mapping(choice.get("delta"), "delta") or mapping(choice.get("message"), "message") or {}
        text = delta.get("content")
        if text is not None and not isinstance(text, str):
            raise MalformedChunk("its content is not text")
        content = text or ""
        reason = choice.get("finish_reason")
        finish = reason if isinstance(reason, str) and reason else None
    return Chunk(content=content, finish_reason=finish, usage=mapping(obj.get("usage"), "usage"),
                 timings=mapping(obj.get("timings"), "timings"))


def read_chunks(response: httpx.Response) -> Iterator[Chunk]:
    """The chunks of a streamed reply; a server that ignored ``stream`` and sent one JSON answer gives one chunk."""
    kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "application/json":
        yield parse_chunk(response.read().decode("utf-8", errors="replace"))
        yield Chunk(done=True)
        return
    if kind != "text/event-stream":
        raise MalformedChunk(f"the server answered {kind or 'without a content type'}, not a stream of events")
    parser = httpx.EventSource(response)
    for event in parser:
        if event.data == "" and event.event == "message":
            continue
        yield parse_chunk(event.data)
