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

The package: ``hub`` (what a repository holds), ``files`` (where the file, its part and the
lock live), ``transfer`` (the resumable transfer and its checks), ``progress`` (reports and
their meter), ``errors``, and ``fetch`` (one download from start to finish). Callers import
from here.
"""

from __future__ import annotations

from app.models.download.errors import ChecksumMismatch, DownloadCancelled, DownloadError, VerificationFailed
from app.models.download.fetch import DownloadResult, download, download_file
from app.models.download.files import discard_partial, partial_size, repo_folder_name, target_path
from app.models.download.hub import RemoteFile, list_gguf_files, no_hub_side_requests
from app.models.download.progress import PROGRESS_INTERVAL, DownloadProgress, Phase, ProgressCallback

__all__ = [
    "PROGRESS_INTERVAL",
    "ChecksumMismatch",
    "DownloadCancelled",
    "DownloadError",
    "DownloadProgress",
    "DownloadResult",
    "Phase",
    "ProgressCallback",
    "RemoteFile",
    "VerificationFailed",
    "discard_partial",
    "download",
    "download_file",
    "list_gguf_files",
    "no_hub_side_requests",
    "partial_size",
    "repo_folder_name",
    "target_path",
]
