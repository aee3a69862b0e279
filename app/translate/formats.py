"""Documents as lists of segments that can be written back translated.

Each kind keeps the structure of its format and changes only text: TXT and Markdown
through a :class:`~app.translate.segments.TextTemplate` (byte-identical when nothing
changes), DOCX paragraph by paragraph inside the original package (styles, tables,
images untouched), HTML text node by text node inside the parsed tree.

A segment whose translation is missing (cancelled) or equal to its source is left
exactly as it was, formatting included.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from app.base.files import NotAFileError, regular_file
from app.documents import archive
from app.documents.textfile import TextDecodeError, decode_bytes
from app.translate.segments import TextTemplate, has_words, restore_inline, split_markdown, split_plain_text

__all__ = [
    "SUPPORTED_SUFFIXES", "DocumentError", "DocxDocument", "HtmlDocument", "SourceDocument", "TextDocument",
    "document_from_text", "load_document", "parse_document",
]

SUPPORTED_SUFFIXES: dict[str, str] = {
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown",
    ".docx": "docx", ".html": "html", ".htm": "html", ".xhtml": "html",
}
MAX_BYTES = 64 * 1024 * 1024


class DocumentError(ValueError):
    """A file that cannot be translated; the message is one line for the user."""


class SourceDocument:
    """What the pipeline needs: segments in, a translated file out."""

    kind = "text"
    suffix = ".txt"

    def __init__(self, name: str, segments: list[str]) -> None:
        self.name = name
        self.segments = segments

    def fix(self, index: int, translation: str) -> tuple[str, bool]:
        """Repair what the format protects (Markdown code and links); False if it could not."""
        return translation, True

    def render(self, translations: Sequence[str | None]) -> bytes:
        """The translated document in its own format; plain UTF-8 text unless a subclass knows better."""
        return self.render_text(translations).encode("utf-8")

    def render_text(self, translations: Sequence[str | None]) -> str:
        """The translated document as text (for DOCX/HTML: the segments, one per paragraph)."""
        return "\n\n".join(t if t is not None else s for s, t in zip(self.segments, translations, strict=True))


class TextDocument(SourceDocument):
    """Plain text or Markdown: a template of literal text and segments."""

    def __init__(self, name: str, text: str, markdown: bool = False, encoding: str = "utf-8") -> None:
        self.template: TextTemplate = split_markdown(text) if markdown else split_plain_text(text)
        super().__init__(name, self.template.segments)
        self.kind = "markdown" if markdown else "text"
        self.suffix = ".md" if markdown else ".txt"
        self.encoding = encoding

    def fix(self, index: int, translation: str) -> tuple[str, bool]:
        if self.kind != "markdown":
            return translation, True
        return restore_inline(self.segments[index], translation)

    def render_text(self, translations: Sequence[str | None]) -> str:
        return self.template.render(translations)

    def render(self, translations: Sequence[str | None]) -> bytes:
        """In the source's encoding (BOM included) when the translation fits it, else UTF-8."""
        text = self.render_text(translations)
        try:
            return text.encode(self.encoding)
        except (UnicodeEncodeError, LookupError):  # e.g. Korean into a GBK file
            return text.encode("utf-8")


def _lead_trail(text: str) -> tuple[str, str]:
    stripped = text.strip()
    if not stripped:
        return text, ""
    start = text.find(stripped)
    return text[:start], text[start + len(stripped):]


class DocxDocument(SourceDocument):
    """Every paragraph with words (body, tables, headers, footers) is a segment.

    Each render starts again from the original bytes, so rendering twice (after a cancel,
    into another language) never mixes translations.
    """

    kind = "docx"
    suffix = ".docx"

    def __init__(self, name: str, data: bytes) -> None:
        self._data = data
        document = self._open(data, name)
        try:
            items = _paragraph_runs(document)
        except DocumentError as exc:  # too many paragraphs
            raise DocumentError(f"{name}: {exc}") from exc
        self._full = [text for _, text in items]
        super().__init__(name, [text.strip() for text in self._full])

    @staticmethod
    def _open(data: bytes, name: str) -> Any:
        try:
            import docx  # noqa: PLC0415 - only DOCX needs python-docx

            return docx.Document(io.BytesIO(data))
        except Exception as exc:  # zip, XML and package errors all mean "not a DOCX"
            raise DocumentError(f"{name} is not a valid DOCX file ({type(exc).__name__})") from exc

    def render(self, translations: Sequence[str | None]) -> bytes:
        doc = self._open(self._data, self.name)
        for (runs, _), full, source, text in zip(_paragraph_runs(doc), self._full, self.segments, translations,
                                                     strict=True):
            if text is None or text == source:
                continue
            lead, trail = _lead_trail(full)
            _write_runs(runs, lead + text + trail)
        buffer = io.BytesIO()
        doc.save(buffer)
        return buffer.getvalue()


def _paragraph_runs(doc: Any) -> list[tuple[list[Any], str]]:
    """(text-bearing runs, text) of every paragraph with words, in reading order."""
    seen: set[Any] = set()  # table cells (their XML elements, kept alive so identity holds)
    containers: list[Any] = [doc]
    for section in doc.sections:
        for part in (section.header, section.first_page_header, section.even_page_header,
                     section.footer, section.first_page_footer, section.even_page_footer):
            if not part.is_linked_to_previous:  # linked ones have no text of their own
                containers.append(part)
    items: list[tuple[list[Any], str]] = []
    seen_paragraphs = 0
    for container in containers:
        for paragraph in _walk(container, seen):
            seen_paragraphs += 1
            if seen_paragraphs > archive.MAX_PARAGRAPHS:  # empty ones count too: each costs time
                raise DocumentError(archive.too_many_paragraphs())
            runs = paragraph._p.xpath("./w:r | ./w:hyperlink/w:r | ./w:ins/w:r | ./w:smartTag/w:r")
            text = "".join(_run_text(r) for r in runs)
            if has_words(text):
                items.append((runs, text))
    return items


def _walk(container: Any, seen: set[Any]) -> Iterator[Any]:
    """Paragraphs in reading order, into tables and nested tables; merged cells once."""
    from docx.table import Table  # noqa: PLC0415
    from docx.text.paragraph import Paragraph  # noqa: PLC0415

    for item in container.iter_inner_content():
        if isinstance(item, Paragraph):
            yield item
        elif isinstance(item, Table):
            for row in item.rows:
                for cell in row.cells:
                    if cell._tc in seen:
                        continue
                    seen.add(cell._tc)
                    yield from _walk(cell, seen)


_TEXT_TAGS = ("t", "tab", "br", "cr", "noBreakHyphen", "ptab")


def _run_text(r: Any) -> str:
    return str(r.text)


def _write_runs(runs: list[Any], text: str) -> None:
    """The translation goes into the first run that had text (keeping its formatting); the
    text of the other runs is removed, their pictures and page breaks stay."""
    from docx.oxml.ns import qn  # noqa: PLC0415
    from docx.oxml.text.run import _RunContentAppender  # noqa: PLC0415

    tags = {qn(f"w:{t}") for t in _TEXT_TAGS}
    first = None
    for r in runs:
        had_text = bool(_run_text(r))
        for child in list(r):
            page_break = child.tag == qn("w:br") and child.get(qn("w:type")) not in (None, "textWrapping")
            if child.tag in tags and not page_break:
                r.remove(child)
        if had_text and first is None:
            first = r
    if first is None:
        first = runs[0]
    _RunContentAppender.append_to_run_from_text(first, text)


_SKIP_TAGS = frozenset({"script", "style", "code", "pre", "kbd", "samp", "textarea", "template", "noscript",
                        "svg", "math", "head"})


def _text_nodes(root: Any) -> Iterator[tuple[Any, bool]]:
    """Every string under ``root`` in document order, and whether it lies inside a skipped tag.

    One walk with a stack: asking each string for its parents is quadratic in nested markup.
    """
    from bs4.element import Tag  # noqa: PLC0415

    stack: list[tuple[Iterator[Any], bool]] = [(iter(root.contents), False)]
    while stack:
        children, skipped = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
        elif isinstance(child, Tag):
            stack.append((iter(child.contents), skipped or child.name in _SKIP_TAGS))
        else:
            yield child, skipped


class HtmlDocument(SourceDocument):
    """Text nodes with words, outside code, scripts and styles (and the <head>, except its title)."""

    kind = "html"
    suffix = ".html"

    def __init__(self, name: str, text: str) -> None:
        from bs4 import BeautifulSoup  # noqa: PLC0415
        from bs4.element import NavigableString, PreformattedString  # noqa: PLC0415

        self.soup: Any = BeautifulSoup(text, "html.parser")
        self.nodes: list[Any] = []
        segments: list[str] = []
        for node, skipped in _text_nodes(self.soup):
            if not isinstance(node, NavigableString) or isinstance(node, PreformattedString):
                continue  # comments, doctype, CDATA
            if skipped and (node.parent is None or node.parent.name != "title"):
                continue
            if has_words(str(node)):
                self.nodes.append(node)
                segments.append(" ".join(str(node).split()))
        super().__init__(name, segments)

    def render(self, translations: Sequence[str | None]) -> bytes:
        replaced: list[tuple[Any, Any]] = []
        for node, source, text in zip(self.nodes, self.segments, translations, strict=True):
            if text is None or text == source:
                continue
            lead, trail = _lead_trail(str(node))
            new = type(node)(lead + text + trail)
            node.replace_with(new)
            replaced.append((node, new))
        try:
            return bytes(self.soup.encode("utf-8"))
        finally:  # put the source back: the tree stays reusable (render may run again)
            for node, new in replaced:
                new.replace_with(node)


def document_from_text(text: str, kind: str = "text", name: str = "text") -> SourceDocument:
    """A document from text the user typed or pasted."""
    if kind == "html":
        return HtmlDocument(name, text)
    return TextDocument(name, text, markdown=kind == "markdown")


def parse_document(data: bytes, kind: str, name: str) -> SourceDocument:
    """A document from a file's bytes; DocumentError with a one-line reason when it cannot be."""
    if not data.strip():
        raise DocumentError(f"{name} is empty")
    if kind == "docx":
        refusal = archive.zip_refusal(io.BytesIO(data))  # a zip bomb or millions of elements, before python-docx
        if refusal is not None:
            raise DocumentError(f"{name}: {refusal}")
        document: SourceDocument = DocxDocument(name, data)
    else:
        try:
            decoded = decode_bytes(data)
        except TextDecodeError as exc:
            raise DocumentError(f"{name} is not a text file: {exc}") from exc
        if kind == "html":
            document = HtmlDocument(name, decoded.text)
        else:
            document = TextDocument(name, decoded.text, kind == "markdown", decoded.encoding)
    if not document.segments:
        raise DocumentError(f"{name} has no text to translate")
    return document


def load_document(path: Path) -> SourceDocument:
    """Read a TXT, Markdown, DOCX or HTML file."""
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        shown = path.suffix or "(no extension)"
        raise DocumentError(f"{path.name}: unsupported file type {shown}; "
                            "Kestrel translates TXT, Markdown, DOCX and HTML files")
    try:
        size = regular_file(path).st_size  # a pipe or a device is refused before read_bytes() can block
    except NotAFileError as exc:
        raise DocumentError(f"file not found: {path}" if exc.missing else str(exc)) from exc
    if size > MAX_BYTES:
        raise DocumentError(f"{path.name} is too large to translate ({size / 2**20:,.0f} MiB)")
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise DocumentError(f"file not found: {path}") from exc
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_document(data, kind, path.name)
