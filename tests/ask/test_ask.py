"""Asking a whole document: one prompt when it fits, every part asked when not, "not here" dropped, sources."""

from __future__ import annotations

import re
import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.ask.answers import grounded, is_not_here, part_answer
from app.ask.prompts import NOT_HERE
from app.ask.render import render_answer
from app.ask.results import AskOptions
from app.ask.run import ask, plan_ask, uses_base_prompts
from app.documents import extract as extract_module
from app.documents.extract import extract, extract_text
from app.engines.contract import ChatMessage, Endpoint, EngineError, LoadedModel, LocalModel
from app.engines.fake import FakeEngine
from app.summarize.results import SummaryProgress

QUESTION = "What is the launch code for the rocket?"
FACT = "The launch code for the rocket is 4417-B."
OTHER_FACT = "A spare launch code, 9902-C, is kept by the captain."
NOT_HERE_REPLIES = ("NOT_IN_THIS_PART", "not_in_this_part.", "", "Answer: NOT IN THIS PART", "NOT_IN_TH",
                    "This part does not mention the launch code.", QUESTION, "Not in this text.")


def document(sections: int = 12, facts: dict[int, str] | None = None) -> str:
    """Sections of filler paragraphs tagged P<section>x<n>; ``facts`` adds a sentence to some sections."""
    facts = {sections - 1: FACT} if facts is None else facts
    filler = " ".join(["kestrel", "field", "wind", "vole"] * 10)
    parts = []
    for s in range(sections):
        body = "\n\n".join(f"P{s}x{i} {filler}." for i in range(5))
        if s in facts:
            body += f"\n\n{facts[s]}"
        parts.append(f"# Part {s + 1}\n\n{body}")
    return "\n\n".join(parts)


def part_text(content: str) -> str:
    """The document text inside a request: between the markers, or after the last "Text: " (base)."""
    if "<<<" in content:
        return content[content.rindex("<<<"): content.rindex(">>>")]
    return content.rsplit("Text: ", maxsplit=1)[-1]


def reply(messages: Sequence[ChatMessage]) -> str:
    """Parts with a fact answer with it; the others say "not here" in every way a model does."""
    content = messages[-1].content
    if "Combined answer:" in content or "Answer combining the notes:" in content:
        return "Two codes: 4417-B for the launch, and 9902-C as the spare."
    text = part_text(content)
    if "4417-B" in text:
        return "Answer: The launch code is 4417-B."
    if "9902-C" in text:
        return "The spare code is 9902-C."
    return NOT_HERE_REPLIES[zlib.crc32(text.encode()) % len(NOT_HERE_REPLIES)]


def fake(n_ctx: int = 512, answer: object = reply) -> FakeEngine:
    engine = FakeEngine(reply=answer, tokens_per_s=0, prefill_tps=0, n_ctx=n_ctx)  # type: ignore[arg-type]
    engine.load(LocalModel(path=Path("fake.gguf")))
    return engine


def map_requests(engine: FakeEngine) -> list[str]:
    return [r[-1].content for r in engine.requests
            if "Combined answer:" not in r[-1].content and "combining the notes" not in r[-1].content]


@pytest.mark.parametrize("style", ["instruct", "base"])
def test_a_document_that_fits_goes_in_whole_with_the_question_in_one_prompt(style: str) -> None:
    engine = fake(n_ctx=4096, answer=lambda m: "It is 4417-B.")
    doc = extract_text(document(sections=3), name="short.md")
    result = ask(engine, doc, QUESTION, AskOptions(style=style))
    assert result.mode == "single" and len(engine.requests) == 1
    prompt = engine.requests[0][-1].content
    assert doc.text in prompt and QUESTION in prompt
    assert prompt.index(doc.text) < prompt.rindex(QUESTION)  # the question after the text: a second one reuses it
    assert ("Read the document below" in prompt) == (style == "instruct")  # a base model gets no instruction
    assert result.answer == "It is 4417-B." and result.chunks_read == result.chunk_total == 1
    assert [p.source.label for p in result.points] == ["§ Part 1 – § Part 3"]
    assert render_answer(result, links=True).startswith("It is 4417-B. ([§ Part 1 – § Part 3](source:0))")


@pytest.mark.parametrize("style", ["instruct", "base"])
def test_an_answer_only_in_the_last_part_of_a_long_document_cites_that_part(style: str) -> None:
    engine = fake()
    doc = extract_text(document(), name="report.md")
    events: list[SummaryProgress] = []
    result = ask(engine, doc, QUESTION, AskOptions(style=style), on_progress=events.append)
    assert result.mode == "map" and result.chunk_total > 3
    assert result.chunks_read == result.chunk_total and not result.cancelled
    requests = map_requests(engine)
    assert len(requests) == result.chunk_total == len(engine.requests)  # one part answered: no combine call
    seen = [t for r in requests for t in re.findall(r"\bP(\d+x\d+)\b", part_text(r))]
    assert seen == [f"{s}x{i}" for s in range(12) for i in range(5)]  # every paragraph read once, in order
    assert all(QUESTION in r for r in requests)
    last = result.parts[-1]
    assert [p.answered for p in result.parts] == [False] * (result.chunk_total - 1) + [True]
    assert [p.source.chunks for p in result.points] == [(last.index,)]
    assert result.points[0].source.label == last.label and last.last == "§ Part 12"
    assert result.answer == "The launch code is 4417-B."
    markdown = render_answer(result, links=True)
    assert f"The launch code is 4417-B. ([{last.label}](source:0))" in markdown
    assert not any(f"[{p.label}]" in markdown for p in result.parts[:-1])
    assert f"Read all {result.chunk_total} parts of report.md; 1 had an answer." in markdown
    # progress: part i of N in order, and the answer arrives with the last part
    assert list(dict.fromkeys(e.chunk for e in events)) == list(range(1, result.chunk_total + 1))
    assert [(e.chunk, e.point.source.label) for e in events if e.point is not None] == [(last.index + 1, last.label)]
    assert all(e.chunks == result.chunk_total and e.eta_s is not None for e in events)


def test_base_models_get_completion_prompts_and_chat_models_instructions() -> None:
    def loaded(spec: LocalModel | Endpoint, chat_format: str) -> LoadedModel:
        return LoadedModel(spec=spec, name="m", n_ctx=4096, backend="CPU", chat_format=chat_format, load_s=0.0)

    local = LocalModel(path=Path("m.gguf"))
    assert uses_base_prompts(loaded(local, "plain"), AskOptions())  # no chat template: the starter model
    assert not uses_base_prompts(loaded(local, "gguf-template"), AskOptions())
    assert not uses_base_prompts(loaded(Endpoint(url="http://127.0.0.1:9/v1", model_id="m"), "server"), AskOptions())
    assert not uses_base_prompts(loaded(local, "plain"), AskOptions(style="instruct"))
    with pytest.raises(ValueError):
        AskOptions(style="poem")


def test_the_instruction_and_examples_come_before_the_part_so_the_kv_prefix_is_shared() -> None:
    for style in ("instruct", "base"):
        engine = fake()
        ask(engine, extract_text(document()), QUESTION, AskOptions(style=style))
        requests = map_requests(engine)
        marker = "<<<" if style == "instruct" else "Text: P"
        assert len({r[: r.index(marker)] for r in requests}) == 1 and len(requests) > 2


def test_parts_that_answer_not_here_are_dropped_in_every_spelling() -> None:
    for text in (*NOT_HERE_REPLIES, "  ", "…", f"{NOT_HERE}: the text is about voles.", "None.", "Unknown",
                 "The text does not say.", "本部分未提及发射代码。", f"Question: {QUESTION}"):
        assert is_not_here(text, QUESTION), text
    for text in ("4417-B", "Answer: 4417-B.", "Not until 1921: then Ada Lind founded it.", "No, it was 1921.",
                 "Notably, the code is 4417-B.", "发射代码是 4417-B。"):
        assert not is_not_here(text, QUESTION), text
    assert part_answer("Answer: The launch code is 4417-B.", QUESTION) == "The launch code is 4417-B."


def test_a_base_models_answer_is_kept_only_when_the_part_holds_its_words() -> None:
    part = "The committee met on Tuesday. The launch code for the rocket is 4417-B, kept in the red safe."
    assert grounded("4417-B.", part, QUESTION) and grounded("In the red safe.", part, QUESTION)
    assert not grounded("12345678901234567890123", part, QUESTION)
    assert not grounded("The launch code for the rocket.", part, QUESTION)  # only the question's own words
    assert part_answer("The forest.", "Where do kestrels nest?", part) == ""
    assert part_answer("The forest.", "Where do kestrels nest?") == "The forest."  # instruct: trusted
    assert grounded("发射代码是4417", "代码是4417-B", "火箭的代码？")

    inventive = fake(answer=lambda m: "4417-B." if "4417-B" in part_text(m[-1].content) else "1234567890123")
    result = ask(inventive, extract_text(document()), QUESTION, AskOptions(style="base"))
    assert result.chunks_answered == 1 and result.parts[-1].answer == "4417-B."


def test_answers_from_several_parts_are_combined_and_cite_exactly_those_parts() -> None:
    engine = fake()
    result = ask(engine, extract_text(document(facts={1: OTHER_FACT, 11: FACT}), name="report.md"), QUESTION,
                 AskOptions(style="instruct"))
    answered = [p for p in result.parts if p.answered]
    assert [p.answer for p in answered] == ["The spare code is 9902-C.", "The launch code is 4417-B."]
    combine = [r[-1].content for r in engine.requests if "Combined answer:" in r[-1].content]
    assert len(combine) == 1
    assert QUESTION in combine[0] and "9902-C" in combine[0] and "4417-B" in combine[0]
    assert f"({answered[0].label}) The spare code" in combine[0]
    assert result.answer == "Two codes: 4417-B for the launch, and 9902-C as the spare."
    assert [p.source.chunks for p in result.points] == [(answered[0].index,), (answered[1].index,)]
    markdown = render_answer(result, links=True)
    assert f"Sources: [{answered[0].label}](source:0), [{answered[1].label}](source:1)" in markdown
    assert f"- The spare code is 9902-C. ([{answered[0].label}](source:0))" in markdown
    assert "2 had an answer" in markdown
    sources = result.to_json()["sources"]
    assert [s["chunks"] for s in sources] == [[answered[0].index], [answered[1].index]]  # type: ignore[index]


def test_no_part_with_the_answer_says_so() -> None:
    engine = fake()
    result = ask(engine, extract_text(document(facts={}), name="report.md"), QUESTION, AskOptions(style="instruct"))
    assert result.points == [] and result.answer == "" and result.chunks_read == result.chunk_total
    assert f"None of the {result.chunk_total} parts of report.md answers this question." in render_answer(result)


def test_stop_ends_the_reading_and_names_the_parts_not_read() -> None:
    engine = FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512)
    engine.load(LocalModel(path=Path("fake.gguf")))
    stop = threading.Event()

    def progress(p: SummaryProgress) -> None:
        if p.phase == "map" and p.chunk == 3:
            stop.set()

    doc = extract_text(document(facts={0: FACT}), name="report.md")
    started = time.perf_counter()
    result = ask(engine, doc, QUESTION, AskOptions(style="instruct"), stop=stop, on_progress=progress)
    assert time.perf_counter() - started < 5
    assert result.cancelled and result.chunks_read == 2 < result.chunk_total
    assert [p.read for p in result.parts] == [True, True] + [False] * (result.chunk_total - 2)
    assert len(engine.requests) <= 3 and not any("Combined answer:" in r[-1].content for r in engine.requests)
    assert [p.source.chunks for p in result.points] == [(0,)]  # what was found is kept
    markdown = render_answer(result)
    assert f"Stopped after reading 2 of {result.chunk_total} parts of report.md." in markdown
    assert "The launch code is 4417-B." in markdown
    chunks = result.to_json()["chunks"]
    assert [c["read"] for c in chunks] == [p.read for p in result.parts]  # type: ignore[index]


def test_a_large_streamed_document_is_asked_part_by_part_without_holding_it(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_module, "LARGE_BYTES", 4096)
    path = tmp_path / "big.md"
    path.write_text(document(), encoding="utf-8")
    doc = extract(path)
    assert doc.large
    engine = fake()
    plan = plan_ask(engine, doc, QUESTION, AskOptions(style="instruct"))
    assert plan.mode == "map" and plan.estimated and plan.chunks is None
    result = ask(engine, doc, QUESTION, AskOptions(style="instruct"), plan=plan)
    assert result.chunks_read == result.chunk_total > 3 and all(p.text == "" for p in result.parts)
    seen = [t for r in map_requests(engine) for t in re.findall(r"\bP(\d+x\d+)\b", part_text(r))]
    assert seen == [f"{s}x{i}" for s in range(12) for i in range(5)]
    assert [p.source.chunks for p in result.points] == [(result.parts[-1].index,)]


def test_a_question_too_long_for_the_context_is_refused_in_words() -> None:
    with pytest.raises(EngineError, match="too small to read a long document"):
        plan_ask(fake(), extract_text(document()), "Why? " * 400, AskOptions(style="instruct"))
    with pytest.raises(ValueError, match="empty"):
        ask(fake(), extract_text(document()), "   ")


@pytest.mark.real_model
def test_real_model_reads_every_part_and_finds_the_last_one(starter_model: Path) -> None:
    from app.engines.llama.engine import LlamaEngine

    topics = ["Kestrels hover over fields while hunting voles and mice.",
              "The river floods the valley every spring after the snow melts.",
              "The museum holds portraits of merchants from the sixteenth century.",
              "Bakers in the town start work at four in the morning."]
    sections = [f"# Chapter {i + 1}\n\n" + " ".join(topics[(i + k) % 4] for k in range(12)) for i in range(6)]
    sections[-1] += f" {FACT}"
    engine = LlamaEngine()
    engine.load(LocalModel(path=starter_model, n_ctx=512))
    try:
        started = time.perf_counter()
        result = ask(engine, extract_text("\n\n".join(sections), name="report.md"), QUESTION,
                     AskOptions(map_max_tokens=16, answer_tokens=32, temperature=0.0))
        elapsed = time.perf_counter() - started
    finally:
        engine.unload()
    assert result.mode == "map" and result.chunk_total >= 2
    assert result.chunks_read == result.chunk_total and not result.cancelled
    assert result.decode_tps > 0 and result.completion_tokens > 0
    # the starter model (a base model, greedy) finds the code in the last part only; its invented
    # answers for the other parts ("111111…") are not grounded in them and are dropped
    assert [p.source.chunks for p in result.points] == [(result.chunk_total - 1,)]
    assert "4417-B" in result.answer
    assert elapsed < 120
