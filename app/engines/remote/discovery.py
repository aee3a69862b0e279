"""What is on the other end: the server's kind, its models, its context size and its tokenizer.

Each kind of server says these things in its own place:

* llama-server: ``GET {root}/props`` (``default_generation_settings.n_ctx``, ``total_slots``:
  the replies it runs at once, its ``--parallel``), exact prompt
  counts with ``POST {root}/apply-template`` then ``POST {root}/tokenize``; its models are
  ``owned_by: llamacpp``.
* llama-cpp-python's server: no context size; ``POST {root}/extras/tokenize`` tokenizes plain
  text (no chat template), so counts add an estimated template overhead per message.
* vLLM: ``max_model_len`` in the model list; ``POST {root}/tokenize`` with the messages
  applies the chat template: exact counts.
* Ollama: ``GET {root}/api/version``; ``POST {root}/api/show`` gives ``num_ctx`` when the model
  sets one and the trained ``*.context_length``; no tokenizer.

Probes only ever go to the endpoint's own host, and only during a load.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.engines.contract import ChatMessage, EngineError
from app.engines.remote.client import Answer, ServerConnection, http_failure

#: How a remote engine counts prompt tokens: the server applied the chat template and its
#: tokenizer (exact), the server's tokenizer on the texts plus an estimated template overhead,
#: or an estimate from characters with a safety margin.
TokenCounting = Literal["exact", "server-tokenizer", "estimate"]

GENERIC = "OpenAI-compatible server"
CHARS_PER_TOKEN = 3.0  # English averages ~4 characters a token; 3 leaves a margin (code, other scripts)
MESSAGE_OVERHEAD = 8  # role markers and separators a chat template adds around each message
REPLY_OVERHEAD = 4  # the generation prompt ("<start_of_turn>model\n" and the like)
_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ServerInfo:
    """What a load learned about the server and the chosen model."""

    kind: str  # "llama-server", "llama-cpp-python", "vLLM", "Ollama" or GENERIC
    model_id: str  # as the server spells it
    model_ids: tuple[str, ...]
    n_ctx: int | None  # the context size the server reports for this model, None when it does not
    n_ctx_train: int | None
    counting: TokenCounting
    slots: int | None = None  # replies the server runs at once, where it says (llama-server's total_slots)


def _entries(answer: Answer) -> list[Mapping[str, Any]]:
    data = answer.data.get("data") if isinstance(answer.data, Mapping) else None
    if not isinstance(data, list):
        return []
    return [entry for entry in data if isinstance(entry, Mapping) and isinstance(entry.get("id"), str)]


def _pick(model_id: str, entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    by_id = {str(entry["id"]): entry for entry in entries}
    # Ollama lists "name:latest" for a model people call "name"
    return by_id.get(model_id) or (by_id.get(f"{model_id}:latest") if ":" not in model_id else None)


def _unknown_model(model_id: str, ids: Sequence[str]) -> EngineError:
    if not ids:
        return EngineError(f"The server lists no models, so {model_id!r} cannot be used.")
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return EngineError(f"The server has no model {model_id!r}; it offers: {shown}.")


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _llama_server_ctx(props: Any) -> int | None:
    if not isinstance(props, Mapping):
        return None
    settings = props.get("default_generation_settings")
    if isinstance(settings, Mapping) and _positive(settings.get("n_ctx")):
        return _positive(settings.get("n_ctx"))
    return _positive(props.get("n_ctx"))


def _ollama_ctx(show: Any) -> tuple[int | None, int | None]:
    """(num_ctx the model sets, trained context length) from ``/api/show``."""
    if not isinstance(show, Mapping):
        return None, None
    params = show.get("parameters")
    match = _NUM_CTX.search(params) if isinstance(params, str) else None
    info = show.get("model_info")
    trained = None
    if isinstance(info, Mapping):
        trained = next((_positive(v) for k, v in info.items() if str(k).endswith(".context_length")), None)
    return (int(match.group(1)) if match else None), trained


def discover(conn: ServerConnection, model_id: str) -> ServerInfo:
    """Check the endpoint answers and accepts the key, that it has ``model_id``, and what kind it is."""
    url = conn.url("/models")
    answer = conn.call("GET", "/models")
    if not answer.ok:
        raise http_failure(answer, url, model_id=model_id, n_ctx=0)
    entries = _entries(answer)
    if not entries and not isinstance(answer.data, Mapping):
        raise EngineError(f"{url} did not answer like an OpenAI-compatible server (no model list).")
    ids = tuple(str(entry["id"]) for entry in entries)
    entry = _pick(model_id, entries)
    if entry is None:
        raise _unknown_model(model_id, ids)
    real_id = str(entry["id"])
    owner = str(entry.get("owned_by", ""))
    if owner == "vllm":
        return ServerInfo("vLLM", real_id, ids, _positive(entry.get("max_model_len")), None, "exact")
    if owner == "llamacpp" or owner not in ("me",):
        props = conn.probe("GET", "/props", root=True)
        if _llama_server_ctx(props) is not None:
            return ServerInfo("llama-server", real_id, ids, _llama_server_ctx(props), None, "exact",
                              _positive(props.get("total_slots")))
    if owner == "me" or not owner:
        count = conn.probe("POST", "/extras/tokenize/count", {"input": "a", "model": real_id}, root=True)
        if isinstance(count, Mapping) and "count" in count:
            return ServerInfo("llama-cpp-python", real_id, ids, None, None, "server-tokenizer")
    version = conn.probe("GET", "/api/version", root=True)
    if isinstance(version, Mapping) and "version" in version:
        num_ctx, trained = _ollama_ctx(conn.probe("POST", "/api/show", {"model": real_id}, root=True))
        return ServerInfo("Ollama", real_id, ids, num_ctx, trained, "estimate")
    return ServerInfo(GENERIC, real_id, ids, None, None, "estimate")


# ---- counting prompt tokens ----------------------------------------------------------------
def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """A safe over-estimate: a token per 3 characters plus the template's overhead."""
    return sum(math.ceil(len(m.content) / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD for m in messages) + REPLY_OVERHEAD


def _wire(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _tokens(data: Any) -> int | None:
    if isinstance(data, Mapping):
        if _positive(data.get("count")) is not None:
            return int(data["count"])
        if isinstance(data.get("tokens"), list):
            return len(data["tokens"])
    return None


def count_prompt(conn: ServerConnection, info: ServerInfo, messages: Sequence[ChatMessage]) -> tuple[int, bool]:
    """Prompt tokens for ``messages`` and whether the count came from the server (False: estimated)."""
    counted: int | None = None
    if info.kind == "llama-server":
        template = conn.probe("POST", "/apply-template", {"messages": _wire(messages)}, root=True)
        prompt = template.get("prompt") if isinstance(template, Mapping) else None
        if isinstance(prompt, str):
            counted = _tokens(conn.probe("POST", "/tokenize", {"content": prompt, "add_special": True}, root=True))
    elif info.kind == "vLLM":
        counted = _tokens(conn.probe("POST", "/tokenize", {"model": info.model_id, "messages": _wire(messages)},
                                     root=True))
    elif info.kind == "llama-cpp-python":
        text = "\n".join(m.content for m in messages)
        tokens = _tokens(conn.probe("POST", "/extras/tokenize/count", {"input": text, "model": info.model_id},
                                    root=True))
        if tokens is not None:
            counted = tokens + MESSAGE_OVERHEAD * len(messages) + REPLY_OVERHEAD
    if counted is None:
        return estimate_tokens(messages), False
    return counted, True
