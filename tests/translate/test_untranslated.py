"""A reply still in the source language is not counted as translated: it is marked, and the source kept.

A small model sometimes copies its input; the count of translated segments used to include
those copies. Detection needs enough letters and a confident language before it says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from app.engines.contract import ChatMessage, LocalModel
from app.engines.fake import FakeEngine
from app.translate.runner import prompt_segment, translate_document

FRENCH = {
    "The weather is lovely today, so we are going for a long walk by the river.":
        "Il fait très beau aujourd'hui, alors nous allons faire une longue promenade au bord de la rivière.",
}


def copy_unless_known(messages: Sequence[ChatMessage]) -> str:
    """Translates what it knows; copies the rest back, as a small model sometimes does."""
    source = prompt_segment(messages)
    return FRENCH.get(source, source)


def engine() -> FakeEngine:
    fake = FakeEngine(reply=copy_unless_known, tokens_per_s=0, prefill_tps=0)
    fake.load(LocalModel(path=Path("fake.gguf")))
    return fake


def test_a_copied_segment_is_marked_and_not_counted() -> None:
    text = ("The weather is lovely today, so we are going for a long walk by the river.\n\n"
            "The kestrel hovers above the meadow, watching for voles in the tall grass.\n\n"
            "Kestrel 2.0")
    result = translate_document(engine(), text, "fr", "en")
    assert result.translations[0] is not None and result.translations[0].startswith("Il fait très beau")
    assert result.translations[1] is None  # came back in English: the source is kept, uncounted
    assert result.translations[2] == "Kestrel 2.0"  # too few letters to judge: a name stays as it came
    assert result.segments_translated == 2
    untranslated = [w for w in result.warnings if w.kind == "untranslated"]
    assert [(w.segment, w.message) for w in untranslated] == [
        (1, "this part came back in English, not French; the source is kept")]
    assert "The kestrel hovers above the meadow" in result.text()  # shown as it was, not lost


def test_a_copied_segment_is_asked_again_next_time() -> None:
    fake = engine()
    cache: dict[tuple[str, str, str, str], str] = {}
    text = "The kestrel hovers above the meadow, watching for voles in the tall grass."
    translate_document(fake, text, "fr", "en", cache=cache)
    translate_document(fake, text, "fr", "en", cache=cache)
    assert len(fake.requests) == 2 and cache == {}  # a copy is never cached as a translation
