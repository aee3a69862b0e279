"""Conversation rules that do not depend on Qt: fitting history into the context, titles.

The overflow policy is explicit and visible: when history outgrows the context we
drop the oldest whole turns (never the system prompt, never the new message) and
report how many were dropped so the UI can say so. Nothing is silently truncated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.engines.contract import ChatMessage, ContextOverflowError

DROP_OLDEST = "drop_oldest"
REFUSE = "refuse"


@dataclass(frozen=True)
class FittedPrompt:
    """Messages that fit, and what had to go."""

    messages: list[ChatMessage]
    prompt_tokens: int
    dropped_messages: int


def answer_reserve(n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the reply: the reply limit, but never more than half the context."""
    return max(16, min(max_tokens, n_ctx // 2))


def fit_messages(
    messages: Sequence[ChatMessage],
    count_tokens: Callable[[Sequence[ChatMessage]], int],
    n_ctx: int,
    reserve: int,
    policy: str = DROP_OLDEST,
) -> FittedPrompt:
    """Keep the system prompt and the newest turns so that prompt + reserve <= n_ctx.

    Raises ContextOverflowError when even the system prompt plus the last message do
    not fit, or when the policy is REFUSE and anything would have to be dropped.
    """
    budget = n_ctx - reserve
    system = [m for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    tokens = count_tokens([*system, *rest])
    if tokens <= budget:
        return FittedPrompt([*system, *rest], tokens, 0)
    if policy == REFUSE:
        raise ContextOverflowError(
            tokens, n_ctx,
            f"This conversation needs {tokens:,} tokens plus {reserve:,} for the answer, but the context "
            f"holds {n_ctx:,}. Start a new chat, shorten the message, or allow dropping old turns in Settings.",
        )
    dropped = 0
    while len(rest) > 1:
        # drop a whole turn: the oldest message and, if it was a user message, its answer
        cut = 2 if len(rest) > 2 and rest[0].role == "user" and rest[1].role == "assistant" else 1
        rest = rest[cut:]
        dropped += cut
        tokens = count_tokens([*system, *rest])
        if tokens <= budget:
            return FittedPrompt([*system, *rest], tokens, dropped)
    raise ContextOverflowError(
        tokens, n_ctx,
        f"The message alone needs {tokens:,} tokens plus {reserve:,} for the answer, but the context holds "
        f"{n_ctx:,}. Shorten it, or load the model with a larger context in Settings.",
    )


_FENCE = re.compile(r"^\s*(```|~~~)[^\n]*$", re.MULTILINE)
_LINE_MARKS = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d{1,9}[.)]\s+)", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|~~)(.+?)\1")
_STAR = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")


def plain_text(markdown: str) -> str:
    """Markdown reduced to its words, for a title: no fences, heading or list marks, emphasis or link syntax."""
    text = _FENCE.sub("", markdown)
    text = _LINE_MARKS.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _STAR.sub(r"\1", text)
    return text.replace("`", "")


def title_from_message(text: str, limit: int = 48) -> str:
    """A conversation title from its first message: its words without Markdown, trimmed at a word."""
    line = " ".join(plain_text(text).strip().split())
    if len(line) <= limit:
        return line or "New chat"
    cut = line[:limit].rsplit(" ", 1)[0] if " " in line[:limit] else line[:limit]
    return cut.rstrip(",.;:") + "…"
