"""Chunking: within budget, on paragraph/sentence boundaries, never inside a character."""

from __future__ import annotations

import re

import pytest

from app.documents.chunking import JOIN, Chunk, chunk_sections, source_label, split_text
from app.documents.document import Section


class Counter:
    """A stand-in tokenizer: ~4 characters per token for Latin text, 1 per CJK character."""

    def __init__(self) -> None:
        self.calls = 0
        self.chars = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        cjk = sum(1 for ch in text if ord(ch) > 0x2E80)
        return cjk + (len(text) - cjk + 3) // 4


def sections_of(paragraphs_per_section: list[list[str]], label: str = "p.") -> list[Section]:
    return [Section(i, f"{label} {i + 1}", JOIN.join(paras)) for i, paras in enumerate(paragraphs_per_section)]


def words(n: int, seed: int) -> str:
    vocabulary = ["kestrel", "hover", "field", "vole", "wind", "grass", "wing", "sky", "tail", "feather"]
    return " ".join(vocabulary[(seed * 7 + i * 3) % len(vocabulary)] for i in range(n)) + "."


def test_every_chunk_fits_and_all_text_is_covered_in_order() -> None:
    sections = sections_of([[words(40 + (s * p) % 30, s * 10 + p) for p in range(6)] for s in range(12)])
    count = Counter()
    chunks = list(chunk_sections(sections, 300, count))
    assert len(chunks) > 3
    for chunk in chunks:
        assert Counter()(chunk.text) <= 300
        assert chunk.tokens == Counter()(chunk.text)
    assert JOIN.join(c.text for c in chunks) == JOIN.join(s.text for s in sections)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    # sources run in order and every section is inside some chunk's range
    covered = set()
    for chunk in chunks:
        assert chunk.first_section <= chunk.last_section
        covered.update(range(chunk.first_section, chunk.last_section + 1))
        assert chunk.first_label == f"p. {chunk.first_section + 1}"
        assert chunk.last_label == f"p. {chunk.last_section + 1}"
    assert covered == set(range(len(sections)))


def test_chunks_break_between_paragraphs_and_fill_most_of_the_budget() -> None:
    paragraphs = [words(30, i) for i in range(80)]
    chunks = list(chunk_sections(sections_of([paragraphs]), 400, Counter()))
    for chunk in chunks:
        for para in chunk.text.split(JOIN):
            assert para in paragraphs  # whole paragraphs only
    assert all(c.tokens >= 400 * 0.8 for c in chunks[:-1])


def test_tokenizing_is_not_repeated_much() -> None:
    sections = sections_of([[words(50, s * 9 + p) for p in range(8)] for s in range(20)])
    total = sum(len(s.text) for s in sections)
    count = Counter()
    chunks = list(chunk_sections(sections, 500, count))
    assert count.chars < total * 1.6  # about one real count per chunk, not one per paragraph
    assert count.calls <= 2 * len(chunks) + 2


def test_a_giant_paragraph_is_split_between_sentences() -> None:
    sentences = [f"Sentence number {i} says something about kestrels and voles." for i in range(200)]
    chunks = list(chunk_sections([Section(0, "§ Wall of text", " ".join(sentences))], 200, Counter()))
    assert len(chunks) > 5
    for chunk in chunks:
        assert Counter()(chunk.text) <= 200
        assert chunk.text.rstrip().endswith(".")
        assert chunk.label == "§ Wall of text"
    assert "".join(c.text for c in chunks) == " ".join(sentences)


def test_cjk_text_without_spaces_is_cut_between_characters_never_inside_one() -> None:
    text = "红隼在田野上空悬停寻找田鼠🦅" * 400 + "é" * 50  # no spaces, no punctuation, emoji too
    text += "e\u0301" * 300  # combining accents must stay with their letter
    chunks = list(chunk_sections([Section(0, "ll. 1–1", text)], 256, Counter()))
    assert len(chunks) > 10
    assert "".join(c.text for c in chunks) == text
    for chunk in chunks:
        assert Counter()(chunk.text) <= 256
        assert chunk.text.encode("utf-8").decode("utf-8") == chunk.text
        assert not chunk.text.startswith("\u0301")


def test_real_byte_level_counter_never_sees_a_broken_character() -> None:
    """A byte-based tokenizer would choke on half a UTF-8 sequence; chunk texts always decode."""
    def count(text: str) -> int:
        data = text.encode("utf-8")
        data.decode("utf-8", errors="strict")
        return len(data) // 3 + 1

    text = "Ünïcödé 文字 テキスト 텍스트 " * 500
    chunks = list(chunk_sections([Section(0, "p. 1", text)], 300, count))
    assert "".join(c.text for c in chunks) == text
    assert all(count(c.text) <= 300 for c in chunks)


def test_target_evens_out_the_chunks() -> None:
    paragraphs = [words(25, i) for i in range(100)]
    budget = 600
    count = Counter()
    total = count(JOIN.join(paragraphs))
    n = -(-total // budget)
    chunks = list(chunk_sections(sections_of([paragraphs]), budget, count, target=int(total / n * 1.12)))
    sizes = [c.tokens for c in chunks]
    assert len(chunks) == n
    assert min(sizes) > max(sizes) / 2  # no tiny last chunk costing a whole map call


def test_lazy_sections_are_consumed_as_needed() -> None:
    consumed = []

    def sections():  # type: ignore[no-untyped-def]
        for i in range(1000):
            consumed.append(i)
            yield Section(i, f"ll. {i * 10 + 1}–{i * 10 + 10}", words(60, i))

    iterator = chunk_sections(sections(), 300, Counter())
    first = next(iterator)
    assert isinstance(first, Chunk) and len(consumed) < 20
    assert first.label.startswith("ll. 1–")


def test_a_budget_too_small_is_refused() -> None:
    with pytest.raises(ValueError):
        list(chunk_sections([Section(0, "p. 1", "text")], 4, Counter()))


@pytest.mark.parametrize(("first", "last", "label"), [
    ("p. 3", "p. 3", "p. 3"), ("p. 3", "p. 7", "pp. 3–7"), ("ll. 1–40", "ll. 41–90", "ll. 1–90"),
    ("¶ 1–4", "¶ 9", "¶ 1–9"), ("§ Intro", "§ Methods", "§ Intro – § Methods"), ("l. 5", "ll. 6–9", "ll. 5–9"),
    ("p. 2", "§ Notes", "p. 2 – § Notes"),
])
def test_source_labels(first: str, last: str, label: str) -> None:
    assert source_label(first, last) == label


def test_split_text_prefers_sentences_then_spaces() -> None:
    pieces = split_text("One two three. Four five six. " + "x" * 50, 20)
    assert pieces[0] == "One two three. " and all(len(p) <= 20 for p in pieces)
    assert "".join(pieces) == "One two three. Four five six. " + "x" * 50
    assert re.fullmatch(r"x+", pieces[-1])


def test_tiny_paragraphs_denser_than_the_learned_ratio_still_chunk() -> None:
    """100,000 one-word paragraphs whose first chunks hold more tokens per character than the
    document's average: the count must steer the cut, never end in "a single character does
    not fit" (which a 100,000-div page used to hit)."""
    from app.documents.chunking import TokenRatio

    paragraphs = [f"t{i}" for i in range(100_000)]
    sections = [Section(i, f"¶ {i * 1000 + 1}–{i * 1000 + 1000}", JOIN.join(paragraphs[i * 1000:(i + 1) * 1000]))
                for i in range(100)]

    def count(text: str) -> int:  # every paragraph and every break is a token, as with a word tokenizer
        return text.count(JOIN) * 2 + 1

    ratio = TokenRatio()
    whole = JOIN.join(s.text for s in sections)
    ratio.learn(len(whole), count(whole))  # the plan learns the whole document's average first
    chunks = list(chunk_sections(sections, 3500, count, target=3400, ratio=ratio))
    assert all(c.tokens <= 3500 for c in chunks)
    assert JOIN.join(c.text for c in chunks) == whole
    assert len(chunks) < 70  # well filled: about 1,750 paragraphs each
