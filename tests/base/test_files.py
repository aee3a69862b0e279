"""Only regular files pass ``regular_file``; everything else is named for what it is, unopened."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from app.base.files import NotAFileError, file_kind, regular_file

posix_only = pytest.mark.skipif(os.name != "posix", reason="pipes, sockets and devices as POSIX has them")


def test_a_regular_file_gives_its_stat(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("words", encoding="utf-8")
    assert regular_file(path).st_size == 5
    link = tmp_path / "link.txt"
    link.symlink_to(path)
    assert regular_file(str(link)).st_size == 5  # links are followed to what they name


@pytest.mark.parametrize("name", ["nowhere.pdf", "a\x00b.txt", "x" * 300, "notes.txt/inside"])
def test_what_cannot_exist_is_missing(tmp_path: Path, name: str) -> None:
    (tmp_path / "notes.txt").write_text("words", encoding="utf-8")
    with pytest.raises(NotAFileError) as caught:
        regular_file(tmp_path / name)
    assert caught.value.missing and caught.value.reason == "file not found"


def test_a_folder_is_named_a_folder(tmp_path: Path) -> None:
    with pytest.raises(NotAFileError) as caught:
        regular_file(tmp_path / ".", "model file")
    assert not caught.value.missing
    assert caught.value.reason == "this is a folder, not a model file"


@posix_only
def test_a_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    link = tmp_path / "link.txt"
    link.symlink_to(fifo)
    for path in (fifo, link):
        with pytest.raises(NotAFileError) as caught:
            regular_file(path)  # would hang here if it opened the pipe
        assert str(caught.value) == (f"{path.name}: this is a named pipe, not a document; "
                                     "Kestrel reads only regular files")


@posix_only
def test_devices_and_sockets_are_named(tmp_path: Path) -> None:
    with pytest.raises(NotAFileError, match="this is a character device, not a document"):
        regular_file("/dev/null")
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        with pytest.raises(NotAFileError, match="this is a socket, not a document"):
            regular_file(path)


def test_file_kind_words() -> None:
    assert file_kind(stat.S_IFREG) == "a file"
    assert file_kind(stat.S_IFBLK) == "a block device"
    assert file_kind(0) == "a special file"
