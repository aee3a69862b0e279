"""Download one GGUF file: resolve it on the hub, transfer it, verify it, register it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_url
from huggingface_hub.utils import build_hf_headers

from app import __version__
from app.models.download.errors import DownloadError
from app.models.download.files import exclusive, target_path
from app.models.download.hub import clean_endpoint, model_info, remote_file
from app.models.download.pace import MIN_BYTES, WINDOW_S, Pace
from app.models.download.progress import ProgressCallback
from app.models.download.transfer import TransferJob
from app.models.library import Library


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
    min_bytes: int = MIN_BYTES,
    window: float = WINDOW_S,
) -> DownloadResult:
    """Download ``filename`` of ``repo_id`` into the models folder, resuming any kept part.

    ``retries`` is how many times in a row a connection may fail without bringing new bytes
    (waits double from ``retry_delay``); ``timeout`` bounds a connect and each read. Less
    than ``min_bytes`` arriving in any ``window`` seconds of transfer (across reconnects,
    retry waits left out) abandons the download with a DownloadError, the part kept.
    ``token=None`` uses the login saved by ``hf auth login`` if any (gated repositories).

    Raises DownloadCancelled when ``stop`` is set (the part is kept), ChecksumMismatch or
    VerificationFailed when the bytes are wrong (they are deleted), DownloadError otherwise.
    """
    started = time.monotonic()
    stop = stop if stop is not None else threading.Event()
    endpoint = clean_endpoint(endpoint)
    target = target_path(repo_id, filename, dest_dir)  # checks the name before any network use
    info = model_info(repo_id, endpoint, revision, token, timeout)
    siblings = info.siblings or []
    sibling = next((s for s in siblings if s.rfilename == filename), None)
    if sibling is None:
        ggufs = sorted(s.rfilename for s in siblings if s.rfilename.lower().endswith(".gguf"))
        listing = ("; its GGUF files: " + ", ".join(ggufs[:10]) + (", ..." if len(ggufs) > 10 else "")
                   if ggufs else "; it has no GGUF files")
        raise DownloadError(f"{repo_id} has no file {filename!r} at revision {revision}{listing}")
    remote = remote_file(sibling)
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
    with exclusive(target):
        job = TransferJob(repo_id=repo_id, filename=filename, remote=remote, url=url, target=target,
                   headers=headers, progress=progress, stop=stop, retries=retries,
                   retry_delay=retry_delay, timeout=timeout, pace=Pace(min_bytes, window))
        sha256, size = job.run()
    (library or Library()).add(target, "downloaded")
    return DownloadResult(
        path=target, repo_id=repo_id, filename=filename, revision=commit, size=size, sha256=sha256,
        verified=remote.sha256 is not None, resumed_from=job.resumed_from,
        bytes_transferred=job.transferred, reconnects=job.reconnects,
        seconds=time.monotonic() - started,
    )
