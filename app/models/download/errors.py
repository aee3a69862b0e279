"""What can go wrong with a download, each as one line meant for the user."""

from __future__ import annotations

from pathlib import Path


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
