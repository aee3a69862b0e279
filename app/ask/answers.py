"""Reading one part's answer: the answer itself, or "not here".

A part is dropped when its answer is the :data:`~app.ask.prompts.NOT_HERE` marker (in any
spelling or case, even cut short), says in words that the part does not tell, is empty,
or only repeats the question or the request: a small model that cannot follow the
instruction then does not invent an answer for every part.

A base model also invents answers where a part has none (a run of digits, a plausible
place), so its answer is kept only when it is *grounded*: it shares a word with the part
that the question does not already hold ("4417-B" is in the part; "forest" is not).
"""

from __future__ import annotations

import re

from app.ask.prompts import BASE_NOT_HERE, NOT_HERE
from app.summarize.answers import clean, norm

_LABEL = re.compile(r"^\s*(?:(?:combined |final )?answer(?: from this part)?(?: \(or [A-Z_]+\))?|a)\s*[:：]\s*",
                    re.IGNORECASE)
_MARKS = {re.sub(r"[^A-Z]", "", m.upper()) for m in (NOT_HERE, BASE_NOT_HERE)}  # NOTINTHISPART, NOTINTHISTEXT
_NEGATIVE = re.compile(
    r"^(?:(?:this|the) (?:part|text|passage|excerpt|document|section|context) (?:does not|doesn't|did not|do not|"
    r"cannot|can't) (?:contain|mention|say|state|include|provide|specify|answer|tell)"
    r"|(?:there is |there's )?no (?:information|mention|answer|details?)\b"
    r"|(?:it is |it's |this is )?not (?:mentioned|stated|specified|provided|given|found|in this (?:part|text))\b"
    r"|i (?:cannot|can't|could not|couldn't|do not|don't) (?:find|answer|determine|know)\b"
    r"|(?:unknown|none|n/a)\W*$)"
    r"|^(?:本部分|这部分|该部分|文中|文本|原文)?(?:没有|未|并未|无)(?:提到|提及|包含|说明|相关)",
    re.IGNORECASE)
_WORD = re.compile(r"[^\W_]{3,}|\d+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+")
_COMMON = frozenset((
    "the", "and", "for", "are", "was", "were", "has", "have", "had", "not", "but", "with", "this", "that", "these",
    "those", "from", "into", "its", "his", "her", "their", "they", "them", "you", "your", "our", "who", "what",
    "when", "where", "which", "why", "how", "there", "here", "been", "being", "does", "did", "can", "could", "would",
    "should", "will", "shall", "may", "might", "about", "also", "than", "then", "very", "more", "most", "some",
    "any", "all", "one", "two"))


def strip_label(text: str) -> str:
    """The answer without an echoed "Answer:" label (models often repeat the prompt's last words)."""
    return _LABEL.sub("", text.strip(), count=1).strip()


def is_not_here(text: str, question: str) -> bool:
    """Whether a part's answer says the part does not hold the answer (or says nothing usable)."""
    body = strip_label(text)
    if not re.search(r"\w", body):
        return True  # empty, or punctuation only
    letters = re.sub(r"[^A-Z]", "", body.upper())
    if any(m in letters for m in _MARKS):
        return True  # the marker, in any spelling or case
    if len(letters) >= 3 and body.upper().startswith("NOT") and any(m.startswith(letters) for m in _MARKS):
        return True  # the marker cut short by the token limit
    if _NEGATIVE.match(body):
        return True
    said, asked = norm(body).rstrip("?.!？。 "), norm(question).rstrip("?.!？。 ")
    return bool(asked) and (said == asked or said.startswith((norm("question:"), asked)))


def terms(text: str) -> set[str]:
    """Words worth matching: three or more letters (common ones left out), numbers, CJK character pairs."""
    lowered = text.lower()
    words = {w for w in _WORD.findall(lowered) if w not in _COMMON and not _CJK_RUN.fullmatch(w)}
    for run in _CJK_RUN.findall(lowered):
        words.update(run[i:i + 2] for i in range(max(1, len(run) - 1)))
    return words


def grounded(answer: str, part: str, question: str) -> bool:
    """Whether the answer holds a word of the part that the question does not already hold."""
    return bool((terms(answer) - terms(question)) & terms(part))


def part_answer(text: str, question: str, part: str | None = None) -> str:
    """The usable answer of one part ("" when the part does not hold it).

    ``part``: the part's text, for a base model's answer, which must be :func:`grounded` in it.
    """
    if is_not_here(text, question):
        return ""
    answer = clean(strip_label(text))
    if part is not None and not grounded(answer, part, question):
        return ""
    return answer
