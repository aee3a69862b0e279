"""Text out of the documents people drop on Kestrel, with page/section boundaries kept.

Why sections: every point of a summary says where it came from ("p. 3", "§ Methods",
"ll. 120–240"), so extraction keeps the document's own structure instead of one blob.

Formats: PDF (pypdfium2, pypdf as fallback; pdfium is not thread-safe, so its calls
are serialized), DOCX (python-docx, paragraphs and tables in order), HTML (BeautifulSoup
with the stdlib parser), RTF (striprtf), text and Markdown in any encoding
``app.core.textfile`` recognises. Text files above ``LARGE_BYTES`` are never read
whole: their sections are produced lazily, block by block, every time they are needed.

Every failure is an ``ExtractionError`` whose message is one user-facing line.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.core.textfile import TextDecodeError, iter_text, read_text

LARGE_BYTES = 16 * 2**20  # text files above this are streamed (and flagged as slow to summarize)
SECTION_CHARS = 6000  # paragraphs without headings are grouped into sections about this long
SUFFIXES = {".pdf": "pdf", ".docx": "docx", ".txt": "text", ".text": "text", ".md": "markdown",
            ".markdown": "markdown", ".htm": "html", ".html": "html", ".xhtml": "html", ".rtf": "rtf"}
SUPPORTED_TEXT = "PDF, DOCX, TXT, Markdown, HTML or RTF"
_CHAPTER = re.compile(r"^\s*(?:chapter|part|book)\s+(?:\d+|[ivxlcdm]+|one|two|three|four|five|six|seven|eight|"
                      r"nine|ten)\b[^.!?]{0,60}$", re.IGNORECASE)  # only as a paragraph of its own
_CHAPTER_CJK = re.compile(r"^\s*第[0-9０-９一二三四五六七八九十百千零〇两]+[章节回部篇卷](?:\s.{0,24}|[^。，！？]{0,24})$")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")


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
            self._sha256, _, _ = _digest(self.iter_sections())
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


def _digest(sections: Iterable[Section]) -> tuple[str, int, int]:
    sha = hashlib.sha256()
    chars = count = 0
    for section in sections:
        sha.update(section.label.encode("utf-8") + b"\x00" + section.text.encode("utf-8") + b"\x01")
        chars += len(section.text)
        count += 1
    return sha.hexdigest(), chars, count


class _Sections:
    """Builds sections from headings and paragraphs; headless paragraphs are grouped by size."""

    def __init__(self, unit: str) -> None:
        self.unit = unit  # "¶" (paragraph numbers) or "ll." (line numbers)
        self.out: list[Section] = []
        self._heading: str | None = None
        self._parts: list[str] = []
        self._chars = 0
        self._first = self._last = 0
        self._index = 0

    def heading(self, text: str) -> None:
        self.flush()
        text = " ".join(text.split())
        self._heading = "§ " + (text if len(text) <= 60 else text[:57] + "…")

    def paragraph(self, text: str, first: int, last: int | None = None) -> None:
        text = text.strip()
        if not text:
            return
        if self._heading is None and self._parts and self._chars + len(text) > SECTION_CHARS:
            self.flush()
        if not self._parts:
            self._first = first
        self._last = last if last is not None else first
        self._parts.append(text)
        self._chars += len(text) + 2

    def flush(self) -> None:
        if self._parts:
            if self._heading is not None:
                label = self._heading
            elif self._first == self._last:
                label = f"{'l.' if self.unit == 'll.' else self.unit} {self._first}"
            else:
                label = f"{self.unit} {self._first}–{self._last}"
            self.out.append(Section(self._index, label, "\n\n".join(self._parts)))
            self._index += 1
        elif self._heading is not None:
            pass  # a heading with no text under it is dropped with it
        self._heading = None
        self._parts, self._chars = [], 0

    def take(self) -> list[Section]:
        out, self.out = self.out, []
        return out


def _text_sections(blocks: Iterable[str], markdown: bool) -> Iterator[Section]:
    """Sections of plain text or Markdown from decoded blocks, tracking line numbers."""
    builder = _Sections("ll.")
    line = 1
    pending = ""
    in_fence = False
    for block in _join_blocks(blocks):
        block = pending + block.replace("\r\n", "\n").replace("\r", "\n")
        cut = block.rfind("\n\n")
        if cut < 0 and len(block) < 4 * SECTION_CHARS:
            pending = block
            continue
        if cut < 0:
            cut = block.rfind("\n")
        if cut < 0:
            cut = len(block) - 1
        pending = block[cut + 1:]
        for para in _split_paragraphs(block[: cut + 1]):
            start = line + para.count("\n", 0, len(para) - len(para.lstrip("\n")))
            line += para.count("\n")
            in_fence = _add_text_paragraph(builder, para.strip("\n"), start, markdown, in_fence)
        yield from builder.take()
    if pending.strip():
        start = line + pending.count("\n", 0, len(pending) - len(pending.lstrip("\n")))
        _add_text_paragraph(builder, pending.strip("\n"), start, markdown, in_fence)
    builder.flush()
    yield from builder.take()


def _join_blocks(blocks: Iterable[str]) -> Iterator[str]:
    for block in blocks:
        if block:
            yield block


def _split_paragraphs(text: str) -> Iterator[str]:
    """Paragraphs with their trailing newlines kept, so line counting stays exact."""
    pos = 0
    for match in _BLANK_LINES.finditer(text):
        yield text[pos: match.end()]
        pos = match.end()
    if pos < len(text):
        yield text[pos:]


def _add_text_paragraph(builder: _Sections, para: str, line: int, markdown: bool, in_fence: bool) -> bool:
    """Feed one paragraph; headings start sections, long paragraphs are split on lines."""
    if not para.strip():
        return in_fence
    lines = para.split("\n")
    buf: list[str] = []
    buf_start = line
    for offset, text in enumerate(lines):
        if markdown and text.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None
        if markdown and not in_fence:
            match = _MD_HEADING.match(text)
            heading = match.group(2) if match else None
        elif not markdown and ((len(lines) <= 2 and _CHAPTER.match(text)) or _CHAPTER_CJK.match(text)):
            heading = text.strip()
        if heading is not None:
            if buf:
                builder.paragraph("\n".join(buf), buf_start, line + offset - 1)
                buf = []
            builder.heading(heading)
            buf_start = line + offset + 1
            continue
        if not buf:
            buf_start = line + offset
        buf.append(text)
        if sum(len(b) for b in buf) > SECTION_CHARS:
            builder.paragraph("\n".join(buf), buf_start, line + offset)
            buf = []
    if buf:
        builder.paragraph("\n".join(buf), buf_start, line + len(lines) - 1)
    return in_fence


# ---- entry points --------------------------------------------------------------------

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
        if path.is_dir():
            raise UnsupportedFileError(path, "this is a folder, not a document")
        size = path.stat().st_size
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
    from app.core import extract_formats as formats  # noqa: PLC0415 - it imports this module

    if kind == "pdf":
        sections, pages = formats.read_pdf(path)
    elif kind == "docx":
        sections = formats.read_docx(path)
    else:
        data = path.read_bytes()
        if kind == "html":
            sections = formats.read_html(path, data)
        elif kind == "rtf":
            sections = formats.read_rtf(path, data)
        else:
            try:
                decoded = read_text(path)
            except TextDecodeError as exc:
                raise UnsupportedFileError(path, f"{exc}; Kestrel reads {SUPPORTED_TEXT}") from exc
            encoding = decoded.encoding
            sections = list(_text_sections([decoded.text], kind == "markdown"))
    if not sections:
        raise EmptyDocumentError(path, "no text found in the document")
    sha, chars, count = _digest(sections)
    return ExtractedDocument(name=path.name, kind=kind, characters=chars, path=path, pages=pages,
                             encoding=encoding, size_bytes=size, section_count=count,
                             _sections=sections, _sha256=sha)


def _large_text(path: Path, kind: str, size: int) -> ExtractedDocument:
    """A huge text file: one streaming pass to check, count and hash; sections stay lazy."""
    def stream() -> Iterator[Section]:
        return _text_sections(iter_text(path), kind == "markdown")

    try:
        sha, chars, count = _digest(stream())
    except TextDecodeError as exc:
        raise UnsupportedFileError(path, f"{exc}; Kestrel reads {SUPPORTED_TEXT}") from exc
    if count == 0:
        raise EmptyDocumentError(path, "no text found in the document")
    return ExtractedDocument(name=path.name, kind=kind, characters=chars, path=path, large=True,
                             size_bytes=size, section_count=count, _stream=stream, _sha256=sha)


def extract_text(text: str, name: str = "Pasted text") -> ExtractedDocument:
    """A document from pasted text (Markdown headings are honoured)."""
    sections = list(_text_sections([text], markdown=True))
    if not sections:
        raise EmptyDocumentError(Path(name), "there is no text to summarize")
    sha, chars, count = _digest(sections)
    return ExtractedDocument(name=name, kind="pasted", characters=chars, size_bytes=len(text.encode("utf-8")),
                             section_count=count, _sections=sections, _sha256=sha)
