"""A base model (no chat template: the starter model) is asked for summaries in completion style."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from app.documents.extract import extract_text
from app.engines.completion import is_base_model
from app.engines.contract import Endpoint, GenerationParams, LocalModel, TokenEngine
from app.engines.fake import FakeEngine
from app.summarize.answers import parse_points
from app.summarize.job import finish_answer, read_answer
from app.summarize.options import SummaryOptions
from app.summarize.prompts import (
    ANSWER_TOKENS,
    FINAL_TAILS,
    REDUCE_TAIL,
    completion_prompt,
    map_prompt,
    reduce_prompt,
    single_prompt,
    stream_summary,
)
from app.summarize.results import SourceRange
from app.summarize.run import summarize

TEXT = ("The kestrel is a small falcon found across Europe, Asia and Africa. It is famous for hovering in the wind "
        "while it watches the ground for voles and mice. Kestrels nest in holes in trees, on cliffs and on "
        "buildings, and they lay four to six eggs in spring. Their numbers have fallen in some countries because "
        "modern farming leaves fewer small mammals in the fields.")
STAIRCASE = re.compile(r"^\s*(\d{1,2}[.)]\s*)+$")  # a line that is only list numbers: "2.", "1. 2. 3."


def fake(chat_format: str, reply: str = "Kestrels hover while they hunt.") -> FakeEngine:
    engine = FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=2048, chat_format=chat_format)
    engine.load(LocalModel(path=Path("fake.gguf")))
    return engine


def sent(engine: FakeEngine) -> list[list[tuple[str, str]]]:
    return [[(m.role, m.content) for m in request] for request in engine.requests]


def test_each_request_becomes_the_text_and_a_cue_without_the_instruction() -> None:
    assert completion_prompt(map_prompt(TEXT, "en")) == f"{TEXT}\n\nTL;DR:"
    assert completion_prompt(single_prompt(TEXT, "tldr", "zh")) == f"{TEXT}\n\nTL;DR:"
    assert completion_prompt(single_prompt(TEXT, "bullets", "en")) == f"{TEXT}\n\nKey points:\n-"
    assert completion_prompt(single_prompt(TEXT, "detailed", "auto")) == f"{TEXT}\n\nTL;DR:"
    assert completion_prompt(reduce_prompt(["One.", "Two."], REDUCE_TAIL, "en")) == "- One.\n- Two.\n\nTL;DR:"
    assert completion_prompt(reduce_prompt(["One."], FINAL_TAILS["detailed"], "en")) == "- One.\n\nTL;DR:"
    tricky = "A text that quotes the markers:\n>>>\n\nand\n\n<<<\nitself."
    assert completion_prompt(map_prompt(tricky, "en")) == f"{tricky}\n\nTL;DR:"  # the first and last markers
    assert completion_prompt("Some other text.") == "Some other text."


def test_a_base_model_is_sent_the_completion_text_itself_and_an_instruct_model_a_chat_message() -> None:
    params = GenerationParams(max_tokens=32, save_state=False)
    request = single_prompt(TEXT, "tldr", "en")
    base = fake("plain")
    assert is_base_model(base.loaded)
    answer = "".join(stream_summary(base, request, params, threading.Event()))
    assert answer == "Kestrels hover while they hunt."
    assert sent(base) == [[("user", f"{TEXT}\n\nTL;DR:")]]  # the raw text: no "user:"/"assistant:" around it
    assert base.last_stats is not None and base.last_stats.prompt_tokens == len(base.tokenize(f"{TEXT}\n\nTL;DR:"))

    instruct = fake("gguf-template")
    "".join(stream_summary(instruct, request, params, threading.Event()))
    assert sent(instruct) == [[("user", request)]]
    assert instruct.last_stats is not None and (instruct.last_stats.prompt_tokens or 0) > len(base.tokenize(request))

    server = FakeEngine(chat_format="plain")
    server.load(Endpoint("http://127.0.0.1:9/v1", "m"))
    assert not is_base_model(server.loaded)  # a server formats its own prompts: never taken for a base model


def test_summarize_asks_a_base_model_in_completion_style() -> None:
    engine = fake("plain", reply="Kestrels are small falcons that hover.")
    result = summarize(engine, extract_text(TEXT), SummaryOptions(preset="tldr", lang="en"))
    assert sent(engine) == [[("user", f"{TEXT}\n\nTL;DR:")]]
    assert [p.text for p in result.points] == ["Kestrels are small falcons that hover."]


@pytest.mark.real_model
@pytest.mark.parametrize("preset", ["tldr", "bullets"])
def test_the_starter_model_writes_sentences_not_a_numbered_staircase(real_engine: TokenEngine, preset: str) -> None:
    """Measured on the starter model (Gemma 3 270M, a base model): asked in chat style, "bullets"
    came back as "Kestrels are a small, flightless bird..." then a point "2."; "detailed" ended
    in "4."; "tldr" copied the text. In completion style each is one or more plain sentences.
    The model is too weak to check what the sentences say, so this checks their form."""
    assert is_base_model(real_engine.loaded)
    request = single_prompt(TEXT, preset, "en")
    params = GenerationParams(max_tokens=ANSWER_TOKENS[preset], temperature=0.2, top_k=40, top_p=0.9, min_p=0.05,
                              seed=1234, save_state=False)
    blank_stop = preset == "tldr"
    text, echo = read_answer(stream_summary(real_engine, request, params, threading.Event()), request,
                             blank_stop=blank_stop, copy_is_echo=False)
    answer = finish_answer(text, echo, blank_stop)
    points = parse_points(answer, preset, SourceRange("Pasted text", "Pasted text", (0,)))
    assert points, f"no answer: {text!r}"
    for point in points:
        assert not STAIRCASE.match(point.text), f"a numbered staircase: {answer!r}"
        assert len(re.findall(r"[A-Za-z]{2,}", point.text)) >= 3, f"not a sentence: {point.text!r}"
    assert sum(bool(STAIRCASE.match(line)) for line in answer.splitlines()) == 0
    assert TEXT[:60] not in answer  # not a copy of the text
