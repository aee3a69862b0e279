"""A stand-in for the Hugging Face hub, for tests: loopback only, bounded, with fault knobs.

It answers what huggingface-hub and ``app.models.download`` ask for, the way the hub does:

* ``GET /api/models/{repo}[/revision/{rev}]`` (``?blobs=true`` adds size, blobId and
  ``lfs {sha256, size, pointerSize}`` to each sibling) and ``GET /api/models/{repo}/tree/{rev}``;
* ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: an LFS file answers 302 to a "CDN" URL on
  another origin (``localhost`` instead of ``127.0.0.1``) with ``X-Repo-Commit``,
  ``X-Linked-Etag`` and ``X-Linked-Size``, as huggingface_hub's ``get_hf_file_metadata`` reads
  them; a non-LFS file is served in place with its git blob id as ETag;
* the CDN URL serves the bytes with ``Range`` support (206 + ``Content-Range``, 416);
* unknown repositories, revisions and files get 404 with the hub's ``X-Error-Code``.

Knobs: ``cut(after, times)`` drops the connection after N body bytes, ``tamper()`` serves
altered bytes while advertising the original SHA-256, ``add_file(..., lfs=False)`` advertises
no SHA-256, ``rate`` throttles (bytes/s), ``stall_after`` stops sending without closing,
``fail_status``/``fail_times`` answers an error status, ``ignore_range`` answers 200 to a
Range request. ``requests`` records what was asked and how many body bytes went out.

``loopback_only()`` is a socket audit hook that refuses (and records) any connection or name
lookup outside the loopback interface while it is active.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.gguf_files import write_tiny_llama

_SEND_PIECE = 64 * 1024


@functools.lru_cache(maxsize=4)
def model_bytes(n_vocab: int = 2048, n_embd: int = 256) -> bytes:
    """A valid tiny GGUF to serve (defaults: about 4.3 MiB, enough to watch progress and cuts)."""
    with tempfile.TemporaryDirectory(prefix="kestrel-hub-") as tmp:
        return write_tiny_llama(Path(tmp) / "model.gguf", n_vocab=n_vocab, n_embd=n_embd).read_bytes()


@dataclass
class HubFile:
    """A file in a stand-in repository."""

    data: bytes
    sha256: str            # what the API advertises (of the original bytes)
    blob_id: str           # git blob sha1, as the hub's blobId / ETag of non-LFS files
    lfs: bool = True       # False: no lfs metadata, so no SHA-256 is advertised
    served: bytes = b""    # what is actually sent (differs from data when tampered)


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    range: str | None
    status: int
    body_bytes: int = 0
    headers: dict[str, str] = field(default_factory=dict)


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class FakeHub:
    """Context manager: ``with FakeHub() as hub: hub.add_file(...); hub.url``."""

    def __init__(self, *, max_seconds: float = 60.0, redirect: bool = True) -> None:
        self.max_seconds = max_seconds
        self.redirect = redirect
        self.repos: dict[str, dict[str, HubFile]] = {}
        self.requests: list[Request] = []
        # fault knobs (read by handler threads; set them before the request they should affect)
        self.rate: float | None = None
        self.stall_after: int | None = None
        self.fail_status: int | None = None
        self.fail_times: int | None = None  # None: every time
        self.ignore_range = False
        self._cut_after: int | None = None
        self._cut_times: int | None = None
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # -- content --

    def add_file(self, repo_id: str, filename: str, data: bytes, *, lfs: bool = True) -> HubFile:
        entry = HubFile(data, hashlib.sha256(data).hexdigest(), git_blob_id(data), lfs, data)
        self.repos.setdefault(repo_id, {})[filename] = entry
        return entry

    def tamper(self, repo_id: str, filename: str, at: int | None = None) -> None:
        """Serve bytes with one byte flipped; the API still advertises the original SHA-256."""
        entry = self.repos[repo_id][filename]
        served = bytearray(entry.data)
        pos = len(served) // 2 if at is None else at
        served[pos] ^= 0xFF
        entry.served = bytes(served)

    def cut(self, after: int, times: int | None = 1) -> None:
        """Drop the connection after ``after`` body bytes, ``times`` times (None: always)."""
        with self._lock:
            self._cut_after, self._cut_times = after, times

    def commit(self, repo_id: str) -> str:
        return hashlib.sha1(repo_id.encode(), usedforsecurity=False).hexdigest()

    # -- observations --

    @property
    def url(self) -> str:
        assert self._server is not None, "start the hub first (with FakeHub() as hub)"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        assert self._server is not None
        return f"http://localhost:{self._server.server_address[1]}"

    def transfers(self, filename: str | None = None) -> list[Request]:
        """Requests that sent file bytes (the CDN's 200/206 answers), optionally for one file."""
        with self._lock:
            reqs = list(self.requests)
        return [r for r in reqs if r.method == "GET" and r.status in (200, 206)
                and "/api/" not in r.path
                and (filename is None or unquote(r.path).endswith("/" + filename))]

    def bytes_sent(self, filename: str | None = None) -> int:
        return sum(r.body_bytes for r in self.transfers(filename))

    # -- lifecycle --

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-hub", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.max_seconds, self.close)  # bounded even if a test hangs
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self.stopping.is_set():
                return
            self.stopping.set()
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    # -- used by the handler --

    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)

    def _take_cut(self) -> int | None:
        with self._lock:
            if self._cut_after is None or self._cut_times == 0:
                return None
            if self._cut_times is not None:
                self._cut_times -= 1
            return self._cut_after

    def _take_failure(self) -> int | None:
        with self._lock:
            if self.fail_status is None or self.fail_times == 0:
                return None
            if self.fail_times is not None:
                self.fail_times -= 1
            return self.fail_status


_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections close by themselves
    server_version = "FakeHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    # -- routing --

    def _dispatch(self, head: bool) -> None:
        split = urlsplit(self.path)
        segs = split.path.split("/")[1:]
        self._req = Request(self.command, self.path, self.headers.get("Range"), 0,
                            headers=dict(self.headers.items()))
        self.hub._record(self._req)  # in arrival order; status and body_bytes fill in as it runs
        try:
            if segs[:2] == ["api", "models"] and len(segs) >= 4:
                self._api(segs[2:], parse_qs(split.query))
            elif segs and segs[0] == "_cdn" and len(segs) >= 5:
                self._cdn("/".join(unquote(s) for s in segs[1:3]), unquote(segs[3]),
                          unquote("/".join(segs[4:])), head)
            elif len(segs) >= 5 and segs[2] == "resolve":
                self._resolve("/".join(unquote(s) for s in segs[:2]), unquote(segs[3]),
                              unquote("/".join(segs[4:])), head)
            else:
                self._error(404, "EntryNotFound", "Not found", head)
        except OSError:  # the client went away
            self.close_connection = True

    def _repo(self, repo_id: str, revision: str, head: bool) -> dict[str, HubFile] | None:
        files = self.hub.repos.get(repo_id)
        if files is None:
            self._error(404, "RepoNotFound", "Repository not found", head)
            return None
        if revision not in ("main", self.hub.commit(repo_id)):
            self._error(404, "RevisionNotFound", "Invalid rev id: " + revision, head)
            return None
        return files

    def _api(self, segs: list[str], query: dict[str, list[str]]) -> None:
        repo_id = "/".join(unquote(s) for s in segs[:2])
        rest = segs[2:]
        revision = "main"
        tree = False
        if len(rest) >= 2 and rest[0] in ("revision", "tree"):
            tree = rest[0] == "tree"
            revision = unquote(rest[1])
        elif rest:
            self._error(404, "EntryNotFound", "Not found", False)
            return
        files = self._repo(repo_id, revision, False)
        if files is None:
            return
        blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
        if tree:
            body: Any = [self._tree_entry(name, f) for name, f in sorted(files.items())]
        else:
            body = self._model_info(repo_id, files, blobs)
        self._send_json(200, body)

    def _model_info(self, repo_id: str, files: dict[str, HubFile], blobs: bool) -> dict[str, Any]:
        siblings: list[dict[str, Any]] = []
        for name, f in sorted(files.items()):
            sib: dict[str, Any] = {"rfilename": name}
            if blobs:
                sib["blobId"] = f.blob_id
                sib["size"] = len(f.data)
                if f.lfs:
                    sib["lfs"] = {"sha256": f.sha256, "size": len(f.data), "pointerSize": 135}
            siblings.append(sib)
        owner = repo_id.split("/", maxsplit=1)[0]
        return {
            "_id": hashlib.md5(repo_id.encode(), usedforsecurity=False).hexdigest()[:24],
            "id": repo_id, "modelId": repo_id, "author": owner, "sha": self.hub.commit(repo_id),
            "lastModified": "2025-01-01T00:00:00.000Z", "createdAt": "2025-01-01T00:00:00.000Z",
            "private": False, "gated": False, "disabled": False, "downloads": 0, "likes": 0,
            "tags": ["gguf"], "library_name": "gguf", "siblings": siblings,
            "usedStorage": sum(len(f.data) for f in files.values()),
        }

    @staticmethod
    def _tree_entry(name: str, f: HubFile) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": f.blob_id, "size": len(f.data), "path": name}
        if f.lfs:
            entry["lfs"] = {"oid": f.sha256, "size": len(f.data), "pointerSize": 135}
        return entry

    def _resolve(self, repo_id: str, revision: str, filename: str, head: bool) -> None:
        files = self._repo(repo_id, revision, head)
        if files is None:
            return
        f = files.get(filename)
        if f is None:
            self._error(404, "EntryNotFound", "Entry not found", head)
            return
        commit = self.hub.commit(repo_id)
        common = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes"}
        if f.lfs and self.hub.redirect:
            location = (f"{self.hub.cdn_url}/_cdn/{quote(repo_id)}/{commit}/{quote(filename)}")
            self._req.status = 302
            self.send_response(302)
            for k, v in {**common, "Location": location, "ETag": f'"{f.blob_id}"',
                         "X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(len(f.data)),
                         "Content-Length": "0"}.items():
                self.send_header(k, v)
            self.end_headers()
            return
        etag = f.sha256 if f.lfs else f.blob_id
        self._serve(f.served, {**common, "ETag": f'"{etag}"'}, head)

    def _cdn(self, repo_id: str, commit: str, filename: str, head: bool) -> None:
        f = self.hub.repos.get(repo_id, {}).get(filename)
        if f is None or commit != self.hub.commit(repo_id):
            self._error(404, None, "NoSuchKey", head)
            return
        self._serve(f.served, {"ETag": f'"{f.sha256}"', "Accept-Ranges": "bytes"}, head)

    # -- answers --

    def _error(self, status: int, code: str | None, message: str, head: bool) -> None:
        body = json.dumps({"error": message}).encode()
        self._req.status = status
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _send_json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self._req.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, data: bytes, headers: dict[str, str], head: bool) -> None:
        hub = self.hub
        failure = None if head else hub._take_failure()
        if failure is not None:
            self._error(failure, None, "Service unavailable", head)
            return
        start, end, status = 0, len(data) - 1, 200
        match = _RANGE.match(self.headers.get("Range", "") or "")
        if match and not hub.ignore_range:
            start = int(match.group(1))
            if match.group(2):
                end = min(end, int(match.group(2)))
            if start >= len(data):
                self._req.status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = memoryview(data)[start:end + 1]
        self._req.status = status
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if head:
            return
        cut = hub._take_cut()
        limit = len(body) if cut is None else min(cut, len(body))
        self._send_body(body[:limit])
        if cut is not None and limit < len(body):
            self._drop()

    def _send_body(self, body: memoryview) -> None:
        hub = self.hub
        began = time.monotonic()
        sent = 0
        piece = _SEND_PIECE if hub.rate is None else max(1024, min(_SEND_PIECE, int(hub.rate / 20)))
        try:
            while sent < len(body) and not hub.stopping.is_set():
                if hub.stall_after is not None and sent >= hub.stall_after:
                    self.wfile.flush()
                    hub.stopping.wait(30)  # hold the connection open, sending nothing
                    self._drop()
                    return
                n = min(piece, len(body) - sent)
                if hub.stall_after is not None:
                    n = min(n, hub.stall_after - sent)
                self.wfile.write(body[sent:sent + n])
                sent += n
                self._req.body_bytes = sent
                if hub.rate:
                    ahead = sent / hub.rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
            self.wfile.flush()
        except OSError:  # the client went away (a stop, a cut of its own)
            self.close_connection = True

    def _drop(self) -> None:
        """Cut the connection abruptly, mid-body."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --- a network guard --------------------------------------------------------------------------

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"}
_guard_stack: list[list[str]] = []
_guard_installed: list[bool] = []  # one True once the audit hook is in place
_guard_lock = threading.Lock()


def _host(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _guard_stack:
        return
    if event == "socket.connect":
        address = args[1]
        if not (isinstance(address, tuple) and address):
            return  # AF_UNIX and friends: not the network
        host = _host(address[0])
    elif event == "socket.getaddrinfo":
        if args[0] is None:
            return
        host = _host(args[0])
    else:
        return
    if host not in _LOOPBACK:
        _guard_stack[-1].append(f"{event} {host}")
        raise PermissionError(f"test network guard: {event} to {host} refused (loopback only)")


@contextmanager
def loopback_only() -> Iterator[list[str]]:
    """Refuse connections and lookups outside loopback; yields the list of refused attempts."""
    with _guard_lock:
        if not _guard_installed:
            sys.addaudithook(_audit)  # hooks cannot be removed, so it is inert when no guard is active
            _guard_installed.append(True)
    seen: list[str] = []
    _guard_stack.append(seen)
    try:
        yield seen
    finally:
        for i, item in enumerate(_guard_stack):
            if item is seen:  # by identity: two empty lists are equal
                del _guard_stack[i]
                break
