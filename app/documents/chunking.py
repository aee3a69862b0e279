"""Split a document's sections into chunks that fit a token budget.

Why this shape: a summary must cover the whole document, so every character lands in
exactly one chunk, and each chunk remembers its first and last section so its summary
can say where it came from. Chunks break between paragraphs (sections are paragraph
runs too); a paragraph larger than a chunk is split between sentences, and a sentence
larger than that between characters (Python strings are code points, so a multi-byte
character is never cut; combining marks stay with their base).

Tokenizing is the expensive part, so sizes are first estimated from characters with a
tokens-per-character ratio learned from earlier counts, then each chunk is verified
with one real count (rarely two or three).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from app.documents.document import Section

JOIN = "\n\n"
FILL = 0.97  # aim estimates this close to the budget; the real count decides
MAX_COUNTS = 4  # real counts per chunk at most (usually one)
_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？；…])[\"'”’)\]]*\s+|(?<=[。！？；])")
_PLURAL = {"p.": "pp.", "pp.": "pp.", "l.": "ll.", "ll.": "ll.", "¶": "¶"}
_RANGE = re.compile(r"^(p\.|pp\.|ll\.|l\.|¶) (\d+)(?:–(\d+))?$")


@dataclass(frozen=True)
class Chunk:
    """One piece of the document sent to the model, and where it came from."""

    index: int
    text: str
    tokens: int
    first_section: int
    last_section: int
    first_label: str
    last_label: str

    @property
    def label(self) -> str:
        return source_label(self.first_label, self.last_label)


def source_label(first: str, last: str) -> str:
    """'p. 3', 'pp. 3–7', 'll. 1–240', '§ Intro – § Methods'."""
    if first == last:
        return first
    a, b = _RANGE.match(first), _RANGE.match(last)
    if a and b and _PLURAL[a.group(1)] == _PLURAL[b.group(1)]:
        return f"{_PLURAL[a.group(1)]} {a.group(2)}–{b.group(3) or b.group(2)}"
    return f"{first} – {last}"


@dataclass
class TokenRatio:
    """Tokens per character, learned from real counts (starts pessimistic: CJK-like)."""

    tokens: int = 0
    chars: int = 0

    def learn(self, chars: int, tokens: int) -> None:
        self.chars += chars
        self.tokens += tokens

    @property
    def value(self) -> float:
        return self.tokens / self.chars if self.chars and self.tokens else 1.0

    def estimate(self, chars: int) -> int:
        return int(chars * self.value) + 1


@dataclass(frozen=True)
class _Unit:
    text: str
    section: int
    label: str
    sep: str = JOIN  # what joins it to the unit before: "" inside a split paragraph


def split_text(text: str, max_chars: int) -> list[str]:
    """Pieces of at most ``max_chars``: sentences grouped, a giant sentence cut at spaces or characters."""
    max_chars = max(1, max_chars)
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in _sentences(text):
        if len(sentence) > max_chars:
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(_cut(sentence, max_chars))
        elif len(current) + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current += sentence
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def _sentences(text: str) -> Iterator[str]:
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > pos:
            yield text[pos: match.end()]
            pos = match.end()
    if pos < len(text):
        yield text[pos:]


def _cut(text: str, max_chars: int) -> Iterator[str]:
    """Cut between characters: at the last space in the window if there is one near its end."""
    while len(text) > max_chars:
        end = max_chars
        space = text.rfind(" ", int(max_chars * 0.8), max_chars)
        if space > 0:
            end = space + 1
        while end < len(text) and end > 1 and unicodedata.combining(text[end]):
            end -= 1  # keep a combining mark with its base character
        yield text[:end]
        text = text[end:]
    if text:
        yield text


def _units(sections: Iterable[Section], ratio: TokenRatio, max_unit_tokens: int,
           count: Callable[[str], int]) -> Iterator[_Unit]:
    """Paragraphs in order; any larger than ``max_unit_tokens`` (estimated) split smaller."""
    for section in sections:
        for para in section.text.split(JOIN):
            if not para.strip():
                continue
            if not ratio.chars:
                sample = para[:4000]
                ratio.learn(len(sample), max(1, count(sample)))
            if ratio.estimate(len(para)) > max_unit_tokens:
                max_chars = max(1, int(max_unit_tokens / ratio.value))
                for i, piece in enumerate(split_text(para, max_chars)):
                    yield _Unit(piece, section.index, section.label, JOIN if i == 0 else "")
            else:
                yield _Unit(para, section.index, section.label)


def chunk_sections(sections: Iterable[Section], budget: int, count: Callable[[str], int],
                   target: int | None = None, ratio: TokenRatio | None = None) -> Iterator[Chunk]:
    """Chunks of at most ``budget`` tokens (as ``count`` measures), aiming at ``target``.

    ``target`` below the budget evens out chunk sizes when the total is known; the
    sections are consumed lazily, so a huge document never sits in memory.
    """
    if budget < 8:
        raise ValueError("the token budget is too small to hold any text")
    target = min(budget, target or budget)
    ratio = ratio or TokenRatio()
    buf: list[_Unit] = []
    chars = 0  # _chars(buf), kept as units arrive: recounting per unit is quadratic in tiny paragraphs
    index = 0
    for unit in _units(sections, ratio, max(4, target // 3), count):
        chars += len(unit.text) + (len(unit.sep) if buf else 0)
        buf.append(unit)
        while buf and ratio.estimate(chars) >= target * FILL:
            chunk, buf = _take(buf, index, target=target, budget=budget, count=count, ratio=ratio)
            chars = _chars(buf)
            index += 1
            yield chunk
    while buf:
        chunk, buf = _take(buf, index, target=target, budget=budget, count=count, ratio=ratio)
        index += 1
        yield chunk


def _chars(units: list[_Unit]) -> int:
    return sum(len(u.text) + len(u.sep) for u in units) - (len(units[0].sep) if units else 0)


def _join(units: list[_Unit]) -> str:
    return units[0].text + "".join(u.sep + u.text for u in units[1:]) if units else ""


def _fit(units: list[_Unit], limit: float, ratio: TokenRatio) -> int:
    """The most leading units whose estimate stays within ``limit`` (at least one)."""
    total = 0
    for n, unit in enumerate(units, 1):
        total += len(unit.text) + (len(unit.sep) if n > 1 else 0)
        if ratio.estimate(total) > limit:
            return max(1, n - 1)
    return len(units)


def _take(buf: list[_Unit], index: int, *, target: int, budget: int, count: Callable[[str], int],
          ratio: TokenRatio) -> tuple[Chunk, list[_Unit]]:
    """Cut the next chunk off ``buf``: estimate, count once, adjust if the count disagrees."""
    best: tuple[int, int] | None = None  # (units, tokens) of the largest verified fit
    tried: dict[int, int] = {}
    n = _fit(buf, target * FILL, ratio)
    for _ in range(MAX_COUNTS):
        if n in tried:
            break
        text = _join(buf[:n])
        tokens = count(text)
        tried[n] = tokens
        ratio.learn(len(text), tokens)
        if tokens <= budget and (best is None or n > best[0]):
            best = (n, tokens)
        if tokens > budget:  # shrink by this text's own density: the document's average may be far off
            n = min(n - 1, _fit(buf, target * FILL, TokenRatio(tokens, len(text)))) if n > 1 else 0
        elif tokens < target * 0.85 and n < len(buf):
            n = max(n + 1, _fit(buf, target * FILL, ratio))
        else:
            break
        if n == 0:
            break
    n = min(tried)
    while best is None and n > 1:  # still over budget: halve until a count fits (a few counts at most)
        n //= 2
        tokens = tried[n] if n in tried else count(_join(buf[:n]))
        if tokens <= budget:
            best = (n, tokens)
    if best is None:
        # a single unit over budget despite the estimate: split it in two and try again
        head = buf[0]
        half = split_text(head.text, max(1, len(head.text) // 2))
        parts = [_Unit(p, head.section, head.label, head.sep if i == 0 else "") for i, p in enumerate(half)]
        if len(parts) == 1:  # cannot be split (one character): give up loudly
            raise ValueError("a single character does not fit the token budget")
        return _take(parts + buf[1:], index, target=target, budget=budget, count=count, ratio=ratio)
    n, tokens = best
    units = buf[:n]
    chunk = Chunk(index=index, text=_join(units), tokens=tokens,
                  first_section=units[0].section, last_section=units[-1].section,
                  first_label=units[0].label, last_label=units[-1].label)
    return chunk, buf[n:]
