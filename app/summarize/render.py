"""A summary result as Markdown (the panel, the CLI) or plain text (export), every point with its source."""

from __future__ import annotations

from app.summarize.results import Point, SummaryResult


def render_markdown(result: SummaryResult, links: bool = False) -> str:
    """The summary as Markdown; with ``links`` each source is a ``source:N`` link (N: point index)."""
    def ref(i: int, point: Point) -> str:
        return f"[{point.source.label}](source:{i})" if links else f"*{point.source.label}*"

    lines: list[str] = []
    points = result.points
    if result.preset == "detailed" and result.mode != "single" and not result.cancelled and points:
        overview = len(points) > 1 and len(points[0].source.chunks) == result.chunks  # parts never overlap it
        if overview:
            lines += ["**Overview** (" + ref(0, points[0]) + ")", "", points[0].text, ""]
        for i, p in enumerate(points[1:] if overview else points, 1 if overview else 0):
            lines += [f"**{ref(i, p)}**" if links else f"**{p.source.label}**", "", p.text, ""]
    elif result.preset == "bullets" or result.cancelled or len(result.points) > 1:
        lines += [f"- {p.text} ({ref(i, p)})" for i, p in enumerate(result.points)]
    else:
        lines += [f"{p.text} ({ref(i, p)})" for i, p in enumerate(result.points)]
    if result.cancelled:
        lines += ["", f"*Cancelled: {result.chunks_summarized} of {result.chunks} parts summarized.*"]
    return "\n".join(lines).strip() + "\n"


def render_text(result: SummaryResult) -> str:
    """Plain text for export: bullets and source ranges, no Markdown syntax."""
    lines: list[str] = []
    for p in result.points:
        lines.append(f"• {p.text} ({p.source.label})" if len(result.points) > 1 else f"{p.text} ({p.source.label})")
    if result.cancelled:
        lines.append(f"\nCancelled: {result.chunks_summarized} of {result.chunks} parts summarized.")
    return "\n".join(lines) + "\n"
