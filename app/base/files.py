"""Checking that a path the user named is a regular file before anything opens it.

Why: ``open()`` on a named pipe waits for a writer (forever), a device reads without end,
and a folder or a pipe reported as "file not found" misleads. ``os.stat`` never blocks and
opens nothing, so every place that opens a user-chosen file asks here first and refuses
anything else with a line that names what the path really is.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = (  # (test, what the path is, in words)
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotAFileError(Exception):
    """A user-named path that cannot be read as a file; ``reason`` is the words without the name."""

    def __init__(self, path: Path, reason: str, missing: bool = False) -> None:
        self.path = path
        self.reason = reason
        self.missing = missing  # nothing at all is there (the caller may word that its own way)
        super().__init__(f"{path.name or path}: {reason}")


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words ("a named pipe"); "a file" for a regular file."""
    if stat.S_ISREG(mode):
        return "a file"
    return next((words for test, words in _KINDS if test(mode)), "a special file")


def regular_file(path: Path | str, what: str = "document") -> os.stat_result:
    """The ``stat`` of ``path`` when it is a regular file (symlinks followed); NotAFileError otherwise.

    ``what`` names what the caller wanted ("document", "model file") in the refusal.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError) as exc:  # ValueError: a NUL in the name
        raise NotAFileError(path, "file not found", missing=True) from exc
    except PermissionError as exc:
        raise NotAFileError(path, "permission denied: the file cannot be read") from exc
    except OSError as exc:  # a name too long, a loop of links, a vanished drive
        if exc.errno == errno.ENAMETOOLONG:  # no such file can exist (often text typed where a path may go)
            raise NotAFileError(path, "file not found", missing=True) from exc
        raise NotAFileError(path, f"the file cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISREG(info.st_mode):
        return info
    kind = file_kind(info.st_mode)
    if stat.S_ISDIR(info.st_mode):
        raise NotAFileError(path, f"this is {kind}, not a {what}")
    raise NotAFileError(path, f"this is {kind}, not a {what}; Kestrel reads only regular files")
