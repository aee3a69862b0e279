"""``ApiServer``: uvicorn serving :func:`app.api.app.build_app` on a thread and event loop of its own.

The window (or ``kestrel serve``) makes one with a :class:`~app.api.gate.Gate` and a key,
calls ``start()`` (which returns once the port is bound, or raises :class:`ApiError` with
one line such as "port in use"), reads ``address`` and ``activity()``, sets ``on_change`` to
hear about activity, and calls ``stop()``. Nothing here touches Qt or the engine directly.

Binding to anything but a loopback address is allowed (the key is always required) but
comes with ``exposure_warning``, a sentence for the UI or the command line to show.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence

import uvicorn
import uvicorn.lifespan.off  # Config imports it by name; imported here so installer builds carry it
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.api import DEFAULT_PORT
from app.api.activity import Activity, ApiActivity, RequestRecord
from app.api.app import ServerOptions, build_app
from app.api.catalog import ModelCatalog
from app.api.errors import ApiError
from app.api.gate import Gate
from app.engines.contract import GenerationParams

__all__ = ["ApiActivity", "ApiError", "ApiServer", "RequestRecord", "is_loopback"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0
STOPPING = "The server is stopping."


def is_loopback(host: str) -> bool:
    """True for names and addresses only this machine can reach."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A bound listening socket, or ApiError saying why not in one line."""
    try:
        infos = socket.getaddrinfo(host.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ApiError(f"cannot serve on {host!r}: {exc.strerror or exc}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":  # on Windows SO_REUSEADDR lets two servers share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host.strip("[]") == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ApiError(f"port {port} on {host} is already in use; choose another port") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ApiError(f"not allowed to serve on port {port} of {host}; choose a port above 1023") from None
        raise ApiError(f"cannot serve on {host} port {port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


class ApiServer:
    """Kestrel's OpenAI-compatible server over one gate. ``port=0`` picks a free port."""

    def __init__(self, gate: Gate, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, api_key: str,
                 cors_origins: Sequence[str] = (), allowed_hosts: Sequence[str] = (), allow_load: bool = False,
                 max_queue: int = 16, max_body: int = 1 << 20, defaults: GenerationParams | None = None,
                 catalog: ModelCatalog | None = None) -> None:
        if not api_key:
            raise ApiError("the server needs an API key")
        self._gate = gate
        self._host = host
        self._port = port
        self._options = ServerOptions(api_key=api_key, host=host, cors_origins=tuple(cors_origins),
                                      allowed_hosts=tuple(allowed_hosts), allow_load=allow_load, max_queue=max_queue,
                                      max_body=max_body, defaults=defaults or GenerationParams())
        self._catalog = catalog
        self._activity = Activity()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self.exposure_warning: str | None = None
        if not is_loopback(host):
            where = "every network interface" if host.strip("[]") in ("", "0.0.0.0", "::") else host
            self.exposure_warning = (
                f"The API listens on {where}: other machines can reach it, and anyone who has the key can "
                "use your model. Keep the key secret, and serve on 127.0.0.1 unless you need this.")

    # ---- what the UI reads -----------------------------------------------------------
    @property
    def on_change(self) -> Callable[[], None] | None:
        """Called on the server's thread after every change of ``activity()``."""
        return self._activity.on_change

    @on_change.setter
    def on_change(self, callback: Callable[[], None] | None) -> None:
        self._activity.on_change = callback

    @property
    def port(self) -> int:
        """The port served (the one picked, after ``start()`` with port 0)."""
        return self._port

    @property
    def address(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:8321/v1``."""
        host = self._host.strip("[]")
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self._port}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def activity(self) -> ApiActivity:
        return self._activity.snapshot()

    # ---- start and stop --------------------------------------------------------------
    def start(self) -> None:
        """Bind and serve; returns once requests are answered. ApiError with one line on failure."""
        if self.running:
            return
        sock = _bind(self._host, self._port)
        self._port = int(sock.getsockname()[1])
        app = build_app(self._gate, self._options, self._activity, self._catalog)
        # the protocol as a class, not a name: nothing is looked up by name at run time (PyInstaller builds)
        config = uvicorn.Config(app, http=H11Protocol, ws="none", lifespan="off", log_config=None, access_log=False,
                                server_header=False, proxy_headers=False, timeout_graceful_shutdown=3,
                                timeout_keep_alive=5)
        server = uvicorn.Server(config)
        self._server = server
        self._failure = None
        self._thread = threading.Thread(target=self._run, args=(server, sock), name="kestrel-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                reason = self._failure or "it did not start in time"
                raise ApiError(f"the API server could not start: {reason}")
            time.sleep(0.01)

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        try:
            asyncio.run(serve())
        except BaseException as exc:  # noqa: BLE001 - reported by start(), logged if it happens later
            self._failure = exc
            log.error("the API server stopped: %s", exc)
        finally:
            self._loop = None
            sock.close()

    def stop(self, timeout: float = 10.0) -> None:
        """End every reply in progress (their engine work is stopped), close the port, end the thread."""
        server, thread, loop = self._server, self._thread, self._loop
        if server is None or thread is None:
            return
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._abandon_all)
            except RuntimeError:
                pass  # the loop already ended
        server.should_exit = True
        thread.join(timeout)
        self._server = self._thread = None

    def _abandon_all(self) -> None:
        for reply in list(self._activity.live):
            reply.abandon(STOPPING)
