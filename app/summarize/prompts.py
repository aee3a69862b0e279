"""The words of every summary request, and how long each answer may be.

The fixed instruction comes before the text, so the engine's KV prefix reuse skips it
on every chunk after the first; the one-pass preset comes last, so switching presets
re-evaluates only the tail. Changing any wording here must bump ``PROMPT_VERSION``
(cached summaries are keyed by it).
"""

from __future__ import annotations

from app.base.languages import resolve_language

PROMPT_VERSION = 1
ANSWER_TOKENS = {"tldr": 120, "bullets": 240, "detailed": 400}  # one-pass answers
FINAL_TOKENS = {"tldr": 96, "detailed": 160}  # the overview written from the chunk summaries
REDUCE_TOKENS = 96
MAX_POINTS = {"bullets": 12, "detailed": 24}  # more chunk summaries than this are combined first
TAILS = {"tldr": "TL;DR of the whole document in two or three sentences:",
         "bullets": "Its key points as a bulleted list, one short line per point:",
         "detailed": "A detailed summary in a few paragraphs that covers every part:"}
FINAL_TAILS = {"tldr": "TL;DR of the whole document in two or three sentences:",
               "detailed": "An overview of the whole document in one paragraph:"}
REDUCE_TAIL = "These parts combined into one summary of three or four sentences:"


def _lang_line(lang: str) -> str:
    language = resolve_language(lang)
    return f" Write in {language.name}." if language else " Write in the same language as the text."


def map_prompt(text: str, lang: str) -> str:
    """Instruction first (identical for every chunk: reused from the KV cache), then the chunk."""
    return ("Summarize this part of a longer document in two or three sentences: its main facts and "
            f"ideas only.{_lang_line(lang)}\n\n<<<\n{text}\n>>>\n\nSummary of this part:")


def single_prompt(text: str, preset: str, lang: str) -> str:
    """The preset comes last, so switching presets re-evaluates only the tail."""
    return f"Summarize the document below.{_lang_line(lang)}\n\n<<<\n{text}\n>>>\n\n{TAILS[preset]}"


def reduce_prompt(texts: list[str], tail: str, lang: str) -> str:
    """Neighbouring summaries, in order, combined as ``tail`` asks."""
    items = "\n".join(f"- {t}" for t in texts)
    return (f"Below are summaries of consecutive parts of one document, in order.{_lang_line(lang)}"
            f"\n\n<<<\n{items}\n>>>\n\n{tail}")
