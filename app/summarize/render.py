"""A summary result as Markdown (the panel, the CLI) or plain text (export), every point with its source."""

from __future__ import annotations

import re

from app.summarize.results import Point, SummaryResult

# What would make a model's text start a block of its own (a list, a heading, a quote, a
# code block) when it is put in a bullet or a paragraph: escaped, so a point stays one
# flat paragraph ("1. 2. 3." once became a staircase of nested lists).
_BLOCK_START = re.compile(r"^(\d{1,9})([.)])|^([-*+#>=|~`])")


def flat(text: str) -> str:
    """A model's text as one inline paragraph of Markdown: one line, no block syntax, no HTML."""
    line = " ".join(text.split()).replace("<", "\\<")
    return _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", line)


def stopped_words(result: SummaryResult) -> str:
    """What a stopped summary holds, in words that match what is shown."""
    if result.mode == "single":
        return "Stopped before the end: what was written so far is kept."
    return f"Stopped: {result.chunks_summarized} of {result.chunks} parts summarized; their points are kept."


def render_markdown(result: SummaryResult, links: bool = False) -> str:
    """The summary as Markdown; with ``links`` each source is a ``source:N`` link (N: point index)."""
    def ref(i: int, point: Point) -> str:
        return f"[{point.source.label}](source:{i})" if links else f"*{point.source.label}*"

    lines: list[str] = []
    points = result.points
    if result.preset == "detailed" and result.mode != "single" and not result.cancelled and points:
        overview = len(points) > 1 and len(points[0].source.chunks) == result.chunks  # parts never overlap it
        if overview:
            lines += ["**Overview** (" + ref(0, points[0]) + ")", "", flat(points[0].text), ""]
        for i, p in enumerate(points[1:] if overview else points, 1 if overview else 0):
            lines += [f"**{ref(i, p)}**" if links else f"**{p.source.label}**", "", flat(p.text), ""]
    elif result.preset == "bullets" or result.cancelled or len(result.points) > 1:
        lines += [f"- {flat(p.text)} ({ref(i, p)})" for i, p in enumerate(result.points)]
    else:
        lines += [f"{flat(p.text)} ({ref(i, p)})" for i, p in enumerate(result.points)]
    if result.cancelled:
        lines += ["", f"*{stopped_words(result)}*"]
    return "\n".join(lines).strip() + "\n"


def render_text(result: SummaryResult) -> str:
    """Plain text for export: bullets and source ranges, no Markdown syntax."""
    lines: list[str] = []
    for p in result.points:
        lines.append(f"• {p.text} ({p.source.label})" if len(result.points) > 1 else f"{p.text} ({p.source.label})")
    if result.cancelled:
        lines.append("\n" + stopped_words(result))
    return "\n".join(lines) + "\n"
