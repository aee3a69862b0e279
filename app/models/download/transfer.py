"""The resumable transfer of one file into its ``.part``, then verification and the rename.

HTTP Range requests continue from the bytes on disk after a cut connection, a stop or a
restart; waits between reconnects double; a stop shuts a stalled socket down at once, and so
does a server that sends less than the minimum pace (``pace``), which abandons the download.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from huggingface_hub.utils import httpx

from app.base.atomic import write_atomic
from app.base.units import format_bytes, format_duration
from app.gguf.reader import GGUFError, read_gguf_info
from app.models.download.errors import ChecksumMismatch, DownloadCancelled, DownloadError, VerificationFailed
from app.models.download.files import meta_path, part_path
from app.models.download.hub import RemoteFile, first_line
from app.models.download.pace import Pace
from app.models.download.progress import Meter, Phase, ProgressCallback

_HASH_CHUNK = 4 << 20        # re-hash an existing part in 4 MiB reads
_STOP_POLL = 0.05            # how often the stop watcher looks at the event
_MAX_BACKOFF = 30.0
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class _Retryable(Exception):
    """A failure worth another connection (cut, timeout, 5xx, 429)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@contextmanager
def _interrupt_on_stop(response: Any, stop: threading.Event, give_up: Callable[[], bool]) -> Iterator[None]:
    """Shut the response's socket down when ``stop`` is set or ``give_up()`` says so (too slow).

    Why: a read on a stalled connection blocks until the read timeout (30 s); shutting the
    socket down from another thread wakes it at once, so a stop takes effect within ~0.1 s.
    """
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if not isinstance(sock, socket.socket):
        yield
        return
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            if stop.wait(_STOP_POLL) or give_up():
                if not finished.is_set():
                    try:
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also for TLS
                    except OSError:
                        pass
                return

    watcher = threading.Thread(target=watch, name="kestrel-download-stop", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        watcher.join()


def _parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    """``bytes 100-199/1000`` -> (100, 1000); None when absent or malformed."""
    if not value or not value.startswith("bytes "):
        return None
    spec, _, full = value[6:].partition("/")
    start, _, _end = spec.partition("-")
    try:
        return int(start), (None if full.strip() == "*" else int(full))
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def _describe_transport(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the connection timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({first_line(exc)})"
    return "the connection was cut"


class TransferJob:
    """One file's transfer into its ``.part``, then verification and the rename."""

    def __init__(self, *, repo_id: str, filename: str, remote: RemoteFile, url: str, target: Path,
                 headers: dict[str, str], progress: ProgressCallback | None, stop: threading.Event,
                 retries: int, retry_delay: float, timeout: float, pace: Pace | None = None) -> None:
        self.repo_id = repo_id
        self.filename = filename
        self.remote = remote
        self.url = url
        self.target = target
        self.part = part_path(target)
        self.meta = meta_path(target)
        self.headers = headers
        self.stop = stop
        self.retries = max(0, retries)
        self.retry_delay = max(0.0, retry_delay)
        self.timeout = timeout
        self.pace = pace if pace is not None else Pace()
        self.meter = Meter(progress, repo_id, filename)
        self.hasher = hashlib.sha256()
        self.offset = 0
        self.total = remote.size
        self.resumed_from = 0
        self.transferred = 0
        self.reconnects = 0

    # -- the steps --

    def run(self) -> tuple[str, int]:
        """Returns (sha256, size) of the verified file, now at ``target``."""
        existing = self._existing_target()
        if existing is not None:
            return existing
        self._prepare_part()
        self._check_space()
        client = httpx.Client(follow_redirects=True, headers=self.headers,
                              timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 15.0)))
        with client:
            self._transfer(client)
        return self._finish()

    def _existing_target(self) -> tuple[str, int] | None:
        """A finished file from an earlier call is kept when it still matches the hub."""
        try:
            size = self.target.stat().st_size
        except OSError:
            return None
        if self.total is not None and size != self.total:
            return None
        self.resumed_from = size
        sha = self._hash_file(self.target, "verifying")
        if self.remote.sha256 is not None and sha != self.remote.sha256:
            self.resumed_from = 0
            return None  # replaced by the fresh download at the end
        try:
            read_gguf_info(self.target)
        except GGUFError:
            self.resumed_from = 0
            return None
        self._emit("done", size, force=True)
        return sha, size

    def _prepare_part(self) -> None:
        """Continue a kept part of the same file version, or start an empty one."""
        size = 0
        if self.part.exists():
            size = self.part.stat().st_size
            if self._meta_differs() or (self.total is not None and size > self.total):
                self._reset_part()
                size = 0
        if size:
            self.hasher = hashlib.sha256()
            self._hash_file(self.part, "checking", into=self.hasher)
            self.offset = self.resumed_from = size
        elif not self.part.exists():
            try:
                self.part.touch()
            except OSError as exc:
                raise self._write_error(exc) from exc
        self._write_meta()

    def _meta_differs(self) -> bool:
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False  # no record: resume anyway, the checksum decides at the end
        if not isinstance(meta, dict):
            return False
        return ((meta.get("sha256") is not None and meta.get("sha256") != self.remote.sha256)
                or (meta.get("size") is not None and meta.get("size") != self.remote.size))

    def _write_meta(self) -> None:
        data = {"repo_id": self.repo_id, "filename": self.filename, "url": self.url,
                "sha256": self.remote.sha256, "size": self.remote.size}
        try:
            write_atomic(self.meta, json.dumps(data))
        except OSError as exc:
            raise self._write_error(exc) from exc

    def _check_space(self) -> None:
        if self.total is None:
            return
        need = self.total - self.offset
        try:
            free = shutil.disk_usage(self.part.parent).free
        except OSError:
            return
        if need > free:
            raise DownloadError(f"not enough free space in {self.part.parent}: {self.filename} needs "
                                f"{format_bytes(need)} more, {format_bytes(free)} is free")

    def _transfer(self, client: httpx.Client) -> None:
        """Connect, stream, and on a cut reconnect with a Range header, backing off."""
        failures = 0
        self.pace.start(self.transferred)
        while True:
            self._check_stop()
            self._check_pace()
            if self.total is not None and self.offset >= self.total:
                return
            before = self.offset
            retry_after: float | None = None
            try:
                if self._attempt(client):
                    return
                reason = "the connection closed early"
            except _Retryable as exc:
                reason, retry_after = str(exc), exc.retry_after
            except httpx.TransportError as exc:
                self._check_stop()
                self._check_pace()  # the watcher cut a connection that was too slow
                reason = _describe_transport(exc)
            except httpx.HTTPError as exc:  # e.g. too many redirects, a bad URL
                raise DownloadError(f"cannot download {self.filename}: {first_line(exc)}") from exc
            self._check_stop()
            failures = 1 if self.offset > before else failures + 1
            if failures > self.retries:
                raise DownloadError(
                    f"download of {self.filename} failed after {self.retries} retries: {reason}; "
                    f"{format_bytes(self.offset)} kept in {self.part.name}, download it again to resume")
            delay = retry_after if retry_after is not None else min(
                _MAX_BACKOFF, self.retry_delay * 2 ** (failures - 1))
            self.reconnects += 1
            wait = f"{delay:.1f} s" if delay < 10 else format_duration(delay)
            self._emit("retrying", self.offset, force=True, note=f"{reason}; retrying in {wait}")
            self.pace.pause()
            if self.stop.wait(delay):
                raise self._cancelled()
            self.pace.resume()

    def _attempt(self, client: httpx.Client) -> bool:
        """One request; True when the whole file is on disk."""
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        with (client.stream("GET", self.url, headers=headers) as resp,
              _interrupt_on_stop(resp, self.stop, self._too_slow)):
            status = resp.status_code
            if status in _RETRY_STATUSES:
                raise _Retryable(f"the server answered HTTP {status}",
                                 _retry_after(resp.headers.get("Retry-After")))
            if status == 416 and self.offset:
                self._reset_part()  # the part is longer than the file: start over
                raise _Retryable("the server refused to resume (HTTP 416)")
            if status in (401, 403):
                raise DownloadError(f"access to {self.filename} was refused (HTTP {status}); gated or "
                                    "private repositories need `hf auth login`")
            if status == 404:
                raise DownloadError(f"{self.filename} is not available at {self.url} (HTTP 404)")
            if status not in (200, 206):
                raise DownloadError(f"unexpected answer HTTP {status} for {self.url}")
            if status == 206:
                content_range = _parse_content_range(resp.headers.get("Content-Range"))
                if content_range is None or content_range[0] != self.offset:
                    self._reset_part()
                    raise _Retryable("the server sent the wrong byte range")
                if self.total is None:
                    self.total = content_range[1]
            else:
                if self.offset:
                    self._reset_part()  # the server ignored Range: take the whole body again
                if self.total is None and resp.headers.get("Content-Length", "").isdigit():
                    self.total = int(resp.headers["Content-Length"])
            self.meter.reset_speed()  # speed of this connection, not averaged over a retry wait
            self._emit("downloading", self.offset, force=True)
            try:
                with self.part.open("ab") as fh:
                    self._pump(resp, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise self._write_error(exc) from exc
        return self.total is None or self.offset >= self.total

    def _pump(self, resp: Any, fh: BinaryIO) -> None:
        for chunk in resp.iter_bytes():
            if self.stop.is_set():
                fh.flush()
                raise self._cancelled()
            fh.write(chunk)
            self.hasher.update(chunk)
            self.offset += len(chunk)
            self.transferred += len(chunk)
            self._emit("downloading", self.offset)
            if self._too_slow():
                fh.flush()
                raise self._abandoned()
            if self.total is not None and self.offset > self.total:
                return  # more than the hub announced: the size check rejects it

    def _finish(self) -> tuple[str, int]:
        """Size, SHA-256 and GGUF header, then the atomic rename."""
        size = self.part.stat().st_size
        self._emit("verifying", size, force=True)
        actual = self.hasher.hexdigest()
        if size != self.offset:  # cannot happen unless something else wrote to the part
            actual = self._hash_file(self.part, "verifying")
        if self.total is not None and size != self.total:
            self._delete_part()
            raise VerificationFailed(f"{self.filename}: size mismatch: expected {self.total} bytes, "
                                     f"got {size}; the file was deleted")
        if self.remote.sha256 is not None and actual != self.remote.sha256:
            self._delete_part()
            raise ChecksumMismatch(self.filename, self.remote.sha256, actual)
        try:
            read_gguf_info(self.part)
        except GGUFError as exc:
            self._delete_part()
            raise VerificationFailed(f"{self.filename} is not a usable GGUF file ({exc.reason}); "
                                     "the file was deleted") from exc
        try:
            os.replace(self.part, self.target)
        except OSError as exc:
            raise DownloadError(f"cannot move {self.part.name} into place: {exc}") from exc
        self.meta.unlink(missing_ok=True)
        self._emit("done", size, force=True)
        return actual, size

    # -- helpers --

    def _emit(self, phase: Phase, done: int, *, force: bool = False, note: str = "") -> None:
        self.meter.emit(phase, done, self.total, resumed_from=self.resumed_from,
                        attempt=self.reconnects + 1, note=note, force=force)

    def _hash_file(self, path: Path, phase: Phase, into: Any = None) -> str:
        """SHA-256 of a file on disk, with progress and stop checks (files are GBs)."""
        hasher = into if into is not None else hashlib.sha256()
        done = 0
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_HASH_CHUNK):
                    self._check_stop()
                    hasher.update(chunk)
                    done += len(chunk)
                    self.meter.emit(phase, done, self.total, resumed_from=self.resumed_from,
                                    attempt=1)
        except OSError as exc:
            raise DownloadError(f"cannot read {path}: {exc}") from exc
        return str(hasher.hexdigest())

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise self._cancelled()

    def _too_slow(self) -> bool:
        return self.pace.too_slow(self.transferred)

    def _check_pace(self) -> None:
        """Abandon the download when the pace has been too slow (the part is kept for a resume)."""
        if self._too_slow():
            raise self._abandoned()

    def _abandoned(self) -> DownloadError:
        return DownloadError(
            f"download of {self.filename} abandoned: {self.pace.describe()}, the server is sending too "
            f"slowly; {format_bytes(self.offset)} kept in {self.part.name}, download it again to resume")

    def _cancelled(self) -> DownloadCancelled:
        of = f" of {format_bytes(self.total)}" if self.total else ""
        return DownloadCancelled(
            f"download of {self.filename} stopped at {format_bytes(self.offset)}{of}; the partial file "
            f"is kept in {self.part}, download it again to resume",
            self.part, self.offset, self.total)

    def _reset_part(self) -> None:
        try:
            with self.part.open("wb"):
                pass
        except OSError as exc:
            raise self._write_error(exc) from exc
        self.hasher = hashlib.sha256()
        self.offset = 0
        self.resumed_from = 0
        self.meter.reset_speed()

    def _delete_part(self) -> None:
        self.part.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)

    def _write_error(self, exc: OSError) -> DownloadError:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return DownloadError(f"the disk is full while writing {self.part}; free some space and "
                                 "download again to resume")
        return DownloadError(f"cannot write {self.part}: {exc.strerror or exc}")
