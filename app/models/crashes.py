"""Models that stopped the engine: remembered so the next start does not load them again.

A model whose load or reply killed the engine's process (a native assert, a crash, out
of memory) is recorded with the reason; the window does not load it automatically at
its next start and says why. Loading it successfully again (the user chose it) clears
the record. Records are keyed by the file's resolved path and checked against its size
and modification time, so a replaced file is given a fresh chance.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from app.base import paths
from app.base.atomic import write_atomic


def _file() -> Path:
    return paths.data_dir() / "engine_crashes.json"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _identity(path: Path) -> tuple[str, int, int] | None:
    try:
        resolved = path.expanduser().resolve()
        st = resolved.stat()
    except OSError:
        return None
    return str(resolved), st.st_size, int(st.st_mtime)


def record(path: Path, reason: str) -> None:
    """Remember that ``path`` stopped the engine, and why."""
    identity = _identity(path)
    if identity is None:
        return
    key, size, mtime = identity
    data = _read()
    data[key] = {"size": size, "mtime": mtime, "reason": reason, "at": time.time()}
    write_atomic(_file(), json.dumps(data, indent=1))


def clear(path: Path) -> None:
    """Forget a record: the model loaded fine."""
    identity = _identity(path)
    data = _read()
    if identity is None or identity[0] not in data:
        return
    del data[identity[0]]
    write_atomic(_file(), json.dumps(data, indent=1))


def crash_reason(path: Path) -> str | None:
    """Why ``path`` stopped the engine last time, or None when it did not (or the file changed since)."""
    identity = _identity(path)
    if identity is None:
        return None
    entry = _read().get(identity[0])
    if not isinstance(entry, dict) or (entry.get("size"), entry.get("mtime")) != identity[1:]:
        return None
    reason = entry.get("reason")
    return reason if isinstance(reason, str) else "it stopped the engine"
