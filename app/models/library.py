"""The list of models Kestrel knows about, kept in one JSON file.

Files are referenced where they are (linked in place, never copied), and each entry
records where it came from so that "delete" only ever removes what Kestrel itself
downloaded or produced.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from app.base import paths
from app.base.atomic import write_atomic
from app.gguf.reader import GGUFError, GGUFInfo, read_gguf_info

Source = Literal["starter", "imported", "discovered", "downloaded", "quantized"]
OWNED: frozenset[str] = frozenset({"downloaded", "quantized"})  # files Kestrel made and may delete


@dataclass(frozen=True)
class LibraryEntry:
    """A model file known to Kestrel."""

    path: str
    source: Source
    added_at: float


@dataclass(frozen=True)
class ModelListing:
    """An entry with what its header says (or why it cannot be read)."""

    entry: LibraryEntry
    info: GGUFInfo | None
    problem: str | None
    is_default: bool


class Library:
    """Reads and writes ``models.json`` in the data folder."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / "models.json"

    def entries(self) -> list[LibraryEntry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            return []  # a damaged list is rebuilt as models are used again
        out: list[LibraryEntry] = []
        for item in raw.get("models", []) if isinstance(raw, dict) else []:
            try:
                out.append(LibraryEntry(str(item["path"]), item["source"], float(item["added_at"])))
            except (KeyError, TypeError, ValueError):
                continue
        return out

    def add(self, path: Path, source: Source) -> LibraryEntry:
        """Register a file (idempotent: an existing entry is kept as it is)."""
        resolved = str(Path(path).expanduser().absolute())
        entries = self.entries()
        for entry in entries:
            if entry.path == resolved or Path(entry.path).resolve() == Path(resolved).resolve():
                return entry
        entry = LibraryEntry(resolved, source, time.time())
        self._save([*entries, entry])
        return entry

    def remove(self, path: Path) -> None:
        target = Path(path).expanduser().resolve()
        self._save([e for e in self.entries() if Path(e.path).resolve() != target])

    def delete(self, path: Path) -> None:
        """Delete a model file Kestrel downloaded or produced; others are only removed from the list."""
        target = Path(path).expanduser().resolve()
        entry = next((e for e in self.entries() if Path(e.path).resolve() == target), None)
        if entry is None:
            raise KeyError(str(target))
        if entry.source not in OWNED:
            raise PermissionError(f"{target.name} was not downloaded by Kestrel; it is only removed "
                                  "from the list, never deleted")
        target.unlink(missing_ok=True)
        self.remove(target)

    def sync_discovered(self) -> int:
        """Add GGUFs found in the Hugging Face cache and LM Studio's folders; returns how many are new."""
        from app.models.discovery import discover  # noqa: PLC0415

        known = {Path(e.path).resolve() for e in self.entries()}
        added = 0
        for found in discover():
            if found.path.resolve() not in known:
                self.add(found.path, "discovered")
                added += 1
        return added

    def listings(self, default_path: Path | None = None) -> list[ModelListing]:
        """Every entry with its GGUF header read (bounded and fast)."""
        default = default_path.resolve() if default_path else None
        out: list[ModelListing] = []
        for entry in self.entries():
            info: GGUFInfo | None = None
            problem: str | None = None
            try:
                info = read_gguf_info(entry.path)
            except GGUFError as exc:
                problem = exc.reason
            out.append(ModelListing(entry, info, problem, Path(entry.path).resolve() == default))
        return out

    def _save(self, entries: list[LibraryEntry]) -> None:
        write_atomic(self.path, json.dumps({"version": 1, "models": [asdict(e) for e in entries]}, indent=2))
