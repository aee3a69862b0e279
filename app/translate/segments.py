"""Cutting plain text and Markdown into translatable segments, and putting them back.

A document becomes a :class:`TextTemplate`: literal text (markup, code, whitespace)
interleaved with slots for segments. Every character of the input lands in exactly
one literal or one segment, so rendering the segments unchanged gives back the input
byte for byte; that is what makes translation safe for structure.

Markdown is read line by line with the CommonMark block rules that matter for
structure: front matter, fenced and indented code, HTML blocks and reference
definitions stay literal; headings, paragraphs, list items, blockquotes and table
cells become segments (their markers stay literal). Inline code and link targets
cannot be cut out without breaking sentences, so they stay in the segment and
:func:`restore_inline` puts the originals back after translation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["TextTemplate", "has_words", "restore_inline", "split_markdown", "split_plain_text"]


@dataclass(frozen=True)
class _Slot:
    index: int
    seps: tuple[str, ...]  # what separated the segment's lines in the source (markup of continuation lines)


class TextTemplate:
    """Literal text and segment slots; ``render`` joins them back together."""

    def __init__(self) -> None:
        self.parts: list[str | _Slot] = []
        self.segments: list[str] = []

    def literal(self, text: str) -> None:
        if text:
            if self.parts and isinstance(self.parts[-1], str):
                self.parts[-1] += text
            else:
                self.parts.append(text)

    def paragraph(self, lines: Sequence[tuple[str, str, str]], words: bool | None = None) -> None:
        """Lines as (prefix, content, suffix-with-line-end); the contents form one segment."""
        contents = [c for _, c, _ in lines]
        text = "\n".join(contents)
        if not (has_words(text) if words is None else words):
            for prefix, content, suffix in lines:
                self.literal(prefix + content + suffix)
            return
        self.literal(lines[0][0])
        seps = tuple(lines[i][2] + lines[i + 1][0] for i in range(len(lines) - 1))
        self.parts.append(_Slot(len(self.segments), seps))
        self.segments.append(text)
        self.literal(lines[-1][2])

    def render(self, translations: Sequence[str | None]) -> str:
        """The document with each segment replaced by its translation (None: the source)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            text = translations[part.index]
            if text is None:
                text = self.segments[part.index]
            lines = text.split("\n")
            if len(lines) == len(part.seps) + 1:
                out.append(lines[0])
                for sep, line in zip(part.seps, lines[1:], strict=True):
                    out.append(sep + line)
            else:  # the translation has another line count: reuse the first separator's markup
                out.append((part.seps[0] if part.seps else " ").join(lines))
        return "".join(out)


_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
_LINK_TARGET = re.compile(r"\]\((?:<[^>\n]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\)")
_AUTOLINK = re.compile(r"<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*|[^<>\s@]+@[^<>\s]+)>")
_INLINE_HTML = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BARE_URL = re.compile(r"https?://\S+")


def has_words(text: str, markdown: bool = False) -> bool:
    """True if something is left to translate once code, URLs and tags are set aside."""
    if markdown:
        for pattern in (_CODE_SPAN, _LINK_TARGET, _AUTOLINK, _INLINE_HTML, _BARE_URL):
            text = pattern.sub(" ", text)
    return any(ch.isalpha() for ch in text)


def restore_inline(source: str, translation: str) -> tuple[str, bool]:
    """Put the source's code spans and link targets back into a translation, in order.

    Returns the fixed text and False when the model changed how many there are (the
    translation is then left as it is and the caller warns).
    """
    ok = True
    for pattern in (_CODE_SPAN, _LINK_TARGET, _AUTOLINK):
        originals = [m.group(0) for m in pattern.finditer(source)]
        found = list(pattern.finditer(translation))
        if len(found) != len(originals):
            ok = False
            continue
        translation = pattern.sub(_in_turn(originals), translation)
    return translation, ok


def _in_turn(items: list[str]) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement that hands out ``items`` one match after another."""
    remaining = iter(items)
    return lambda _match: next(remaining)


def _split_line(line: str) -> tuple[str, str]:
    """A line and its line ending."""
    body = line.rstrip("\r\n")
    return body, line[len(body):]


def _pieces(body: str, eol: str, prefix_len: int) -> tuple[str, str, str]:
    """(prefix, content, suffix) where the prefix is markup plus leading blanks."""
    head = body[:prefix_len]
    rest = body[prefix_len:]
    stripped = rest.strip()
    if not stripped:
        return body, "", eol
    lead = len(rest) - len(rest.lstrip())
    trail = rest[lead + len(stripped):]
    return head + rest[:lead], stripped, trail + eol


def split_plain_text(text: str) -> TextTemplate:
    """Paragraphs separated by blank lines are segments; all whitespace stays literal."""
    template = TextTemplate()
    para: list[tuple[str, str, str]] = []
    for line in text.splitlines(keepends=True):
        body, eol = _split_line(line)
        if not body.strip():
            if para:
                template.paragraph(para)
                para = []
            template.literal(line)
        else:
            para.append(_pieces(body, eol, 0))
    if para:
        template.paragraph(para)
    return template


_QUOTE = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)*")
_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^([ \t]{0,3}#{1,6})(?:([ \t]+)(.*?))?([ \t]+#+)?([ \t]*)$")
_HR = re.compile(r"^[ \t]{0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,}|=+[ \t]*)$")
_LIST = re.compile(r"^([ \t]*)([-*+]|\d{1,9}[.)])([ \t]+)(\[[ xX]\][ \t]+)?(?=\S)")
_FOOTNOTE = re.compile(r"^[ \t]{0,3}\[\^[^\]]+\]:[ \t]*(?=\S)")
_REFDEF = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*\S")
_TABLE_DELIM = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_HTML_RAW = re.compile(r"^[ \t]{0,3}<(script|pre|style|textarea)(?:[\s>]|$)", re.I)
_HTML_BLOCK_TAGS = (
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|dir|div|dl|"
    "dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|legend|li|link|main|"
    "menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th|thead|"
    "title|tr|track|ul"
)
_HTML_BLOCK = re.compile(rf"^[ \t]{{0,3}}</?(?:{_HTML_BLOCK_TAGS})(?:[\s/>]|$)", re.I)
_FRONT_KEY = re.compile(r"^[A-Za-z_][\w.-]*[ \t]*[:=]")
_HTML_ALONE = re.compile(r"^[ \t]{0,3}(?:<[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|</[A-Za-z][A-Za-z0-9-]*\s*>)[ \t]*$")


def _indent_width(text: str) -> int:
    width = 0
    for ch in text:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def _table_cells(body: str, eol: str, prefix_len: int, template: TextTemplate) -> None:
    """One table row: pipes and padding literal, each cell's text a segment."""
    template.literal(body[:prefix_len])
    row = body[prefix_len:]
    cells: list[str] = []
    start = i = 0
    ticks = 0  # length of the backtick run that opened a code span, 0 outside one
    while i < len(row):
        ch = row[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "`":
            run = len(row[i:]) - len(row[i:].lstrip("`"))
            if ticks == 0:
                ticks = run
            elif run == ticks:
                ticks = 0
            i += run
            continue
        if ch == "|" and ticks == 0:
            cells.append(row[start:i])
            cells.append("|")
            start = i + 1
        i += 1
    cells.append(row[start:])
    for cell in cells:
        if cell == "|":
            template.literal(cell)
        else:
            prefix, content, suffix = _pieces(cell, "", 0)
            template.paragraph([(prefix, content, suffix)], words=has_words(content, True))
    template.literal(eol)


def split_markdown(text: str) -> TextTemplate:
    """Segments for headings, paragraphs, list items, quotes and table cells; the rest literal."""
    template = TextTemplate()
    lines = text.splitlines(keepends=True)
    para: list[tuple[str, str, str]] = []
    list_indent = -1  # content column of the current list item, -1 outside lists
    fence: tuple[str, int] | None = None
    html_end: str | None = None  # "" ends at a blank line, else at this text
    in_table = False

    def close() -> None:
        nonlocal para
        if para:
            joined = "\n".join(c for _, c, _ in para)
            template.paragraph(para, words=has_words(joined, True))
            para = []

    i = 0
    if len(lines) > 1 and lines[0].rstrip("\r\n") in ("---", "+++") and _FRONT_KEY.match(lines[1]):
        mark = lines[0].rstrip("\r\n")  # front matter
        ends = ("---", "...") if mark == "---" else ("+++",)
        for j in range(1, len(lines)):
            if lines[j].rstrip("\r\n") in ends:
                template.literal("".join(lines[: j + 1]))
                i = j + 1
                break
    while i < len(lines):
        line = lines[i]
        body, eol = _split_line(line)
        i += 1
        qlen = _QUOTE.match(body).end()  # type: ignore[union-attr]  # always matches
        rest = body[qlen:]
        if fence is not None:
            template.literal(line)
            m = _FENCE.match(rest)
            if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= fence[1] and not m.group(3).strip():
                fence = None
            continue
        if html_end is not None:
            template.literal(line)
            if (html_end == "" and not body.strip()) or (html_end and html_end in body.lower()):
                html_end = None
            continue
        if not rest.strip():
            close()
            in_table = False
            template.literal(line)
            continue
        indent = _indent_width(rest)
        if not para and 0 <= indent < list_indent and not _LIST.match(rest) and not lines[i - 2].strip():
            list_indent = -1  # a block after a blank line, not indented under the item: the list ended
        if in_table and "|" not in rest:
            in_table = False
        m = _FENCE.match(rest)
        if m and (indent < 4 or 0 <= list_indent <= indent) and not (m.group(2)[0] == "`" and "`" in m.group(3)):
            close()
            fence = (m.group(2)[0], len(m.group(2)))
            template.literal(line)
            continue
        if not para and indent >= max(list_indent, 0) + 4:  # indented code block
            template.literal(line)
            continue
        raw = _HTML_RAW.match(rest)
        if raw or rest.lstrip().startswith("<!--") or _HTML_BLOCK.match(rest) or (
                not para and _HTML_ALONE.match(rest)):
            close()
            if raw:
                html_end = f"</{raw.group(1).lower()}>"
            elif rest.lstrip().startswith("<!--"):
                html_end = "-->"
            else:
                html_end = ""
            template.literal(line)
            if html_end and html_end in body.lower()[body.lower().find("<") + 4:]:
                html_end = None
            continue
        m = _FOOTNOTE.match(rest)
        if m and not para:
            para = [_pieces(body, eol, qlen + m.end())]
            continue
        if not para and _REFDEF.match(rest):
            template.literal(line)
            continue
        m = _ATX.match(rest)
        if m and indent < 4:
            close()
            prefix_len = qlen + len(m.group(1)) + len(m.group(2) or "")
            template.paragraph([_pieces(body[: len(body) - len(m.group(4) or "") - len(m.group(5))],
                                        (m.group(4) or "") + m.group(5) + eol, prefix_len)])
            continue
        if _HR.match(rest):
            close()
            template.literal(line)
            continue
        nxt = lines[i].rstrip("\r\n") if i < len(lines) else ""
        nxt_rest = nxt[_QUOTE.match(nxt).end():]  # type: ignore[union-attr]  # always matches
        if "|" in rest and (in_table or ("|" in nxt_rest and _TABLE_DELIM.match(nxt_rest))):
            close()
            if _TABLE_DELIM.match(rest) and in_table:
                template.literal(line)
            else:
                _table_cells(body, eol, qlen, template)
            in_table = True
            continue
        m = _LIST.match(rest)
        if m:
            close()
            prefix_len = qlen + m.end()
            list_indent = _indent_width(rest[: m.end()].replace("\t", "    "))
            para = [_pieces(body, eol, prefix_len)]
            continue
        if para:
            para.append(_pieces(body, eol, qlen))
        else:
            para = [_pieces(body, eol, qlen)]
    close()
    return template
