"""An answer as Markdown (the chat, the CLI): the answer, the parts it came from, and what was read.

Model text goes through the summarizer's :func:`~app.summarize.render.flat`, so a "1. 2. 3."
answer stays a paragraph and its source link stays visible. The words around it come in
an :class:`AskWords` (English by default), so the UI can pass its translations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.ask.results import AskResult
from app.summarize.render import flat

_MARKUP = re.compile(r"([\\`*_\[\]<>#|])")  # escaped in a file name shown in Markdown


@dataclass(frozen=True)
class AskWords:
    """Every word the rendered answer adds; ``%1``, ``%2``, ``%3`` are filled in."""

    sources: str = "Sources:"
    found_in: str = "What each part says:"
    none_found: str = "None of the %1 parts of %2 answers this question."
    no_answer: str = "The model gave no answer."
    stopped: str = "Stopped after reading %1 of %2 parts of %3."
    read_all: str = "Read all %1 parts of %2; %3 had an answer."
    read_whole: str = "Read the whole of %1 at once."


def _fill(template: str, *values: object) -> str:
    for i, value in enumerate(values, 1):
        template = template.replace(f"%{i}", str(value))
    return template


def _paragraphs(text: str) -> list[str]:
    return [flat(p) for p in re.split(r"\n\s*\n", text) if p.strip()]


def render_answer(result: AskResult, words: AskWords | None = None, links: bool = False) -> str:
    """The answer as Markdown; with ``links`` each source is a ``source:N`` link (N: point index)."""
    w = words or AskWords()

    def ref(i: int) -> str:
        label = result.points[i].source.label
        return f"[{label}](source:{i})" if links else f"*{label}*"

    refs = ", ".join(ref(i) for i in range(len(result.points)))
    lines: list[str] = []
    answer = _paragraphs(result.answer)
    if answer:
        lines += [*answer[:-1], f"{answer[-1]} ({refs})" if refs and len(result.points) == 1 else answer[-1]]
        if len(result.points) > 1:
            lines += [f"{w.sources} {refs}"]
    if len(result.points) > 1 or (result.points and not answer):  # stopped early: what was found so far
        lines += [w.found_in, "\n".join(f"- {flat(p.text)} ({ref(i)})" for i, p in enumerate(result.points))]
    name = _MARKUP.sub(r"\\\1", result.document)
    if result.cancelled:
        total = f"{'~' if result.estimated else ''}{result.chunk_total}"
        lines.append(f"*{_fill(w.stopped, result.chunks_read, total, name)}*")
    elif result.mode == "single":
        if not answer:
            lines.append(w.no_answer)
        lines.append(f"*{_fill(w.read_whole, name)}*")
    elif not result.points:
        lines.append(_fill(w.none_found, result.chunk_total, name))
    else:
        lines.append(f"*{_fill(w.read_all, result.chunk_total, name, result.chunks_answered)}*")
    return "\n\n".join(lines).strip() + "\n"
