"""Text out of the documents people drop on Kestrel, with page/section boundaries kept.

Why sections: every point of a summary says where it came from ("p. 3", "§ Methods",
"ll. 120–240"), so extraction keeps the document's own structure instead of one blob.

This module picks the reader: PDF (``pdf``), DOCX (``docx``), HTML (``html``), RTF
(``rtf``), text and Markdown in any encoding ``textfile`` recognises (``sections``).
Text files above ``LARGE_BYTES`` are never read whole: their sections are produced
lazily, block by block, every time they are needed.

Every failure is an ``ExtractionError`` whose message is one user-facing line.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from app.base.files import NotAFileError, regular_file
from app.base.units import format_bytes
from app.documents.document import (
    SUPPORTED_TEXT,
    EmptyDocumentError,
    ExtractedDocument,
    ExtractionError,
    Section,
    TooLargeDocumentError,
    UnsupportedFileError,
    digest,
)
from app.documents.docx import read_docx
from app.documents.html import read_html
from app.documents.pdf import read_pdf
from app.documents.rtf import read_rtf
from app.documents.sections import text_sections
from app.documents.textfile import TextDecodeError, iter_text, read_text

LARGE_BYTES = 16 * 2**20  # text files above this are streamed (and flagged as slow to summarize)
MAX_WHOLE_BYTES = 64 * 2**20  # HTML and RTF are read whole: larger ones are refused
SUFFIXES = {".pdf": "pdf", ".docx": "docx", ".txt": "text", ".text": "text", ".md": "markdown",
            ".markdown": "markdown", ".htm": "html", ".html": "html", ".xhtml": "html", ".rtf": "rtf"}


def file_kind(path: Path, head: bytes = b"") -> str | None:
    """The format to read ``path`` as (by suffix; by content when there is none), or None."""
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if suffix:
        return None
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else None
        except (zipfile.BadZipFile, OSError):
            return None
    if re.match(rb"\s*(<!doctype html|<html)", head[:512], re.IGNORECASE):
        return "html"
    return "text"


def refusal(path: Path) -> str | None:
    """Why a dropped file would be refused, judged by its name only (None: worth trying)."""
    suffix = path.suffix.lower()
    if not suffix or suffix in SUFFIXES:
        return None
    if suffix == ".doc":
        return "old Word .doc files are not supported: save it as .docx"
    return f"{suffix} files are not supported: Kestrel reads {SUPPORTED_TEXT}"


def extract(path: Path | str) -> ExtractedDocument:
    """Read a document; raises an ExtractionError subclass with a one-line reason."""
    path = Path(path).expanduser()
    try:
        size = regular_file(path).st_size  # a pipe or a device is refused before open() can block on it
    except NotAFileError as exc:
        if exc.missing:
            raise ExtractionError(path, exc.reason) from exc
        raise UnsupportedFileError(path, exc.reason) from exc
    try:
        with open(path, "rb") as handle:
            head = handle.read(8192)
    except FileNotFoundError as exc:
        raise ExtractionError(path, "file not found") from exc
    except PermissionError as exc:
        raise ExtractionError(path, "permission denied: the file cannot be read") from exc
    except OSError as exc:
        raise ExtractionError(path, f"the file cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        raise EmptyDocumentError(path, "the file is empty")
    reason = refusal(path)
    kind = file_kind(path, head) if reason is None else None
    if kind is None:
        raise UnsupportedFileError(path, reason or f"this is not a document Kestrel can read ({SUPPORTED_TEXT})")
    pages: int | None = None
    encoding: str | None = None
    if kind in ("text", "markdown") and size > LARGE_BYTES:
        return _large_text(path, kind, size)
    if kind in ("html", "rtf") and size > MAX_WHOLE_BYTES:
        raise TooLargeDocumentError(path, f"the {kind.upper()} file is {format_bytes(size)}; Kestrel reads "
                                          f"{kind.upper()} files up to {format_bytes(MAX_WHOLE_BYTES)}")
    if kind == "pdf":
        sections, pages = read_pdf(path)
    elif kind == "docx":
        sections = read_docx(path)
    elif kind == "html":
        sections = read_html(path, path.read_bytes())
    elif kind == "rtf":
        sections = read_rtf(path, path.read_bytes())
    else:
        try:
            decoded = read_text(path)
        except TextDecodeError as exc:
            raise UnsupportedFileError(path, f"{exc}; Kestrel reads {SUPPORTED_TEXT}") from exc
        encoding = decoded.encoding
        sections = list(text_sections([decoded.text], kind == "markdown"))
    if not sections:
        raise EmptyDocumentError(path, "no text found in the document")
    sha, chars, count = digest(sections)
    return ExtractedDocument(name=path.name, kind=kind, characters=chars, path=path, pages=pages,
                             encoding=encoding, size_bytes=size, section_count=count,
                             _sections=sections, _sha256=sha)


def _large_text(path: Path, kind: str, size: int) -> ExtractedDocument:
    """A huge text file: one streaming pass to check, count and hash; sections stay lazy."""
    def stream() -> Iterator[Section]:
        return text_sections(iter_text(path), kind == "markdown")

    try:
        sha, chars, count = digest(stream())
    except TextDecodeError as exc:
        raise UnsupportedFileError(path, f"{exc}; Kestrel reads {SUPPORTED_TEXT}") from exc
    if count == 0:
        raise EmptyDocumentError(path, "no text found in the document")
    return ExtractedDocument(name=path.name, kind=kind, characters=chars, path=path, large=True,
                             size_bytes=size, section_count=count, _stream=stream, _sha256=sha)


def extract_text(text: str, name: str = "Pasted text") -> ExtractedDocument:
    """A document from pasted text (Markdown headings are honoured)."""
    sections = list(text_sections([text], markdown=True))
    if not sections:
        raise EmptyDocumentError(Path(name), "there is no text to summarize")
    sha, chars, count = digest(sections)
    return ExtractedDocument(name=name, kind="pasted", characters=chars, size_bytes=len(text.encode("utf-8")),
                             section_count=count, _sections=sections, _sha256=sha)
