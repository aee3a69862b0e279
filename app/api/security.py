"""The server's guards, as ASGI middleware: Host check, bearer key, body size.

- **Host** (DNS rebinding): a web page on ``evil.example`` whose name later resolves to
  127.0.0.1 still sends ``Host: evil.example``; only loopback names, the bound address, IP
  literals on a server bound to all interfaces, and names the user listed pass (else 421).
- **Key**: every request carries ``Authorization: Bearer <key>`` (else 401), compared in
  constant time.
- **Body size**: a declared ``Content-Length`` over the limit is answered 413 before the app
  sees the request; a body that grows past the limit while read (chunked) is stopped by
  :func:`read_body`. The rest of an oversized body is read and thrown away, up to
  :data:`DRAIN_LIMIT`, so the client gets to read the 413 instead of a reset connection; past
  that the connection is closed.

Each refusal is an OpenAI-style error object (:mod:`app.api.errors`).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import Problem, problem_response

DRAIN_LIMIT = 64 << 20  # bytes of an oversized body read and discarded before answering 413
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _refuse(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
    await problem_response(problem)(scope, receive, send)


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def host_name(host: str) -> str:
    """The name part of a Host header, lower case: ``[::1]:8321`` -> ``[::1]``, ``Localhost.:80`` -> ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") <= 1 else host


class HostCheck:
    """421 for a Host header that does not name this server (DNS rebinding)."""

    def __init__(self, app: ASGIApp, bound: str, allowed: Sequence[str] = ()) -> None:
        self.app = app
        self.bound = bound
        self.allowed = {host_name(name) for name in allowed}
        bound_ip = _ip(bound)
        self.allowed.add(f"[{bound_ip}]" if bound_ip is not None and bound_ip.version == 6 else bound.lower())

    def allows(self, host: str) -> bool:
        name = host_name(host)
        if name == "localhost" or name.endswith(".localhost") or name in self.allowed:
            return True
        ip = _ip(name)
        # an IP literal cannot be rebound: allowed when it is loopback, or the server listens everywhere
        return ip is not None and (ip.is_loopback or self.bound in WILDCARDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is None:
            await _refuse(Problem(400, "The request has no Host header.", "missing_host"), scope, receive, send)
            return
        if not self.allows(host):
            shown = host if len(host) <= 80 else host[:77] + "..."
            message = (f"This server does not answer for the host {shown!r}; use http://127.0.0.1 or "
                       "http://localhost (requests through other names are refused: DNS rebinding).")
            await _refuse(Problem(421, message, "misdirected_request"), scope, receive, send)
            return
        await self.app(scope, receive, send)


class BearerKey:
    """401 unless ``Authorization: Bearer <key>`` carries the server's key."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        if not key:
            raise ValueError("the server needs an API key")
        self.app = app
        self.key = key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        if header is None:
            message = "No API key. Send the server's key as 'Authorization: Bearer <key>'."
            await _refuse(Problem(401, message, "missing_api_key"), scope, receive, send)
            return
        scheme, _, token = header.strip().partition(" ")
        given = token.strip().encode("latin-1")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, self.key):
            message = ("Incorrect API key. Kestrel shows its key in the Server panel "
                       "(kestrel serve says where it is kept).")
            await _refuse(Problem(401, message, "invalid_api_key"), scope, receive, send)
            return
        await self.app(scope, receive, send)


def _too_large(limit: int) -> Problem:
    return Problem(413, f"The request body is larger than this server accepts ({limit:,} bytes).", "request_too_large")


class BodyLimit:
    """413 for a request whose Content-Length is over ``limit`` (a malformed one is 400)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await _refuse(Problem(400, "The Content-Length header is not a number.", "invalid_request"),
                              scope, receive, send)
                return
            if length > self.limit:
                # a client waiting for "100 Continue" has sent nothing yet: refuse before it does
                if length <= DRAIN_LIMIT and _header(scope, b"expect") is None:
                    await _drain(receive)
                await _refuse(_too_large(self.limit), scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of a request body (at most DRAIN_LIMIT bytes)."""
    size = 0
    while size <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes; Problem 413 past that (the rest is drained as above)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > DRAIN_LIMIT:
                break
            if size <= limit:
                chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(499, "The client closed the connection while sending its request.", "client_closed") from None
    if size > limit:
        raise _too_large(limit)
    return b"".join(chunks)
