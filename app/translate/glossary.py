"""A user's glossary: terms that must be translated one fixed way, or kept as they are.

Product names, people and jargon are where small models go wrong and where users
care most. Each request lists only the entries whose term occurs in the segment
(a long glossary would crowd out the text), and every translation is checked: an
entry whose required form is missing from the output is reported, never silently
accepted.

Stored as JSON (``[{"term": ..., "translation": ..., "keep": false}, ...]``) or as
TSV (``term<TAB>translation``; an empty translation means "keep as is").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.base.atomic import write_atomic
from app.base.files import NotAFileError, regular_file

__all__ = ["Glossary", "GlossaryEntry", "GlossaryError"]


class GlossaryError(ValueError):
    """A glossary file that cannot be read; the message is one line for the user."""


@dataclass(frozen=True)
class GlossaryEntry:
    """One term and what it must become in the translation."""

    term: str
    translation: str = ""
    keep: bool = False  # keep the term exactly as it is (names, brands)

    @property
    def required(self) -> str:
        """The text the translation must contain."""
        return self.term if self.keep or not self.translation else self.translation

    @property
    def valid(self) -> bool:
        return bool(self.term.strip()) and (self.keep or bool(self.translation.strip()))

    def prompt_line(self) -> str:
        if self.keep or not self.translation:
            return f'- "{self.term}": keep as is'
        return f'- "{self.term}": "{self.translation}"'


def _pattern(term: str) -> re.Pattern[str]:
    """Whole words for alphabetic scripts; plain substrings where words are not spaced (CJK)."""
    escaped = re.escape(term.strip())
    first, last = term.strip()[0], term.strip()[-1]
    left = r"(?<!\w)" if first.isascii() and first.isalnum() else ""
    right = r"(?!\w)" if last.isascii() and last.isalnum() else ""
    return re.compile(left + escaped + right, re.IGNORECASE)


class Glossary:
    """An ordered list of entries; invalid rows (no term, no translation) are kept but ignored."""

    def __init__(self, entries: Iterable[GlossaryEntry] = ()) -> None:
        self.entries: list[GlossaryEntry] = list(entries)

    def __len__(self) -> int:
        return len(self.active())

    def active(self) -> list[GlossaryEntry]:
        """Entries that can be applied (a term, and a translation or "keep")."""
        seen: set[str] = set()
        out: list[GlossaryEntry] = []
        for entry in self.entries:
            key = entry.term.strip().lower()
            if entry.valid and key not in seen:
                seen.add(key)
                out.append(entry)
        return out

    def matching(self, text: str) -> list[GlossaryEntry]:
        """Entries whose term occurs in ``text``, longest terms first."""
        found = [e for e in self.active() if _pattern(e.term).search(text)]
        return sorted(found, key=lambda e: -len(e.term))

    def missing(self, source: str, translation: str) -> list[GlossaryEntry]:
        """Entries used by ``source`` whose required form is absent from ``translation``.

        Kept terms (names, brands) must appear exactly; fixed translations in any case, since
        a sentence may start with one.
        """
        lowered = translation.lower()
        return [e for e in self.matching(source)
                if (e.required.strip() not in translation if e.keep
                    else e.required.strip().lower() not in lowered)]

    def prompt(self, text: str) -> str:
        """The glossary lines for one request ("" when no term occurs in ``text``)."""
        entries = self.matching(text)
        if not entries:
            return ""
        return "Use these fixed translations:\n" + "\n".join(e.prompt_line() for e in entries)

    # ---- files -----------------------------------------------------------------------
    def to_json(self) -> str:
        rows = [{"term": e.term, "translation": e.translation, "keep": e.keep} for e in self.entries]
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Glossary:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise GlossaryError(f"not valid JSON ({exc})") from exc
        if isinstance(raw, dict):  # {"term": "translation"} is accepted too
            raw = [{"term": k, "translation": v if isinstance(v, str) else "", "keep": v is None or v == ""}
                   for k, v in raw.items()]
        if not isinstance(raw, list):
            raise GlossaryError("a glossary must be a JSON list of {term, translation, keep} objects")
        entries: list[GlossaryEntry] = []
        for n, item in enumerate(raw, 1):
            if not isinstance(item, dict) or not isinstance(item.get("term"), str):
                raise GlossaryError(f"entry {n} has no text \"term\"")
            translation = item.get("translation") or ""
            if not isinstance(translation, str):
                raise GlossaryError(f"entry {n}: \"translation\" must be text")
            keep = bool(item.get("keep", False)) or not translation.strip()
            entries.append(GlossaryEntry(item["term"], translation, keep))
        return cls(entries)

    def to_tsv(self) -> str:
        return "".join(f"{e.term}\t{'' if e.keep else e.translation}\n" for e in self.entries)

    @classmethod
    def from_tsv(cls, text: str) -> Glossary:
        entries: list[GlossaryEntry] = []
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            term, _, translation = line.partition("\t")
            translation = translation.strip()
            entries.append(GlossaryEntry(term.strip(), translation, keep=not translation))
        return cls(entries)

    @classmethod
    def load(cls, path: Path) -> Glossary:
        """Read a ``.json`` or ``.tsv``/``.txt`` glossary; GlossaryError with the reason otherwise."""
        path = Path(path)
        try:
            regular_file(path, "glossary")  # a pipe or a device is refused before read_text() can block
        except NotAFileError as exc:
            raise GlossaryError(f"glossary file not found: {path}" if exc.missing else str(exc)) from exc
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise GlossaryError(f"glossary file not found: {path}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise GlossaryError(f"cannot read glossary {path}: {exc}") from exc
        if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
            try:
                return cls.from_json(text)
            except GlossaryError as exc:
                raise GlossaryError(f"glossary {path.name}: {exc}") from exc
        return cls.from_tsv(text)

    def save(self, path: Path) -> None:
        """Write atomically (JSON unless the name ends in .tsv or .txt)."""
        path = Path(path)
        text = self.to_tsv() if path.suffix.lower() in (".tsv", ".txt") else self.to_json()
        write_atomic(path, text)
