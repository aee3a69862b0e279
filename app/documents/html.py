"""HTML pages as sections (BeautifulSoup with the stdlib parser): scripts and styles dropped,
h1-h6 start sections, block elements become paragraphs numbered as ¶."""

from __future__ import annotations

import re
from pathlib import Path

from app.documents.document import SUPPORTED_TEXT, Section, UnsupportedFileError
from app.documents.sections import BLANK_LINES, SectionBuilder
from app.documents.textfile import TextDecodeError, decode_bytes

_BLOCK_TAGS = ["p", "div", "li", "tr", "section", "article", "blockquote", "pre", "table", "ul", "ol",
               "dt", "dd", "header", "footer", "main", "nav", "aside", "figure", "figcaption", "form",
               "h1", "h2", "h3", "h4", "h5", "h6", "hr", "address", "details", "summary"]
_HEADING_MARK = "\ue000"  # private-use: survives get_text(), is not whitespace


def read_html(path: Path, data: bytes) -> list[Section]:
    """The page's text in sections; the encoding a ``<meta charset>`` declares wins over guessing."""
    from bs4 import BeautifulSoup  # noqa: PLC0415

    soup = BeautifulSoup(_decode(path, data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]):
        tag.decompose()
    for tag in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
        heading = " ".join(tag.get_text(" ").split())
        tag.clear()
        tag.append(f"\n\n{_HEADING_MARK}{heading}\n\n" if heading else "")
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all(["td", "th"]):
        tag.insert_after(" | ")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    builder = SectionBuilder("¶")
    number = 0
    for raw in BLANK_LINES.split(soup.get_text()):
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
