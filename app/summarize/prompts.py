"""The words of every summary request, and how long each answer may be.

The fixed instruction comes before the text, so the engine's KV prefix reuse skips it
on every chunk after the first; the one-pass preset comes last, so switching presets
re-evaluates only the tail. Changing any wording here must bump ``PROMPT_VERSION``
(cached summaries are keyed by it).

A base model (no chat template, like the starter model) does not follow instructions: it
gets the same request in completion style instead, the text and then a cue such as
"TL;DR:" (``completion_prompt``), sent without chat wrapping (``stream_summary``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from app.base.languages import resolve_language
from app.engines.completion import is_base_model, stream_completion
from app.engines.contract import Engine, GenerationParams
from app.summarize.tokens import stream_prompt

PROMPT_VERSION = 2  # 2: base models are prompted in completion style
ANSWER_TOKENS = {"tldr": 120, "bullets": 240, "detailed": 400}  # one-pass answers
FINAL_TOKENS = {"tldr": 96, "detailed": 160}  # the overview written from the chunk summaries
REDUCE_TOKENS = 96
MAX_POINTS = {"bullets": 12, "detailed": 24}  # more chunk summaries than this are combined first
MAP_TAIL = "Summary of this part:"
TAILS = {"tldr": "TL;DR of the whole document in two or three sentences:",
         "bullets": "Its key points as a bulleted list, one short line per point:",
         "detailed": "A detailed summary in a few paragraphs that covers every part:"}
FINAL_TAILS = {"tldr": "TL;DR of the whole document in two or three sentences:",
               "detailed": "An overview of the whole document in one paragraph:"}
REDUCE_TAIL = "These parts combined into one summary of three or four sentences:"

#: What a base model gets after the text instead of each request's last line: the words such
#: text is followed by in what it has read ("TL;DR:" under a post, "Key points:" above a list).
#: "Summary:" is not used: the starter model answers it by copying the text's opening.
COMPLETION_CUES = {MAP_TAIL: "TL;DR:", TAILS["tldr"]: "TL;DR:", TAILS["bullets"]: "Key points:\n-",
                   TAILS["detailed"]: "TL;DR:", FINAL_TAILS["detailed"]: "TL;DR:", REDUCE_TAIL: "TL;DR:"}
#: A base model's answer ends at its first blank line: after it, it goes on writing the next text.
COMPLETION_STOPS = ("\n\n",)
_OPEN, _CLOSE = "\n\n<<<\n", "\n>>>\n\n"  # around the text in every request built here


def _lang_line(lang: str) -> str:
    language = resolve_language(lang)
    return f" Write in {language.name}." if language else " Write in the same language as the text."


def _request(instruction: str, text: str, tail: str) -> str:
    """Every request: the instruction, the text between markers, what to write."""
    return f"{instruction}{_OPEN}{text}{_CLOSE}{tail}"


def map_prompt(text: str, lang: str) -> str:
    """Instruction first (identical for every chunk: reused from the KV cache), then the chunk."""
    return _request("Summarize this part of a longer document in two or three sentences: its main facts and "
                    f"ideas only.{_lang_line(lang)}", text, MAP_TAIL)


def single_prompt(text: str, preset: str, lang: str) -> str:
    """The preset comes last, so switching presets re-evaluates only the tail."""
    return _request(f"Summarize the document below.{_lang_line(lang)}", text, TAILS[preset])


def reduce_prompt(texts: list[str], tail: str, lang: str) -> str:
    """Neighbouring summaries, in order, combined as ``tail`` asks."""
    items = "\n".join(f"- {t}" for t in texts)
    return _request(f"Below are summaries of consecutive parts of one document, in order.{_lang_line(lang)}",
                    items, tail)


def completion_prompt(request: str) -> str:
    """A request built here in a base model's form: its text, a blank line, the cue for its tail.

    The instruction (and the language it asks for) is left out: a base model cannot follow it.
    Text not built here is returned as it is.
    """
    start, end = request.find(_OPEN), request.rfind(_CLOSE)
    if start < 0 or end < start:
        return request
    tail = request[end + len(_CLOSE):]
    return f"{request[start + len(_OPEN):end]}\n\n{COMPLETION_CUES.get(tail, 'TL;DR:')}"


def stream_summary(engine: Engine, request: str, params: GenerationParams, stop: threading.Event) -> Iterator[str]:
    """Send one request built here: as a chat message, or in completion style to a base model."""
    if is_base_model(engine.loaded):
        return stream_completion(engine, completion_prompt(request), params, stop, COMPLETION_STOPS)
    return stream_prompt(engine, request, params, stop)
