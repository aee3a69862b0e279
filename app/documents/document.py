"""What reading a document produces: its sections, and the errors that say why it could not be read.

Shared by the entry points (``app.documents.extract``) and every format reader, so a
reader never needs the entry points and the entry points never need a reader's insides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED_TEXT = "PDF, DOCX, TXT, Markdown, HTML or RTF"


class ExtractionError(Exception):
    """A document that cannot be read, with the reason in words."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


class EmptyDocumentError(ExtractionError):
    """The file is empty or holds no text."""


class UnsupportedFileError(ExtractionError):
    """A binary file, or a type Kestrel cannot read."""


class EncryptedDocumentError(ExtractionError):
    """The document needs a password."""


class CorruptDocumentError(ExtractionError):
    """The file claims a format but its contents are damaged."""


class NeedsOCRError(ExtractionError):
    """A PDF made of images only: there is no text to read without OCR."""


class TooLargeDocumentError(ExtractionError):
    """More than Kestrel reads: a zip bomb, millions of paragraphs, a page too large to hold."""


@dataclass(frozen=True)
class Section:
    """A page, a headed section or a run of paragraphs/lines, in document order."""

    index: int
    label: str  # "p. 3", "§ Introduction", "¶ 1–14", "ll. 1–120"
    text: str


@dataclass
class ExtractedDocument:
    """What was read; ``iter_sections()`` works for every document, ``sections`` only for small ones."""

    name: str
    kind: str  # pdf | docx | text | markdown | html | rtf | pasted
    characters: int
    path: Path | None = None
    pages: int | None = None
    large: bool = False
    encoding: str | None = None
    size_bytes: int = 0
    section_count: int = 0
    _sections: list[Section] | None = field(default=None, repr=False)
    _stream: Callable[[], Iterator[Section]] | None = field(default=None, repr=False)
    _sha256: str = field(default="", repr=False)

    def iter_sections(self) -> Iterator[Section]:
        """Sections in order; for a large file this re-reads it lazily each time."""
        if self._sections is not None:
            return iter(self._sections)
        assert self._stream is not None
        return self._stream()

    @property
    def sections(self) -> list[Section]:
        """All sections in memory (small documents only: large ones must be iterated)."""
        if self._sections is None:
            raise ValueError("a large document is streamed; use iter_sections()")
        return self._sections

    @property
    def text(self) -> str:
        """The whole text (small documents only)."""
        return "\n\n".join(s.text for s in self.sections)

    def sha256(self) -> str:
        """Identity of the extracted text (labels included): the summary cache key."""
        if not self._sha256:
            self._sha256, _, _ = digest(self.iter_sections())
        return self._sha256

    def sample(self, chars: int = 20000) -> str:
        """The first ``chars`` characters, to estimate tokens and detect the language."""
        parts: list[str] = []
        total = 0
        for section in self.iter_sections():
            parts.append(section.text)
            total += len(section.text)
            if total >= chars:
                break
        return "\n\n".join(parts)[:chars]


def digest(sections: Iterable[Section]) -> tuple[str, int, int]:
    """SHA-256 of the sections (labels included), their characters and their count, in one pass."""
    sha = hashlib.sha256()
    chars = count = 0
    for section in sections:
        sha.update(section.label.encode("utf-8") + b"\x00" + section.text.encode("utf-8") + b"\x01")
        chars += len(section.text)
        count += 1
    return sha.hexdigest(), chars, count
