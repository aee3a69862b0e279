"""Conversation KV states on disk, so a chat resumes without re-reading its history.

After a reply the engine hands the exact token list and llama.cpp's sequence state bytes
here; a later prompt that continues one of those token lists restores the state and
evaluates only the new turn. That covers switching chats, restarting the app and API
clients continuing a conversation alike, since all of them send the same prompt tokens.

Why it is shaped this way:
- a state is only valid for the same model file, context size and KV cache layout, so
  every file carries a :class:`StateKey` and one that differs is never used;
- the reply must never wait for a disk write: ``put`` only queues, one background thread
  writes (temp file in the same folder, then ``os.replace``), and a state still queued
  is served from memory;
- disk use is bounded: least recently used files go first once the byte budget is
  exceeded, and a state that a newer one of the same conversation extends is dropped;
- a corrupt, truncated or foreign file is deleted and ignored: the prompt is recomputed.

States are keyed by token content, not by chat: a deleted chat's state is never matched
again and ages out of the budget like any other.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import struct
import sys
import tempfile
import threading
import time
import weakref
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from app.base.atomic import replace_with_retry

FORMAT_VERSION = 1
MAGIC = b"KESTRELKV\x00"
SUFFIX = ".kvstate"
DEFAULT_BUDGET = 2 * 1024**3
MIN_TOKENS = 64  # a shorter history is re-evaluated faster than a file is read
HEAD_BYTES = 1024 * 1024  # how much of the model file the identity hash covers
_LENGTHS = struct.Struct("<IQ")  # header length, then data length
_LIVE: weakref.WeakSet[KVStore] = weakref.WeakSet()  # for flush_all when the process ends


@dataclass(frozen=True)
class StateKey:
    """Everything a saved state depends on besides its tokens."""

    model_size: int
    model_mtime_ns: int
    model_head_sha256: str
    n_ctx: int
    type_k: int
    type_v: int
    flash_attn: int
    swa_full: bool
    runtime: str  # llama-cpp-python's version: the state layout may change between releases


def model_identity(path: Path) -> tuple[int, int, str]:
    """Size, modification time and a hash of the first MiB: cheap, and changes with the file."""
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(HEAD_BYTES)).hexdigest()
    return stat.st_size, stat.st_mtime_ns, head


@dataclass
class _Entry:
    """One saved state: its tokens in memory, its bytes on disk (or in ``pending`` until written)."""

    path: Path
    tokens: array[int]
    size: int
    used: float
    pending: bytes | bytearray | None = None
    foreign: bool = False  # another model's (or context size's) state: counts in the budget, never matched


@dataclass(frozen=True)
class Match:
    """A saved state whose first ``shared`` tokens begin the prompt."""

    tokens: list[int]
    shared: int
    entry_name: str


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the shared prefix of two token lists (the KV cache's, a saved state's, a prompt's)."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def encode(key: StateKey, tokens: Sequence[int], data: bytes | bytearray) -> list[bytes | bytearray]:
    """The file's bytes: magic, lengths, JSON header (with a CRC of the rest), tokens, state."""
    body = array("i", tokens).tobytes()
    crc = zlib.crc32(data, zlib.crc32(body))
    header = json.dumps({"version": FORMAT_VERSION, "key": asdict(key), "n_tokens": len(tokens),
                         "crc32": crc}).encode("utf-8")
    return [MAGIC + _LENGTHS.pack(len(header), len(data)) + header + body, data]  # written in turn: no joined copy


def _read_header(handle: BinaryIO, key: StateKey, file_size: int) -> tuple[int, int, int] | None:
    """(n_tokens, data length, crc) when the file is ours, for ``key`` and complete; else None."""
    read = handle.read
    if read(len(MAGIC)) != MAGIC:
        return None
    raw = read(_LENGTHS.size)
    if len(raw) != _LENGTHS.size:
        return None
    header_len, data_len = _LENGTHS.unpack(raw)
    if header_len > 65536:
        return None
    try:
        header = json.loads(read(header_len))
        version, stored_key, n_tokens, crc = header["version"], header["key"], header["n_tokens"], header["crc32"]
    except (ValueError, KeyError, TypeError):
        return None
    if version != FORMAT_VERSION or stored_key != asdict(key) or not isinstance(n_tokens, int):
        return None
    if file_size != len(MAGIC) + _LENGTHS.size + header_len + 4 * n_tokens + data_len:
        return None  # truncated or padded
    return n_tokens, data_len, int(crc)


def read_header(path: Path) -> dict[str, Any] | None:
    """The JSON header of a complete state file of this format version (any key), or None."""
    try:
        with path.open("rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                return None
            header_len, data_len = _LENGTHS.unpack(handle.read(_LENGTHS.size))
            header = json.loads(handle.read(header_len))
            n_tokens = int(header["n_tokens"])
            if header.get("version") != FORMAT_VERSION or not isinstance(header.get("key"), dict):
                return None
            if path.stat().st_size != len(MAGIC) + _LENGTHS.size + header_len + 4 * n_tokens + data_len:
                return None
            return dict(header)
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None


def decode(blob: bytes, key: StateKey) -> tuple[list[int], bytes] | None:
    """Tokens and state bytes of a file's content, or None if it is damaged or for another key."""
    handle = io.BytesIO(blob)
    found = _read_header(handle, key, len(blob))
    if found is None:
        return None
    n_tokens, data_len, crc = found
    body = handle.read(4 * n_tokens)
    data = handle.read(data_len)
    if zlib.crc32(data, zlib.crc32(body)) != crc:
        return None
    tokens = array("i")
    tokens.frombytes(body)
    return tokens.tolist(), data


class KVStore:
    """A folder of saved sequence states for one loaded model (see the module docstring)."""

    def __init__(self, folder: Path, key: StateKey, budget: int = DEFAULT_BUDGET) -> None:
        self.folder = folder
        self.key = key
        self.budget = budget
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._idle = threading.Condition(self._lock)
        self._writing = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._scan()
        self._writer = threading.Thread(target=self._write_loop, name="kv-state-writer", daemon=True)
        self._writer.start()
        _LIVE.add(self)

    # ---- reading ----------------------------------------------------------------------
    def _scan(self) -> None:
        """Index the files for this key; delete damaged ones and stale temp files."""
        for path in self.folder.iterdir():
            if path.name.endswith(".tmp"):
                try:
                    if time.time() - path.stat().st_mtime > 3600:  # a write killed mid-way
                        path.unlink(missing_ok=True)
                except OSError:
                    pass
                continue
            if path.suffix != SUFFIX:
                continue
            try:
                stat = path.stat()
                with path.open("rb") as handle:
                    found = _read_header(handle, self.key, stat.st_size)
                    if found is None:
                        if self._other_key(path):
                            self._entries[path.name] = _Entry(path, array("i"), stat.st_size, stat.st_mtime,
                                                              foreign=True)
                        else:
                            path.unlink(missing_ok=True)  # damaged or unknown
                        continue
                    tokens = array("i")
                    tokens.frombytes(handle.read(4 * found[0]))
            except OSError:
                continue
            self._entries[path.name] = _Entry(path, tokens, stat.st_size, stat.st_mtime)

    def _other_key(self, path: Path) -> bool:
        """True when ``path`` is a complete-looking state for a different key (kept for that model)."""
        header = read_header(path)
        return header is not None and header["key"] != asdict(self.key)

    def best(self, prompt: Sequence[int], *, at_least: int = MIN_TOKENS) -> Match | None:
        """The saved state sharing the longest prefix with ``prompt`` (at least ``at_least`` tokens)."""
        best: Match | None = None
        with self._lock:
            entries = list(self._entries.items())
        for name, entry in entries:
            if entry.foreign:
                continue
            shared = common_prefix(entry.tokens, prompt)
            if shared >= at_least and (best is None or shared > best.shared):
                best = Match(entry.tokens.tolist(), shared, name)
        return best

    def load(self, match: Match) -> bytes | bytearray | None:
        """The state bytes of ``match``; None (and the file deleted) if it is gone or damaged."""
        with self._lock:
            entry = self._entries.get(match.entry_name)
            if entry is None:
                return None
            entry.used = time.time()
            if entry.pending is not None:
                return entry.pending
        try:
            blob = entry.path.read_bytes()
        except OSError:
            self.discard(match.entry_name)
            return None
        decoded = decode(blob, self.key)
        if decoded is None or decoded[0] != match.tokens:
            self.discard(match.entry_name)
            return None
        try:
            os.utime(entry.path)  # the file's time is its last use, for eviction after a restart
        except OSError:
            pass
        return decoded[1]

    def discard(self, name: str) -> None:
        """Forget and delete one state (it failed to load or restore)."""
        with self._lock:
            entry = self._entries.pop(name, None)
        if entry is not None:
            entry.path.unlink(missing_ok=True)

    # ---- writing ----------------------------------------------------------------------
    def put(self, tokens: Sequence[int], data: bytes | bytearray) -> None:
        """Queue a state for writing; returns at once (``data`` is kept, not copied: don't change it).

        States that this one extends (earlier turns of the same conversation) are dropped.
        """
        if len(tokens) < MIN_TOKENS or not data or len(data) > self.budget:
            return
        kept = array("i", tokens)
        digest = hashlib.sha256(kept.tobytes()).hexdigest()[:32]
        name = digest + SUFFIX
        superseded: list[_Entry] = []
        with self._lock:
            for other_name, other in list(self._entries.items()):
                if other.foreign or other_name == name:
                    continue
                if len(other.tokens) <= len(kept) and kept[: len(other.tokens)] == other.tokens:
                    superseded.append(self._entries.pop(other_name))
            self._entries[name] = _Entry(self.folder / name, kept, len(data), time.time(), pending=data)
            self._writing += 1
        for entry in superseded:
            entry.path.unlink(missing_ok=True)
        self._queue.put(name)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued state is on disk; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._writing == 0, timeout)

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        self._queue.put(None)
        self._writer.join()

    @property
    def disk_bytes(self) -> int:
        """Bytes the indexed states take (written or queued)."""
        with self._lock:
            return sum(entry.size for entry in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _write_loop(self) -> None:
        _lower_priority()
        while True:
            name = self._queue.get()
            if name is None:
                return
            try:
                with self._lock:
                    entry = self._entries.get(name)
                    data = entry.pending if entry is not None else None
                if entry is not None and data is not None:
                    self._write_file(entry.path, encode(self.key, entry.tokens, data))
                    with self._lock:
                        entry.size = entry.path.stat().st_size
                        entry.pending = None
                        if self._entries.get(name) is not entry:
                            entry.path.unlink(missing_ok=True)  # superseded while it was written
                    self._evict()
            except OSError:
                self.discard(name)  # disk full or unwritable: the state just isn't kept
            finally:
                with self._idle:
                    self._writing -= 1
                    self._idle.notify_all()

    def _write_file(self, path: Path, parts: list[bytes | bytearray]) -> None:
        """Temp file in the same folder, then an atomic rename (no fsync: a lost state is only slower)."""
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                for part in parts:
                    handle.write(part)
            replace_with_retry(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _evict(self) -> None:
        """Delete least recently used states until the written ones fit the budget."""
        with self._lock:
            written = sorted((e.used, name) for name, e in self._entries.items() if e.pending is None)
            total = sum(self._entries[name].size for _, name in written)
            doomed: list[_Entry] = []
            for _, name in written:
                if total <= self.budget:
                    break
                entry = self._entries.pop(name)
                total -= entry.size
                doomed.append(entry)
        for entry in doomed:
            entry.path.unlink(missing_ok=True)


def _lower_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux threads have their own nice value).

    On a machine with few cores a checksum and a write competing with llama.cpp's threads slow
    the next prompt far more than their own CPU time; at nice 19 they only use idle time.
    """
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:
            pass


def flush_all(timeout: float) -> None:
    """Wait (at most ``timeout`` seconds in all) for every store's queued writes: the engine's process is ending."""
    deadline = time.monotonic() + timeout
    for store in list(_LIVE):
        store.flush(max(0.0, deadline - time.monotonic()))
