"""Reading the model's answers: echoed labels and list markers dropped, loops and echoes
detected, and honest fallbacks when a small model wrote nothing usable."""

from __future__ import annotations

import re

from app.summarize.results import Point, SourceRange

_ECHO = re.compile(r"^\s*(summary( of this part)?|combined summary|tl;dr|overview|key points)\s*[:：]\s*",
                   re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)])\s+")
_FALLBACK = re.compile(r"^\(No summary from the model; this part opens: “(.*)”\)$", re.DOTALL)
_SENTENCE_END = re.compile(r"[.!?。！？](?=[\"'”’)\]]*(\s|$))")


def clean(text: str, paragraphs: bool = False) -> str:
    """Drop echoed labels and list markers; cut a truncated last sentence when that costs little."""
    text = _ECHO.sub("", text.strip()).strip()
    lines = [_BULLET.sub("", line).strip() for line in text.splitlines()]
    text = ("\n\n" if paragraphs else " ").join(line for line in lines if line)
    ends = list(_SENTENCE_END.finditer(text))
    if ends and not _SENTENCE_END.search(text[-2:] + " ") and ends[-1].end() > len(text) * 0.4:
        text = text[: ends[-1].end()]
    return text.strip()


def lead(text: str, limit: int = 200) -> str:
    """The opening sentences of a text (headings skipped), at most about ``limit`` characters."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip() and not p.lstrip().startswith("#")]
    words = " ".join((paragraphs[0] if paragraphs else text).split())
    ends = [m.end() for m in _SENTENCE_END.finditer(words) if m.end() <= limit]
    return words[: ends[-1]] if ends else words[:limit].rstrip() + "…"


def leads(texts: list[str]) -> str:
    """A combination nobody wrote: the first sentence of each summary, for an empty reduce answer."""
    unwrapped = [_FALLBACK.sub(r"\1", t) for t in texts]
    return " ".join(lead(t, 160) for t in unwrapped)[:900]


def fallback(text: str) -> str:
    """What a point says when the model wrote nothing usable (an echo, a loop, nothing)."""
    return f"(No summary from the model; this part opens: “{lead(text)}”)"


def norm(text: str) -> str:
    """Lower case, whitespace collapsed: for comparing an answer with the request."""
    return " ".join(text.lower().split())


def repeats(text: str) -> int:
    """Where the first repeated sentence or line starts (-1: none): a base model looping."""
    seen: set[str] = set()
    for match in re.finditer(r"[^\n.!?。！？]+[.!?。！？\n]", text):
        sentence = norm(match.group())
        if len(sentence) >= 12:
            if sentence in seen:
                return match.start()
            seen.add(sentence)
    return -1


def parse_points(text: str, preset: str, source: SourceRange) -> list[Point]:
    """One-pass answers: a list becomes one point per item; prose one point per paragraph."""
    text = _ECHO.sub("", text.strip())
    if preset == "tldr":
        body = clean(text, paragraphs=True)
        return [Point(body, source)] if body else []
    lines = [line for line in text.splitlines() if line.strip()]
    if preset == "bullets" and any(_BULLET.match(line) for line in lines):
        items = [clean(line) for line in lines]
    else:
        items = [clean(p) for p in re.split(r"\n\s*\n", text)]
    return [Point(item, source) for item in items if item]
