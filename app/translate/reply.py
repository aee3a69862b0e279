"""Reading a model's reply to a translation request, and cutting text to fit a context.

Small models echo the instruction, add "Translation:" labels or quotes, and loop; a
reply is cleaned as it streams (so the live view never shows the noise) and cut as
soon as it goes past the source's line count, a generous length, or repeats itself.
"""

from __future__ import annotations

import re

from app.base.languages import Language

__all__ = ["Reply", "split_sentences"]

_LABEL = (r"^(?:(?:sure|okay|ok)[!,.]?\s*)?(?:(?:here is|here's|this is)\s+(?:the|your|my)\s+translation[^\n:：]{0,40}"
          r"|(?:the\s+)?translat(?:ion|ed text)(?:\s+(?:in|into|to)\s+[^\n:：]{1,30})?|output|{names})\s*[:：]\s*")
_QUOTES = ('""', "“”", "「」", "『』", "«»", "„“", "''")
_THINK = re.compile(r"^<think>.*?</think>\s*", re.S)
_LOOP = re.compile(r"(.{1,16}?)\1{5,}$", re.S)  # the same few characters six times: a small model looping
_LOOP_LONG = re.compile(r"(.{17,120}?)\1{2,}$", re.S)  # or the same sentence three times
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


class Reply:
    """Accumulates a streamed reply and says when it has gone on long enough."""

    def __init__(self, source: str, instruction: str, header: str, target: Language) -> None:
        self.source = source
        self.instruction = instruction
        self.header = header
        self.raw = ""
        self.max_lines = source.count("\n") + 1
        cjk = len(_CJK.findall(source)) > len(source) / 3
        self.max_chars = 60 + len(source) * (5 if cjk else 2)  # generous: German runs ~1.3x English
        self.label = re.compile(_LABEL.replace("{names}", re.escape(target.name)), re.I)
        self.strip_labels = not self.label.match(source)
        self.overflow = False
        self.partial = ""  # the cleaned reply so far, for the live view

    def feed(self, delta: str) -> bool:
        """Add a delta; True when generation should stop."""
        self.raw += delta
        self.partial = self.text(final=False)
        return self.overflow

    def text(self, final: bool = True) -> str:
        t = self.raw.lstrip()
        if t.startswith("<think>"):
            m = _THINK.match(t)
            if m is None:
                return ""
            t = t[m.end():]
        if t.startswith(self.header):
            t = t[len(self.header):].lstrip()
        elif t.startswith(self.instruction):
            t = t[len(self.instruction):].lstrip()
        elif self.instruction.startswith(t.rstrip()) and (not final or len(t) >= 20):
            return ""  # (the start of) an echo of the instruction, not a translation
        if self.strip_labels:
            t = self.label.sub("", t, count=1)
        lines = t.split("\n")
        if len(lines) > self.max_lines:
            t = "\n".join(lines[: self.max_lines])
            self.overflow = True
        if len(t) > self.max_chars:
            t = t[: self.max_chars]
            self.overflow = True
        tail = t[-360:]
        for pattern, times in ((_LOOP, 6), (_LOOP_LONG, 3)):
            loop = pattern.search(tail)
            if loop and loop.group(1) * times not in self.source:
                start = len(t) - len(loop.group(0))
                t = t[:start].rstrip() or loop.group(1)  # what came before the loop (or one round of it)
                self.overflow = True
                break
        if not final:
            return t
        t = t.strip()
        if len(t) >= 2 and t[0] + t[-1] in _QUOTES and not self.source.startswith(t[0]):
            t = t[1:-1].strip()
        return t


_SENTENCE_END = re.compile(r"(?<=[.!?…;])[\"'”’»)\]]*\s+|(?<=[。！？；])[”’」』）]*\s*|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences with their trailing whitespace; ``"".join(result) == text``."""
    parts: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > start and m.end() < len(text):
            parts.append(text[start:m.end()])
            start = m.end()
    parts.append(text[start:])
    return [p for p in parts if p]
