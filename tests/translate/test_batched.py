"""Document segments through an engine that decodes several at once: the same translation, in order."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from app.engines.contract import ChatMessage, LocalModel
from app.engines.fake import FakeEngine
from app.translate.runner import SegmentDone, SegmentText, prompt_segment, translate_document
from tests.translate.test_translate import upper

DOCUMENT = "\n\n".join([
    "First paragraph here.", "Second one, a little longer than the first.", "First paragraph here.",
    "Nothing comes back.", "A third paragraph.", "Yes.", "The last one."])


def reply(messages: Sequence[ChatMessage]) -> str:
    segment = prompt_segment(messages)
    if segment == "Nothing comes back.":
        return "" if len(messages) == 2 else "Retried."  # empty at first; the one-message retry answers
    if segment == "Yes.":
        return "Oui. " * 12  # a loop: the reply reader cuts it
    return segment.upper()


def make_engine(answer: Callable[[Sequence[ChatMessage]], str], **kwargs: object) -> FakeEngine:
    options: dict[str, object] = {"tokens_per_s": 0, "prefill_tps": 0, "chat_format": "gguf-template", **kwargs}
    engine = FakeEngine(reply=answer, **options)  # type: ignore[arg-type]
    engine.load(LocalModel(path=Path("fake.gguf")))
    return engine


def run(width: int, chat_format: str = "gguf-template", **kwargs: object) -> tuple[FakeEngine, list[object], object]:
    engine = make_engine(reply, batch_width=width, chat_format=chat_format, **kwargs)
    reports: list[object] = []
    result = translate_document(engine, DOCUMENT, "fr", "en", report=reports.append)
    return engine, reports, result


@pytest.mark.parametrize("chat_format", ["gguf-template", "plain"])
def test_the_segments_go_as_one_batch_and_come_back_as_one_by_one(chat_format: str) -> None:
    serial, serial_reports, one = run(1, chat_format)
    batched, batched_reports, many = run(3, chat_format)
    assert serial.batch_runs == [] and batched.batch_runs == [6]  # each text once: the repeat is cached
    assert batched.max_in_flight == 3
    assert many.translations == one.translations  # type: ignore[attr-defined]
    assert many.warnings == one.warnings  # type: ignore[attr-defined]

    def done(reports: list[object]) -> list[tuple[int, str, bool, bool]]:
        return [(r.index, r.text, r.translated, r.cached) for r in reports if isinstance(r, SegmentDone)]

    assert done(batched_reports) == done(serial_reports)
    assert [i for i, *_ in done(batched_reports)] == list(range(7))


def test_the_live_text_is_the_segment_being_waited_for() -> None:
    _, reports, _ = run(3, tokens_per_s=2000)
    order: list[int] = []
    for r in reports:
        if isinstance(r, SegmentText):
            assert r.index == len(order)  # never a segment after the one the window shows next
        elif isinstance(r, SegmentDone):
            order.append(r.index)
    assert any(isinstance(r, SegmentText) for r in reports)


def test_cancel_mid_batch_keeps_the_segments_done_in_order() -> None:
    stop = threading.Event()

    def report(payload: object) -> None:
        if isinstance(payload, SegmentDone) and payload.index == 1:
            stop.set()

    engine = make_engine(upper, batch_width=2, tokens_per_s=500)
    text = "\n\n".join(f"Paragraph number {i} is here." for i in range(8))
    result = translate_document(engine, text, "fr", "en", stop=stop, report=report)
    assert result.cancelled and result.segments_translated == 2
    assert result.translations[:2] == ["PARAGRAPH NUMBER 0 IS HERE.", "PARAGRAPH NUMBER 1 IS HERE."]
    assert result.translations[2:] == [None] * 6
    assert engine.last_stats is not None and engine.last_stats.stop_reason == "cancelled"


def test_an_engine_failure_mid_batch_is_reported_with_what_was_done() -> None:
    engine = make_engine(upper, batch_width=2, fail_after_tokens=3)
    result = translate_document(engine, "\n\n".join(f"Paragraph number {i} here." for i in range(4)), "fr", "en")
    assert result.error == "The fake engine failed on purpose." and result.segments_translated == 0
