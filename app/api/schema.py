"""Reading a request body: JSON checked by hand into a :class:`ReplyRequest`, or a 400 that says why.

Only what Kestrel serves is accepted: one choice, text in and text out. A field that asks
for something else (``n`` > 1, tools, log-probabilities, JSON mode) is refused with a
message naming it rather than silently ignored; fields that only tune what other servers
do (``presence_penalty``, ``user``, ...) are ignored. Beyond OpenAI's fields, llama-server's
``top_k``, ``min_p`` and ``repeat_penalty`` are taken too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

from app.api.errors import Problem
from app.api.gate import Prompt
from app.engines.contract import ChatMessage, GenerationParams, Role

MAX_STOPS = 16
MAX_TOKENS_LIMIT = 1 << 20
SEED_LIMIT = 2**32  # llama.cpp's seeds are unsigned 32-bit
_ROLES: dict[str, Role] = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True)
class ReplyRequest:
    """One chat or text completion request, checked."""

    prompt: Prompt
    model: str | None = None
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def params(self, defaults: GenerationParams) -> GenerationParams:
        """``defaults`` (from the settings) with what the request set."""
        changes: dict[str, Any] = {name: value for name in
                                   ("max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed")
                                   if (value := getattr(self, name)) is not None}
        return replace(defaults, stop=self.stop, **changes)


def _bad(message: str, param: str | None = None) -> Problem:
    return Problem(400, message, "invalid_value" if param else "invalid_request", param)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (NaN and Infinity refused, as JSON itself does)."""
    if not body.strip():
        raise _bad("The request body is empty; send a JSON object.")
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        reason = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
        raise _bad(f"The request body is not valid JSON: {reason[:200]}") from None
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object.")
    return data


def _text(value: object, param: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"'{param}' must be a string.", param)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(f"'{param}' holds text that is not valid Unicode (a lone surrogate).", param) from None
    return value


def _number(data: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(f"'{name}' must be a number.", name)
    if not low <= value <= high:
        raise _bad(f"'{name}' must be between {low:g} and {high:g} (got {value:g}).", name)
    return float(value)


def _integer(data: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{name}' must be an integer.", name)
    if not low <= value <= high:
        raise _bad(f"'{name}' must be between {low} and {high} (got {value}).", name)
    return value


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(f"'{name}' must be true or false.", name)
    return value


def _refuse_unsupported(data: dict[str, Any]) -> None:
    """Fields asking for what Kestrel does not do: a clear 400 instead of an answer that ignores them."""
    n = _integer(data, "n", 1, 1_000_000)
    if n is not None and n != 1:
        raise _bad("Only one choice per request is supported ('n' must be 1).", "n")
    best_of = _integer(data, "best_of", 1, 1_000_000)
    if best_of is not None and best_of != 1:
        raise _bad("'best_of' is not supported.", "best_of")
    for name in ("tools", "functions", "logprobs", "top_logprobs", "echo", "suffix"):
        if data.get(name) not in (None, False, [], ""):
            raise _bad(f"'{name}' is not supported by this server.", name)
    response_format = data.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        raise _bad("Only plain text replies are supported ('response_format' must be {\"type\": \"text\"}).",
                   "response_format")


def _stops(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > MAX_STOPS:
        raise _bad(f"'stop' must be a string or a list of at most {MAX_STOPS} strings.", "stop")
    stops = tuple(_text(item, "stop") for item in items)
    if any(not stop for stop in stops):
        raise _bad("'stop' strings must not be empty.", "stop")
    return stops


def _common(data: dict[str, Any], prompt: Prompt) -> ReplyRequest:
    _refuse_unsupported(data)
    model = data.get("model")
    if model is not None:
        model = _text(model, "model")
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("'stream_options' must be an object.", "stream_options")
    include_usage = _flag(options, "include_usage") if options is not None else False
    max_tokens = _integer(data, "max_completion_tokens", 1, MAX_TOKENS_LIMIT)
    if max_tokens is None:
        max_tokens = _integer(data, "max_tokens", 1, MAX_TOKENS_LIMIT)
    top_k = _integer(data, "top_k", 0, 1_000_000)
    return ReplyRequest(
        prompt=prompt, model=model or None, stream=_flag(data, "stream"), include_usage=include_usage,
        max_tokens=max_tokens, temperature=_number(data, "temperature", 0.0, 2.0),
        top_p=_number(data, "top_p", 0.0, 1.0), top_k=top_k, min_p=_number(data, "min_p", 0.0, 1.0),
        repeat_penalty=_number(data, "repeat_penalty", 0.0, 10.0),
        seed=_integer(data, "seed", 0, SEED_LIMIT - 1), stop=_stops(data.get("stop")),
    )


def _content(value: object, where: str) -> str:
    """A message's text: a string, or a list of text parts (images and audio are refused)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _text(value, where)
    if not isinstance(value, list):
        raise _bad(f"'{where}' must be a string or a list of text parts.", where)
    parts: list[str] = []
    for part in value:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise _bad(f"'{where}' may hold only text parts ({{\"type\": \"text\", \"text\": ...}}).", where)
        parts.append(_text(part.get("text"), where))
    return "\n".join(parts)


def parse_chat(data: dict[str, Any]) -> ReplyRequest:
    """``POST /v1/chat/completions``."""
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _bad("'messages' must be a non-empty list of messages.", "messages")
    messages: list[ChatMessage] = []
    for i, item in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise _bad(f"'{where}' must be an object with 'role' and 'content'.", where)
        role = item.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise _bad(f"'{where}.role' must be one of system, developer, user, assistant.", f"{where}.role")
        if "content" not in item:
            raise _bad(f"'{where}.content' is missing.", f"{where}.content")
        messages.append(ChatMessage(_ROLES[role], _content(item["content"], f"{where}.content")))
    return _common(data, Prompt(messages=tuple(messages)))


def parse_completion(data: dict[str, Any]) -> ReplyRequest:
    """``POST /v1/completions``: one prompt string (or a list holding one)."""
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise _bad("'prompt' must be a string (token arrays and several prompts are not supported).", "prompt")
    if not prompt:
        raise _bad("'prompt' is empty.", "prompt")
    return _common(data, Prompt(text=_text(prompt, "prompt")))
