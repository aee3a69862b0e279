"""Where a download's files go: the target, its kept ``.part`` and the part's record, and the lock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from app.base import paths
from app.models.download.errors import DownloadError


def repo_folder_name(repo_id: str) -> str:
    """``owner/name`` -> ``owner__name``: one folder per repository in the models folder."""
    return repo_id.replace("/", "__")


def target_path(repo_id: str, filename: str, dest_dir: Path | None = None) -> Path:
    """Where ``filename`` of ``repo_id`` lands (its ``.part`` sits next to it)."""
    check_filename(filename)
    base = Path(dest_dir) if dest_dir is not None else paths.models_dir()
    return base / repo_folder_name(repo_id) / Path(*filename.split("/"))


def partial_size(repo_id: str, filename: str, dest_dir: Path | None = None) -> int:
    """Bytes kept from an earlier, unfinished download (0 if none): lets a GUI offer "Resume"."""
    try:
        return part_path(target_path(repo_id, filename, dest_dir)).stat().st_size
    except (OSError, DownloadError):
        return 0


def discard_partial(repo_id: str, filename: str, dest_dir: Path | None = None) -> None:
    """Delete the kept partial file, for a "cancel and discard" action."""
    target = target_path(repo_id, filename, dest_dir)
    with exclusive(target):
        part_path(target).unlink(missing_ok=True)
        meta_path(target).unlink(missing_ok=True)


def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def meta_path(target: Path) -> Path:
    # Records which file version the part belongs to, so a part of an older upload is not resumed.
    return target.with_name(target.name + ".part.json")


def check_filename(filename: str) -> None:
    """Refuse names that could escape the models folder or that are not GGUF files."""
    parts = filename.split("/")
    if (not filename or filename.startswith("/") or "\\" in filename or "\0" in filename
            or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]):
        raise DownloadError(f"invalid file name {filename!r}")
    if not filename.lower().endswith(".gguf"):
        raise DownloadError(f"{filename} is not a .gguf file; Kestrel downloads GGUF model files only")


@contextmanager
def exclusive(target: Path) -> Iterator[None]:
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
