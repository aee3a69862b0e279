"""HTML pages as sections, read in one streaming pass: scripts and styles dropped, h1-h6 start
sections, block elements become paragraphs numbered as ¶.

Why a streaming parser (lxml's HTML parser feeding events to ``_PageText``) and no tree:
every step is linear in the page's size, whatever its shape. Editing a BeautifulSoup tree
(``insert_before`` looks the tag up among its siblings) took minutes on a page of 20,000
``<div>``s, and the stdlib parser is quadratic on some malformed markup (``"<!--" * 50000``).
"""

from __future__ import annotations

import re
from pathlib import Path

from app.documents.document import SUPPORTED_TEXT, CorruptDocumentError, Section, UnsupportedFileError
from app.documents.sections import BLANK_LINES, SectionBuilder
from app.documents.textfile import TextDecodeError, decode_bytes

_BLOCK_TAGS = frozenset({
    "p", "div", "li", "tr", "section", "article", "blockquote", "pre", "table", "ul", "ol", "dt", "dd", "header",
    "footer", "main", "nav", "aside", "figure", "figcaption", "form", "hr", "address", "details", "summary"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe", "object"})
_HEADING_MARK = "\ue000"  # private-use: starts a heading's paragraph, is not whitespace
MAX_HEADING_CHARS = 200  # a longer "heading" (an unclosed <h1>) is kept as text, not cut to a label


class _PageText:
    """lxml parser target: collects the page's text with paragraph breaks, in one pass."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.skipping = 0  # depth inside elements whose content is not text (script, style, head, ...)
        self.heading: list[str] | None = None
        self.heading_depth = 0

    def start(self, tag: str, attrib: object) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif self.skipping:
            return
        elif tag in _HEADINGS:
            self.heading_depth += 1
            if self.heading is None:
                self.heading = []
        elif tag == "br" or tag in _BLOCK_TAGS:
            self._add("\n" if tag == "br" else "\n\n")

    def end(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif self.skipping:
            return
        elif tag in _HEADINGS and self.heading is not None:
            self.heading_depth -= 1
            if self.heading_depth <= 0:
                self._end_heading()
        elif tag in ("td", "th"):
            self._add(" | ")
        elif tag in _BLOCK_TAGS:
            self._add("\n\n")

    def data(self, data: str) -> None:
        if not self.skipping:
            self._add(data)

    def close(self) -> str:
        if self.heading is not None:
            self._end_heading()
        return "".join(self.parts)

    def _add(self, text: str) -> None:
        if self.heading is None:
            self.parts.append(text)
        else:
            self.heading.append(" " if text.isspace() else text)

    def _end_heading(self) -> None:
        assert self.heading is not None
        text = " ".join("".join(self.heading).split())
        self.heading, self.heading_depth = None, 0
        if len(text) > MAX_HEADING_CHARS:
            self.parts.append(f"\n\n{text}\n\n")
        elif text:
            self.parts.append(f"\n\n{_HEADING_MARK}{text}\n\n")


def read_html(path: Path, data: bytes) -> list[Section]:
    """The page's text in sections; the encoding a ``<meta charset>`` declares wins over guessing."""
    from lxml import etree  # noqa: PLC0415 - only HTML needs it

    parser = etree.HTMLParser(target=_PageText(), encoding="utf-8", no_network=True)
    try:
        parser.feed(_decode(path, data).encode("utf-8", errors="replace"))
        text: str = parser.close()
    except etree.LxmlError as exc:
        raise CorruptDocumentError(path, "the HTML page cannot be read") from exc
    builder = SectionBuilder("¶")
    number = 0
    for raw in BLANK_LINES.split(text):
        lines = [" ".join(line.split()) for line in raw.split("\n")]
        para = "\n".join(line for line in lines if line).strip(" |")
        if para.startswith(_HEADING_MARK):
            builder.heading(para[1:])
        elif para:
            number += 1
            builder.paragraph(para, number)
    builder.flush()
    return builder.take()


def _decode(path: Path, data: bytes) -> str:
    match = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", data[:4096], re.IGNORECASE)
    if match:
        declared = match.group(1).decode("ascii").lower()
        declared = "gb18030" if declared in ("gb2312", "gbk") else declared
        try:
            return data.decode(declared, errors="replace")
        except LookupError:
            pass
    try:
        return decode_bytes(data).text
    except TextDecodeError as exc:
        raise UnsupportedFileError(path, f"{exc}; Kestrel reads {SUPPORTED_TEXT}") from exc
