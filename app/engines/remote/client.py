"""HTTP to one OpenAI-compatible server, and every way it can fail, said in one line.

Uses the HTTP client the project already carries (httpx, through huggingface-hub). Two
clients share the key and the certificate settings: one with kept-alive connections for the
small JSON calls (model list, context size, tokenizing), one whose connections are never
reused for streamed replies, so a stopped reply's connection is simply closed and
:class:`~app.engines.remote.watch.StreamWatch` always has a socket of its own to shut down.
Proxy variables from the environment are ignored: Kestrel talks to the endpoint and nothing else.
"""

from __future__ import annotations

import errno
import json
import re
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from huggingface_hub.utils import httpx

from app.engines.contract import ContextOverflowError, EngineError
from app.engines.remote.watch import StreamWatch

_CONTEXT_WORDS = re.compile(r"context (length|size|window)|too long|exceed", re.IGNORECASE)
_NUMBERS = re.compile(r"\d[\d,]*")


@dataclass(frozen=True)
class Timeouts:
    """How long to wait, in seconds."""

    connect_s: float = 10.0
    request_s: float = 30.0  # one JSON call: model list, context size, tokenizing
    first_byte_s: float = 600.0  # request sent -> first content: a long prompt on a slow server takes minutes
    idle_s: float = 120.0  # the longest gap between chunks once content flows


@dataclass(frozen=True)
class Answer:
    """A JSON call's answer: status, parsed body (None when not JSON) and the raw text."""

    status: int
    data: Any
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def server_root(base_url: str) -> str:
    """``http://host:8080/v1`` -> ``http://host:8080``: llama-server and Ollama keep their own API there."""
    base = base_url.rstrip("/")
    return base[:-3] if base.endswith("/v1") else base


def server_words(data: Any, text: str = "") -> str:
    """The server's own error message from its JSON (OpenAI, llama-server, vLLM, FastAPI shapes)."""
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        for key in ("message", "detail", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return " ".join(text.split())[:200]


def _is_context_error(data: Any, words: str) -> bool:
    error = data.get("error") if isinstance(data, Mapping) else None
    fields = [str(error.get(k, "")) for k in ("code", "type")] if isinstance(error, Mapping) else []
    return any("context" in f or "exceed" in f for f in fields) or bool(_CONTEXT_WORDS.search(words))


def context_overflow(data: Any, words: str, n_ctx: int, prompt_estimate: int) -> ContextOverflowError:
    """A context-too-long answer, in the server's own words, with its token figures where it gives them."""
    error = data.get("error") if isinstance(data, Mapping) else None
    prompt = error.get("n_prompt_tokens") if isinstance(error, Mapping) else None
    ctx = error.get("n_ctx") if isinstance(error, Mapping) else None
    numbers = [int(n.replace(",", "")) for n in _NUMBERS.findall(words)]
    if not isinstance(prompt, int):
        larger = [n for n in numbers if n > n_ctx]
        prompt = larger[0] if larger else prompt_estimate
    return ContextOverflowError(prompt, ctx if isinstance(ctx, int) else n_ctx,
                                f"The prompt does not fit the server's context: {words}")


def http_failure(answer: Answer, url: str, *, model_id: str, n_ctx: int, prompt_estimate: int = 0) -> EngineError:
    """An error status as one line; a context-too-long answer becomes :class:`ContextOverflowError`."""
    status, words = answer.status, server_words(answer.data, answer.text)
    said = f": {words}" if words else ""
    if status in (401, 403):
        return EngineError(f"The server at {url} refused the API key (HTTP {status}){said}.")
    if status == 404:
        if "model" in words.lower():
            return EngineError(f"The server has no model {model_id!r} (HTTP 404){said}.")
        return EngineError(f"{url} was not found (HTTP 404); is the base URL right (usually ending in /v1)?")
    if status == 429:
        return EngineError(f"The server is busy (HTTP 429, too many requests){said}; try again in a moment.")
    if status == 503:
        return EngineError(f"The server is busy or still loading its model (HTTP 503){said}; try again in a moment.")
    if status in (400, 413, 422) and _is_context_error(answer.data, words):
        return context_overflow(answer.data, words, n_ctx, prompt_estimate)
    return EngineError(f"The server answered HTTP {status}{said}.")


def _os_errno(exc: BaseException) -> int | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def transport_failure(exc: httpx.TransportError, url: str, timeouts: Timeouts) -> EngineError:
    """A connection problem as one line naming the URL."""
    host = urlsplit(url).hostname or url
    text = " ".join(str(exc).split())
    tls = _tls_error(exc)
    if tls is not None or "SSL" in text or "certificate" in text.lower():
        reason = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or text
        return EngineError(f"The secure (TLS) connection to {url} failed: {reason}.")
    if isinstance(exc, httpx.ConnectTimeout):
        return EngineError(f"{url} did not accept a connection within {timeouts.connect_s:g} s.")
    if isinstance(exc, httpx.TimeoutException):
        return EngineError(f"{url} did not answer within {timeouts.request_s:g} s.")
    code = _os_errno(exc)
    if code == errno.ECONNREFUSED or "refused" in text.lower():
        return EngineError(f"Nothing answers at {url} (connection refused); is the server running?")
    if "name or service" in text.lower() or "getaddrinfo" in text.lower() or "nodename" in text.lower() \
            or "Temporary failure in name resolution" in text:
        return EngineError(f"Cannot find the server {host} (the name does not resolve): {url}")
    if isinstance(exc, httpx.ConnectError):
        return EngineError(f"Cannot connect to {url}: {text or type(exc).__name__}.")
    return EngineError(f"The connection to {url} failed: {text or type(exc).__name__}.")


def parse_json(text: str) -> Any:
    """The text's JSON, or None when it is not JSON (an HTML error page, say)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


class ServerConnection:
    """The endpoint's base URL (``.../v1``), its root, the key and the two HTTP clients."""

    def __init__(self, base_url: str, *, api_key: str | None, timeouts: Timeouts,
                 verify: bool | str = True) -> None:
        self.base = base_url.rstrip("/")
        self.root = server_root(self.base)
        self.timeouts = timeouts
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        common: dict[str, Any] = {"headers": headers, "verify": verify, "trust_env": False, "follow_redirects": False}
        self._api = httpx.Client(timeout=httpx.Timeout(timeouts.request_s, connect=timeouts.connect_s), **common)
        # The socket read timeout is only a backstop: StreamWatch enforces the first-byte and idle limits.
        backstop = max(timeouts.first_byte_s, timeouts.idle_s) + 5.0
        self._streams = httpx.Client(timeout=httpx.Timeout(backstop, connect=timeouts.connect_s),
                                     limits=httpx.Limits(max_keepalive_connections=0), **common)

    def url(self, path: str, *, root: bool = False) -> str:
        return f"{self.root if root else self.base}{path}"

    def call(self, method: str, path: str, body: Any = None, *, root: bool = False) -> Answer:
        """One JSON request; a connection problem raises EngineError, any status is returned."""
        url = self.url(path, root=root)
        try:
            response = self._api.request(method, url, json=body)
        except httpx.TransportError as exc:
            raise transport_failure(exc, url, self.timeouts) from exc
        except httpx.HTTPError as exc:
            raise EngineError(f"Cannot reach {url}: {' '.join(str(exc).split())}.") from exc
        text = response.text
        return Answer(response.status_code, parse_json(text), text)

    def probe(self, method: str, path: str, body: Any = None, *, root: bool = False) -> Any:
        """A request that may well not exist on this kind of server: its JSON on success, else None."""
        try:
            answer = self.call(method, path, body, root=root)
        except EngineError:
            return None
        return answer.data if answer.ok else None

    @contextmanager
    def stream(self, path: str, body: Any, watch: StreamWatch, *, root: bool = False,
               accept: str = "text/event-stream") -> Iterator[httpx.Response]:
        """A streamed POST watched by ``watch``; transport errors are left to the caller (it knows why they came)."""
        with self._streams.stream("POST", self.url(path, root=root), json=body, headers={"Accept": accept},
                                  extensions={"trace": watch.trace}) as response:
            yield response

    def close(self) -> None:
        self._api.close()
        self._streams.close()
