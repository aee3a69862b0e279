"""Download GGUF models from the Hugging Face hub: resumable, SHA-256 verified, Qt-free.

Why not ``hf_hub_download``: huggingface-hub 2.x deletes a partial file when a transfer fails
and only checks the size. Kestrel fetches multi-GB files over home connections, so it asks the
hub for the file list and LFS checksums (``HfApi.model_info(files_metadata=True)``) and the file
URL (``hf_hub_url``), then does the transfer itself with HTTP Range requests into
``<file>.part``. The part survives a cut connection, a stop and an app restart, and the next
call continues from the bytes on disk. The file is renamed into place and registered in the
library only after its size, SHA-256 and GGUF header check out; a file that fails is deleted.

Nothing here touches the network until a function is called. Every call is blocking and owns
its HTTP client, so run it on a worker thread: ``progress`` is called on that thread (at most
~10 times a second) and ``stop`` may be set from any thread.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import filelock
from huggingface_hub import HfApi, hf_hub_url
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import ModelInfo, RepoSibling
from huggingface_hub.utils import build_hf_headers, httpx, validate_repo_id

from app import __version__
from app.core import paths
from app.core.gguf_info import GGUFError, read_gguf_info
from app.core.library import Library

Phase = Literal["checking", "downloading", "retrying", "verifying", "done"]

PROGRESS_INTERVAL = 0.1      # seconds between progress callbacks (the GUI repaints at most 10/s)
_SPEED_WINDOW = 3.0          # seconds of samples behind the rolling speed
_HASH_CHUNK = 4 << 20        # re-hash an existing part in 4 MiB reads
_STOP_POLL = 0.05            # how often the stop watcher looks at the event
_MAX_BACKOFF = 30.0
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class DownloadError(Exception):
    """A download that cannot finish; ``str()`` is one line meant for the user."""


class DownloadCancelled(DownloadError):
    """``stop`` was set; the partial file is kept so that the next call resumes it."""

    def __init__(self, message: str, part_path: Path, done: int, total: int | None) -> None:
        super().__init__(message)
        self.part_path = part_path
        self.done = done
        self.total = total


class VerificationFailed(DownloadError):
    """The bytes arrived but are not the file the hub describes; they were deleted."""


class ChecksumMismatch(VerificationFailed):
    """SHA-256 of the downloaded bytes differs from the hub's LFS metadata."""

    def __init__(self, filename: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{filename}: checksum mismatch: expected {expected}, got {actual}; the file was deleted"
        )
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class RemoteFile:
    """A file in a hub repository, as ``model_info(files_metadata=True)`` describes it."""

    name: str
    size: int | None
    sha256: str | None  # None when the file is not in LFS (then it cannot be verified)


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report; immutable so it can be handed across threads as it is."""

    repo_id: str
    filename: str
    phase: Phase
    done: int                 # bytes on disk (or re-hashed, in the "checking" phase)
    total: int | None
    speed: float = 0.0        # bytes per second over the last few seconds; 0 when unknown
    eta: float | None = None  # seconds left at that speed
    resumed_from: int = 0     # bytes that were already on disk when this call started
    attempt: int = 1          # 1 for the first connection, 2 after the first reconnect, ...
    note: str = ""            # why we are retrying, in the "retrying" phase

    @property
    def fraction(self) -> float | None:
        """0..1 for a progress bar, None while the size is unknown."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    def line(self) -> str:
        """A short status line, e.g. ``45.1 MiB / 241 MiB · 12.3 MiB/s · ETA 16 s``."""
        amount = format_bytes(self.done) + (f" / {format_bytes(self.total)}" if self.total else "")
        if self.phase == "checking":
            return f"checking the partial file · {amount}"
        if self.phase == "verifying":
            return f"verifying · {amount}"
        if self.phase == "done":
            return f"done · {amount}"
        if self.phase == "retrying":
            return f"{amount} · {self.note}" if self.note else f"{amount} · retrying"
        parts = [amount]
        if self.speed > 0:
            parts.append(f"{format_bytes(self.speed)}/s")
        if self.eta is not None:
            parts.append(f"ETA {format_duration(self.eta)}")
        return " · ".join(parts)


@dataclass(frozen=True)
class DownloadResult:
    """A complete file in place and registered in the library."""

    path: Path
    repo_id: str
    filename: str
    revision: str            # the commit the bytes came from
    size: int
    sha256: str              # computed from the bytes on disk
    verified: bool           # False only with allow_unverified=True and no hub checksum
    resumed_from: int        # bytes already on disk when the call started
    bytes_transferred: int   # bytes received over the network by this call
    reconnects: int          # connections re-opened after a cut
    seconds: float


ProgressCallback = Callable[[DownloadProgress], None]


def format_bytes(n: float) -> str:
    """Binary units with three significant digits: ``512 B``, ``45.1 MiB``, ``241 MiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            if unit == "B":
                return f"{value:.0f} B"
            return f"{value:.1f} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """``16 s``, ``4 min 05 s``, ``2 h 10 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# --- where files go -------------------------------------------------------------------------

def repo_folder_name(repo_id: str) -> str:
    """``owner/name`` -> ``owner__name``: one folder per repository in the models folder."""
    return repo_id.replace("/", "__")


def target_path(repo_id: str, filename: str, dest_dir: Path | None = None) -> Path:
    """Where ``filename`` of ``repo_id`` lands (its ``.part`` sits next to it)."""
    _check_filename(filename)
    base = Path(dest_dir) if dest_dir is not None else paths.models_dir()
    return base / repo_folder_name(repo_id) / Path(*filename.split("/"))


def partial_size(repo_id: str, filename: str, dest_dir: Path | None = None) -> int:
    """Bytes kept from an earlier, unfinished download (0 if none): lets a GUI offer "Resume"."""
    try:
        return _part_path(target_path(repo_id, filename, dest_dir)).stat().st_size
    except (OSError, DownloadError):
        return 0


def discard_partial(repo_id: str, filename: str, dest_dir: Path | None = None) -> None:
    """Delete the kept partial file, for a "cancel and discard" action."""
    target = target_path(repo_id, filename, dest_dir)
    with _exclusive(target):
        _part_path(target).unlink(missing_ok=True)
        _meta_path(target).unlink(missing_ok=True)


def _part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _meta_path(target: Path) -> Path:
    # Records which file version the part belongs to, so a part of an older upload is not resumed.
    return target.with_name(target.name + ".part.json")


def _check_filename(filename: str) -> None:
    """Refuse names that could escape the models folder or that are not GGUF files."""
    parts = filename.split("/")
    if (not filename or filename.startswith("/") or "\\" in filename or "\0" in filename
            or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]):
        raise DownloadError(f"invalid file name {filename!r}")
    if not filename.lower().endswith(".gguf"):
        raise DownloadError(f"{filename} is not a .gguf file; Kestrel downloads GGUF model files only")


# --- hub metadata ---------------------------------------------------------------------------

def _clean_endpoint(endpoint: str | None) -> str | None:
    return endpoint.rstrip("/") if endpoint else None


def _where(endpoint: str | None) -> str:
    return endpoint or hf_constants.ENDPOINT


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def no_hub_side_requests() -> None:
    """Stop huggingface-hub from contacting huggingface.co behind our back.

    Why: with telemetry on, huggingface-hub 2.x builds its user agent by fetching
    ``{HF_ENDPOINT}/api/agent-harnesses`` from the default hub (not the endpoint passed per
    call) and caching it under ``HF_HOME``: a request the user did not ask for, to a host they
    may not have chosen, with up to 3 s of delay when it is unreachable. The documented opt-out
    is ``HF_HUB_DISABLE_TELEMETRY``, read once at import, so the constant is set here; the
    library reads it on every call.
    """
    hf_constants.HF_HUB_DISABLE_TELEMETRY = True


def _model_info(repo_id: str, endpoint: str | None, revision: str, token: str | bool | None,
                timeout: float) -> ModelInfo:
    """model_info with files metadata; every failure becomes a one-line DownloadError."""
    where = _where(endpoint)
    no_hub_side_requests()
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise DownloadError(f"{repo_id!r} is not a valid repository id (expected owner/name)") from exc
    api = HfApi(endpoint=endpoint, token=token, library_name="kestrel", library_version=__version__)
    try:
        return api.model_info(repo_id, revision=revision, files_metadata=True, timeout=timeout)
    except GatedRepoError as exc:
        raise DownloadError(f"{repo_id} is gated on {where}: accept its terms on the model page "
                            "and log in with `hf auth login` first") from exc
    except RepositoryNotFoundError as exc:
        raise DownloadError(f"repository {repo_id} not found on {where} (check the name; "
                            "private repositories need `hf auth login`)") from exc
    except RevisionNotFoundError as exc:
        raise DownloadError(f"revision {revision!r} not found in {repo_id}") from exc
    except DisabledRepoError as exc:
        raise DownloadError(f"repository {repo_id} is disabled on {where}") from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise DownloadError(f"{where} answered HTTP {status} for {repo_id}: {_first_line(exc)}") from exc
    except OfflineModeIsEnabled as exc:
        raise DownloadError("the Hugging Face hub is switched off here (HF_HUB_OFFLINE is set)") from exc
    except httpx.HTTPError as exc:
        raise DownloadError(f"cannot reach {where}: {_first_line(exc)}") from exc
    except ValueError as exc:  # a body that is not the JSON the hub sends
        raise DownloadError(f"{where} sent an unexpected answer for {repo_id}: {_first_line(exc)}") from exc


def _remote(sibling: RepoSibling) -> RemoteFile:
    lfs = sibling.lfs
    size = lfs.size if lfs is not None else sibling.size
    sha = lfs.sha256.lower() if lfs is not None and lfs.sha256 else None
    return RemoteFile(sibling.rfilename, size, sha)


def list_gguf_files(repo_id: str, endpoint: str | None = None, revision: str = "main", *,
                    token: str | bool | None = None, timeout: float = 30.0) -> list[RemoteFile]:
    """The GGUF files of a repository with sizes and SHA-256, sorted by name (one API call)."""
    info = _model_info(repo_id, _clean_endpoint(endpoint), revision, token, timeout)
    files = [_remote(s) for s in info.siblings or [] if s.rfilename.lower().endswith(".gguf")]
    return sorted(files, key=lambda f: f.name)


# --- the transfer ---------------------------------------------------------------------------

def download(repo_id: str, filename: str, *, endpoint: str | None = None, revision: str = "main",
             dest_dir: Path | None = None, progress: ProgressCallback | None = None,
             stop: threading.Event | None = None, allow_unverified: bool = False,
             **options: Any) -> Path:
    """Download, verify and register one GGUF file; returns its final path.

    See ``download_file`` for the options and the exceptions.
    """
    return download_file(repo_id, filename, endpoint=endpoint, revision=revision, dest_dir=dest_dir,
                         progress=progress, stop=stop, allow_unverified=allow_unverified,
                         **options).path


def download_file(
    repo_id: str,
    filename: str,
    *,
    endpoint: str | None = None,
    revision: str = "main",
    dest_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    allow_unverified: bool = False,
    token: str | bool | None = None,
    library: Library | None = None,
    retries: int = 5,
    retry_delay: float = 1.0,
    timeout: float = 30.0,
) -> DownloadResult:
    """Download ``filename`` of ``repo_id`` into the models folder, resuming any kept part.

    ``retries`` is how many times in a row a connection may fail without bringing new bytes
    (waits double from ``retry_delay``); ``timeout`` bounds a connect and each read.
    ``token=None`` uses the login saved by ``hf auth login`` if any (gated repositories).

    Raises DownloadCancelled when ``stop`` is set (the part is kept), ChecksumMismatch or
    VerificationFailed when the bytes are wrong (they are deleted), DownloadError otherwise.
    """
    started = time.monotonic()
    stop = stop if stop is not None else threading.Event()
    endpoint = _clean_endpoint(endpoint)
    target = target_path(repo_id, filename, dest_dir)  # checks the name before any network use
    info = _model_info(repo_id, endpoint, revision, token, timeout)
    siblings = info.siblings or []
    sibling = next((s for s in siblings if s.rfilename == filename), None)
    if sibling is None:
        ggufs = sorted(s.rfilename for s in siblings if s.rfilename.lower().endswith(".gguf"))
        listing = ("; its GGUF files: " + ", ".join(ggufs[:10]) + (", ..." if len(ggufs) > 10 else "")
                   if ggufs else "; it has no GGUF files")
        raise DownloadError(f"{repo_id} has no file {filename!r} at revision {revision}{listing}")
    remote = _remote(sibling)
    if remote.sha256 is None and not allow_unverified:
        raise DownloadError(f"the hub gives no SHA-256 for {filename} in {repo_id}, so the download "
                            "cannot be verified; refusing it")
    commit = info.sha or revision  # pin the commit so every resume fetches the same bytes
    url = hf_hub_url(repo_id, filename, revision=commit, endpoint=endpoint)
    headers = build_hf_headers(token=token, library_name="kestrel", library_version=__version__)
    headers["Accept-Encoding"] = "identity"  # byte offsets must be offsets into the file itself

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    with _exclusive(target):
        job = _Job(repo_id=repo_id, filename=filename, remote=remote, url=url, target=target,
                   headers=headers, progress=progress, stop=stop, retries=retries,
                   retry_delay=retry_delay, timeout=timeout)
        sha256, size = job.run()
    (library or Library()).add(target, "downloaded")
    return DownloadResult(
        path=target, repo_id=repo_id, filename=filename, revision=commit, size=size, sha256=sha256,
        verified=remote.sha256 is not None, resumed_from=job.resumed_from,
        bytes_transferred=job.transferred, reconnects=job.reconnects,
        seconds=time.monotonic() - started,
    )


@contextmanager
def _exclusive(target: Path) -> Iterator[None]:
    """One writer per file across threads and processes (a GUI window and the CLI, say)."""
    lock_dir = paths.cache_dir() / "download-locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:32]
    lock = filelock.FileLock(str(lock_dir / f"{key}.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise DownloadError(f"{target.name} is already being downloaded by another Kestrel window "
                            "or process") from None
    try:
        yield
    finally:
        lock.release()


class _Retryable(Exception):
    """A failure worth another connection (cut, timeout, 5xx, 429)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _Meter:
    """Throttles progress callbacks and keeps a rolling speed."""

    def __init__(self, callback: ProgressCallback | None, repo_id: str, filename: str) -> None:
        self.callback = callback
        self.repo_id = repo_id
        self.filename = filename
        self.samples: deque[tuple[float, int]] = deque()
        self.last_emit = -1.0
        self.last_phase: Phase | None = None
        self.speed = 0.0

    def reset_speed(self) -> None:
        self.samples.clear()
        self.speed = 0.0

    def emit(self, phase: Phase, done: int, total: int | None, *, resumed_from: int, attempt: int,
             note: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if phase == "downloading":
            self.samples.append((now, done))
            while len(self.samples) > 2 and now - self.samples[1][0] >= _SPEED_WINDOW:
                self.samples.popleft()
        if self.callback is None:
            return
        if not force and phase == self.last_phase and now - self.last_emit < PROGRESS_INTERVAL:
            return
        if phase == "downloading" and len(self.samples) >= 2:
            (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
            if t1 - t0 >= 0.2:
                self.speed = (d1 - d0) / (t1 - t0)
        eta = None
        if phase == "downloading" and total is not None and self.speed > 0:
            eta = max(0.0, (total - done) / self.speed)
        self.last_emit, self.last_phase = now, phase
        self.callback(DownloadProgress(
            self.repo_id, self.filename, phase, done, total,
            speed=self.speed if phase == "downloading" else 0.0, eta=eta,
            resumed_from=resumed_from, attempt=attempt, note=note,
        ))


@contextmanager
def _interrupt_on_stop(response: Any, stop: threading.Event) -> Iterator[None]:
    """Shut the response's socket down when ``stop`` is set.

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
            if stop.wait(_STOP_POLL):
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
        return f"cannot connect ({_first_line(exc)})"
    return "the connection was cut"


class _Job:
    """One file's transfer into its ``.part``, then verification and the rename."""

    def __init__(self, *, repo_id: str, filename: str, remote: RemoteFile, url: str, target: Path,
                 headers: dict[str, str], progress: ProgressCallback | None, stop: threading.Event,
                 retries: int, retry_delay: float, timeout: float) -> None:
        self.repo_id = repo_id
        self.filename = filename
        self.remote = remote
        self.url = url
        self.target = target
        self.part = _part_path(target)
        self.meta = _meta_path(target)
        self.headers = headers
        self.stop = stop
        self.retries = max(0, retries)
        self.retry_delay = max(0.0, retry_delay)
        self.timeout = timeout
        self.meter = _Meter(progress, repo_id, filename)
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
            self.meta.write_text(json.dumps(data), encoding="utf-8")
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
        while True:
            self._check_stop()
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
                reason = _describe_transport(exc)
            except httpx.HTTPError as exc:  # e.g. too many redirects, a bad URL
                raise DownloadError(f"cannot download {self.filename}: {_first_line(exc)}") from exc
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
            if self.stop.wait(delay):
                raise self._cancelled()

    def _attempt(self, client: httpx.Client) -> bool:
        """One request; True when the whole file is on disk."""
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        with client.stream("GET", self.url, headers=headers) as resp, _interrupt_on_stop(resp, self.stop):
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
