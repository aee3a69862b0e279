"""How paragraphs and headings become sections: the builder every reader feeds, and the
splitter for plain text and Markdown.

Headed text gets one section per heading ("§ Methods"); paragraphs without headings are
grouped into sections of about ``SECTION_CHARS`` labelled by paragraph or line numbers
("¶ 1–14", "ll. 1–120"), so a summary can say where each point came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from app.documents.document import Section

SECTION_CHARS = 6000  # paragraphs without headings are grouped into sections about this long
_CHAPTER = re.compile(r"^\s*(?:chapter|part|book)\s+(?:\d+|[ivxlcdm]+|one|two|three|four|five|six|seven|eight|"
                      r"nine|ten)\b[^.!?]{0,60}$", re.IGNORECASE)  # only as a paragraph of its own
_CHAPTER_CJK = re.compile(
    r"^\s*第[0-9０-９一二三四五六七八九十百千零〇两]+[章节回部篇卷](?:\s.{0,24}|[^。，！？]{0,24})$")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")


class SectionBuilder:
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
        """End the current section; a heading with no text under it is dropped with it."""
        if self._parts:
            if self._heading is not None:
                label = self._heading
            elif self._first == self._last:
                label = f"{'l.' if self.unit == 'll.' else self.unit} {self._first}"
            else:
                label = f"{self.unit} {self._first}–{self._last}"
            self.out.append(Section(self._index, label, "\n\n".join(self._parts)))
            self._index += 1
        self._heading = None
        self._parts, self._chars = [], 0

    def take(self) -> list[Section]:
        out, self.out = self.out, []
        return out


def text_sections(blocks: Iterable[str], markdown: bool) -> Iterator[Section]:
    """Sections of plain text or Markdown from decoded blocks, tracking line numbers."""
    builder = SectionBuilder("ll.")
    line = 1
    pending = ""
    in_fence = False
    for raw in blocks:
        if not raw:
            continue
        block = pending + raw.replace("\r\n", "\n").replace("\r", "\n")
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


def _split_paragraphs(text: str) -> Iterator[str]:
    """Paragraphs with their trailing newlines kept, so line counting stays exact."""
    pos = 0
    for match in BLANK_LINES.finditer(text):
        yield text[pos: match.end()]
        pos = match.end()
    if pos < len(text):
        yield text[pos:]


def _add_text_paragraph(builder: SectionBuilder, para: str, line: int, markdown: bool, in_fence: bool) -> bool:
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
