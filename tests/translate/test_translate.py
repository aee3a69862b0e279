"""Translation core: segmentation and reassembly per format, glossary, cache, cancel, prompts."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from app.base.languages import get_language
from app.engines.contract import ChatMessage, LocalModel
from app.engines.fake import FakeEngine
from app.translate import runner as runner_module
from app.translate.glossary import Glossary, GlossaryEntry, GlossaryError
from app.translate.runner import (
    DocumentError,
    SegmentDone,
    SegmentText,
    TranslationStarted,
    completion_request,
    document_from_text,
    load_document,
    prompt_segment,
    split_sentences,
    translate_document,
)
from app.translate.segments import restore_inline, split_markdown, split_plain_text

RICH_MARKDOWN = """---
title: "Kestrel guide"
tags: [llm, offline]
---

# Kestrel user guide #

Kestrel runs **language models** on your own computer.
It never sends your text anywhere.{HARD_BREAK}
See the [installation guide](https://example.com/install "Install") or <https://example.com>.

## Install

1. Download the installer.
2. Run `setup.sh --prefix ~/.local` and wait.
   It takes about a minute.

   A second paragraph inside the item.
- [ ] Check the *model* folder
- [x] Done already
  * nested bullet item

> Quoted wisdom goes here.
> And continues on this line.
>
> > Nested quote text.

```python
def hello(name: str) -> str:
    return f"Hello, {name}!"  # Translate me not
```

    indented code block stays
    more code

| Feature | Status | Notes |
|:--------|:------:|------:|
| Chat    | done   | `stream()` works \\| fine |
| Translate | new | 42 |

<div class="note">
  <p>HTML block stays.</p>
</div>

<!-- a comment that stays -->

Setext heading
==============

***

Final paragraph with a footnote[^1] and a reference [link][ref].
![A kestrel hovering](images/kestrel.png)

[ref]: https://example.com/ref
[^1]: The footnote text.

~~~
tilde fence stays
~~~
Trailing text without a newline\t""".replace("{HARD_BREAK}", "  ")  # two trailing spaces: a Markdown line break


def identity(messages: Sequence[ChatMessage]) -> str:
    return prompt_segment(messages)


def make_engine(reply: Callable[[Sequence[ChatMessage]], str] = identity, **kwargs: object) -> FakeEngine:
    """An instruct model (it has a chat template) unless ``chat_format="plain"`` makes it a base model."""
    kwargs.setdefault("chat_format", "gguf-template")
    engine = FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, **kwargs)  # type: ignore[arg-type]
    engine.load(LocalModel(path=Path("fake.gguf")))
    return engine


def upper(messages: Sequence[ChatMessage]) -> str:
    return prompt_segment(messages).upper()


# ---- plain text and Markdown ------------------------------------------------------------
def test_plain_text_keeps_every_whitespace_character() -> None:
    text = "  First paragraph,\n\tsecond line.  \n\n\n   \nSecond paragraph.\r\n\r\n12345\n\nLast"
    template = split_plain_text(text)
    assert template.segments == ["First paragraph,\nsecond line.", "Second paragraph.", "Last"]
    assert template.render(template.segments) == text
    assert template.render(["A\nB", "C", "D"]) == "  A\n\tB  \n\n\n   \nC\r\n\r\n12345\n\nD"


@pytest.mark.parametrize(("newline", "encoding"), [("\n", "utf-8"), ("\r\n", "utf-8"), ("\n", "utf-8-sig"),
                                                  ("\r\n", "utf-16"), ("\n", "gb18030")])
def test_markdown_identity_round_trip_is_byte_identical(tmp_path: Path, newline: str, encoding: str) -> None:
    path = tmp_path / "guide.md"
    text = RICH_MARKDOWN + "\n\n中文段落：这个软件在你的电脑上运行。"
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    document = load_document(path)
    result = translate_document(make_engine(), document, "fr", "en")
    assert result.segments == result.segments_translated == len(document.segments) > 20
    assert result.render() == path.read_bytes()


def test_markdown_translates_text_and_leaves_code_markup_and_urls_alone() -> None:
    document = document_from_text(RICH_MARKDOWN, "markdown")
    segments = document.segments
    assert "Kestrel user guide" in segments and "Nested quote text." in segments
    assert "Feature" in segments and "`stream()` works \\| fine" in segments
    assert "The footnote text." in segments and "nested bullet item" in segments
    for kept in ("def hello", "indented code", "HTML block", "a comment", "tilde fence", "title:", "42"):
        assert not any(kept in s for s in segments), kept
    out = translate_document(make_engine(upper), document, "de", "en").text()
    assert out.startswith('---\ntitle: "Kestrel guide"\ntags: [llm, offline]\n---\n\n# KESTREL USER GUIDE #\n')
    assert '    return f"Hello, {name}!"  # Translate me not\n```' in out
    assert "    indented code block stays\n" in out and "<!-- a comment that stays -->" in out
    assert "[INSTALLATION GUIDE](https://example.com/install \"Install\") OR <https://example.com>." in out
    assert "RUN `setup.sh --prefix ~/.local` AND WAIT.\n   IT TAKES ABOUT A MINUTE." in out
    assert "| CHAT    | DONE   | `stream()` WORKS \\| FINE |" in out and "|:--------|:------:|------:|" in out
    assert "- [x] DONE ALREADY\n  * NESTED BULLET ITEM" in out and "> > NESTED QUOTE TEXT." in out
    assert "SETEXT HEADING\n==============" in out and "![A KESTREL HOVERING](images/kestrel.png)" in out
    assert "[ref]: https://example.com/ref" in out and "[^1]: THE FOOTNOTE TEXT." in out


def test_restore_inline_puts_back_code_and_link_targets_in_order() -> None:
    source = "Run `make all` then open [the docs](https://x.y/Docs)."
    fixed, ok = restore_inline(source, "Lancez `MAKE ALL` puis ouvrez [la doc](HTTPS://X.Y/DOCS).")
    assert ok and fixed == "Lancez `make all` puis ouvrez [la doc](https://x.y/Docs)."
    _, ok = restore_inline(source, "Lancez make puis ouvrez la doc.")
    assert not ok


def test_a_changed_line_count_reuses_the_markup_of_the_first_line_break() -> None:
    template = split_markdown("> one\n> two\n> three\n")
    assert template.render(["un deux trois"]) == "> un deux trois\n"
    assert template.render(["un\ndeux"]) == "> un\n> deux\n"


# ---- DOCX ---------------------------------------------------------------------------------
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def make_docx(path: Path) -> None:
    import docx

    doc = docx.Document()
    doc.add_heading("Kestrel guide", level=1)
    p = doc.add_paragraph("Kestrel runs ")
    p.add_run("language models").bold = True
    p.add_run(" on your computer.")
    doc.add_paragraph("First item", style="List Bullet")
    doc.add_paragraph("Second item", style="List Number")
    doc.add_paragraph("12345")
    doc.add_paragraph("")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Feature"
    table.cell(0, 1).text = "Status"
    table.cell(1, 0).text = "Chat"
    table.cell(1, 1).text = "done"
    table.cell(0, 0).merge(table.cell(1, 0))
    p = doc.add_paragraph("Line one")
    p.add_run().add_break()
    p.add_run("line two\twith a tab")
    p = doc.add_paragraph("A picture: ")
    p.add_run().add_picture(io.BytesIO(PNG_1PX))
    p.add_run(" stays.")
    doc.add_paragraph("Quoted words", style="Quote")
    doc.sections[0].header.paragraphs[0].text = "Header text"
    doc.sections[0].footer.paragraphs[0].text = "Footer text"
    doc.save(str(path))


def _docx_paragraphs(data: bytes) -> list[tuple[str, str]]:
    import docx
    from docx.text.paragraph import Paragraph

    doc = docx.Document(io.BytesIO(data))
    body = doc.element.body
    return [(p.style.name if p.style else "", p.text) for p in (Paragraph(e, doc) for e in body.iter(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}p"))]


def test_docx_identity_keeps_paragraph_count_styles_and_text(tmp_path: Path) -> None:
    path = tmp_path / "guide.docx"
    make_docx(path)
    document = load_document(path)
    assert document.segments == ["Kestrel guide", "Kestrel runs language models on your computer.", "First item",
                                 "Second item", "Feature", "Chat", "Status", "done",
                                 "Line one\nline two\twith a tab", "A picture:  stays.", "Quoted words",
                                 "Header text", "Footer text"]
    result = translate_document(make_engine(), document, "fr", "en")
    assert result.segments_translated == result.segments
    assert _docx_paragraphs(result.render()) == _docx_paragraphs(path.read_bytes())


def test_docx_translation_goes_into_the_first_run_and_keeps_styles_tables_and_pictures(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "guide.docx"
    make_docx(path)
    result = translate_document(make_engine(upper), load_document(path), "fr", "en")
    out = tmp_path / "guide.fr.docx"
    out.write_bytes(result.render())
    before, after = _docx_paragraphs(path.read_bytes()), _docx_paragraphs(out.read_bytes())
    assert [style for style, _ in after] == [style for style, _ in before]
    assert [text for _, text in after] == [text.upper() for _, text in before]
    doc = docx.Document(str(out))
    runs = doc.paragraphs[1].runs
    assert runs[0].text == "KESTREL RUNS LANGUAGE MODELS ON YOUR COMPUTER." and not runs[0].bold
    assert all(r.text == "" for r in runs[1:])
    picture = next(p for p in doc.paragraphs if p.text.startswith("A PICTURE"))
    assert picture._p.xpath(".//w:drawing")
    assert doc.tables[0].cell(0, 0).text == "FEATURE\nCHAT" and doc.tables[0].cell(0, 1).text == "STATUS"
    assert doc.sections[0].header.paragraphs[0].text == "HEADER TEXT"
    assert doc.sections[0].footer.paragraphs[0].text == "FOOTER TEXT"
    partial = result.document.render(["ONLY THE TITLE", *[None] * (result.segments - 1)])  # e.g. after a cancel
    assert [text for _, text in _docx_paragraphs(partial)] == ["ONLY THE TITLE", *[t for _, t in before[1:]]]


# ---- HTML ---------------------------------------------------------------------------------
HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Kestrel guide</title>
<style>p { color: red }</style><script>var greeting = "hello world";</script></head>
<body><!-- keep this comment -->
<h1>Kestrel   guide</h1>
<p>Kestrel runs <b>language models</b> on
   your computer &amp; never <a href="https://x.y/Page">phones home</a>.</p>
<pre>code stays here</pre><p>Use <code>pip install</code> now.</p>
<ul><li>One</li><li>2</li></ul><table><tr><td>Cell text</td></tr></table>
</body></html>"""


def test_html_identity_and_translation_keep_the_tree(tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    path = tmp_path / "page.html"
    path.write_text(HTML, encoding="utf-8")
    document = load_document(path)
    assert document.segments == ["Kestrel guide", "Kestrel guide", "Kestrel runs", "language models",
                                 "on your computer & never", "phones home", "Use", "now.", "One", "Cell text"]
    same = translate_document(make_engine(), document, "fr", "en").render()
    assert same == BeautifulSoup(HTML, "html.parser").encode("utf-8")
    out = translate_document(make_engine(upper), load_document(path), "fr", "en").render().decode("utf-8")
    assert "<title>KESTREL GUIDE</title>" in out and "<h1>KESTREL GUIDE</h1>" in out
    assert '<a href="https://x.y/Page">PHONES HOME</a>' in out and "<pre>code stays here</pre>" in out
    assert '"hello world"' in out and "<code>pip install</code> NOW." in out and "<li>2</li>" in out
    assert "<!-- keep this comment -->" in out and "p { color: red }" in out


# ---- bad inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.txt", b"", "is empty"),
    ("blank.md", b"  \n\n ", "is empty"),
    ("binary.txt", bytes(range(256)) * 4, "not a text file"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "not a valid DOCX"),
    ("numbers.txt", b"123 456\n\n789", "no text to translate"),
    ("slides.pdf", b"%PDF-1.4", "unsupported file type .pdf"),
])
def test_bad_documents_are_refused_with_one_clear_line(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=message) as info:
        load_document(path)
    assert "\n" not in str(info.value)
    with pytest.raises(DocumentError, match="file not found"):
        load_document(tmp_path / "missing.docx")


def test_hostile_documents_end_quickly_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: linear HTML; zip bombs and millions of elements refused before python-docx; a bound on paragraphs."""
    import time

    from app.documents import archive
    from tests.documents.samples import make_raw_docx, make_zip_bomb_docx, nested_divs_html

    nested = tmp_path / "nested.html"
    nested.write_text(nested_divs_html(100_000), encoding="utf-8")
    began = time.monotonic()
    assert len(load_document(nested).segments) == 100_000
    assert time.monotonic() - began < 10
    monkeypatch.setattr(archive, "MAX_PARAGRAPHS", 1_000)
    for path, words in ((make_zip_bomb_docx(tmp_path / "bomb.docx", 300), "expands to 300 MiB when unpacked"),
                        (make_raw_docx(tmp_path / "many.docx", b"<w:p/>", 4_000_000), "XML elements"),
                        (make_raw_docx(tmp_path / "long.docx", b"<w:p><w:r><w:t>x</w:t></w:r></w:p>", 1_010),
                         "more than 1,000 paragraphs")):
        began = time.monotonic()
        with pytest.raises(DocumentError, match=words) as info:
            load_document(path)
        assert time.monotonic() - began < 10 and str(info.value).startswith(f"{path.name}: ")


# ---- glossary -----------------------------------------------------------------------------
def test_glossary_is_listed_only_when_used_and_missing_terms_are_warned() -> None:
    glossary = Glossary([GlossaryEntry("Kestrel", keep=True), GlossaryEntry("engine", "moteur"),
                         GlossaryEntry("unused", "inutile")])
    engine = make_engine(lambda m: prompt_segment(m).replace("engine", "motor"))
    text = "Kestrel has an engine.\n\nNo terms here.\n\nThe engine of Kestrel is fast."
    result = translate_document(engine, text, "fr", "en", glossary=glossary)
    systems = [m[0].content for m in engine.requests]
    assert '"Kestrel": keep as is' in systems[0] and '"engine": "moteur"' in systems[0]
    assert "unused" not in systems[0] and "Use these fixed translations" not in systems[1]
    assert systems[0].index("Translate the text from English to French") == 0
    assert [(w.segment, w.kind) for w in result.warnings] == [(0, "glossary"), (2, "glossary")]
    assert "“engine” should be translated as “moteur”" in result.warnings[0].message


def test_glossary_files_round_trip_and_bad_files_say_why(tmp_path: Path) -> None:
    glossary = Glossary([GlossaryEntry("Kestrel", keep=True), GlossaryEntry("engine", "moteur")])
    for name in ("g.json", "g.tsv"):
        glossary.save(tmp_path / name)
        loaded = Glossary.load(tmp_path / name)
        assert [(e.term, e.required) for e in loaded.active()] == [("Kestrel", "Kestrel"), ("engine", "moteur")]
    (tmp_path / "bad.json").write_text("[{\"translation\": 1}]", encoding="utf-8")
    with pytest.raises(GlossaryError, match="entry 1"):
        Glossary.load(tmp_path / "bad.json")
    assert Glossary([GlossaryEntry("Kestrel", keep=True)]).matching("kestrels fly") == []  # whole words only
    assert Glossary([GlossaryEntry("模型", "model")]).matching("语言模型很好")  # CJK: substrings


# ---- the pipeline -------------------------------------------------------------------------
def test_repeated_segments_are_translated_once() -> None:
    engine = make_engine(upper)
    result = translate_document(engine, "Hello there.\n\nOther text.\n\nHello there.\n\nHello there.", "fr", "en")
    assert len(engine.requests) == 2
    assert result.text() == "HELLO THERE.\n\nOTHER TEXT.\n\nHELLO THERE.\n\nHELLO THERE."


def test_cancel_keeps_finished_segments_and_the_rest_stays_in_the_source_language() -> None:
    stop = threading.Event()
    reports: list[object] = []

    def report(payload: object) -> None:
        reports.append(payload)
        if isinstance(payload, SegmentDone) and payload.index == 1:
            stop.set()

    text = "\n\n".join(f"Paragraph number {i}." for i in range(6))
    result = translate_document(make_engine(upper), text, "fr", "en", stop=stop, report=report)
    assert result.cancelled and result.segments == 6 and result.segments_translated == 2
    assert result.text().split("\n\n") == ["PARAGRAPH NUMBER 0.", "PARAGRAPH NUMBER 1.",
                                           *[f"Paragraph number {i}." for i in range(2, 6)]]
    assert isinstance(reports[0], TranslationStarted) and reports[0].total == 6


def test_progress_reports_stream_text_and_estimate_the_remaining_time() -> None:
    reports: list[object] = []
    engine = FakeEngine(reply=upper, tokens_per_s=2000, prefill_tps=0)
    engine.load(LocalModel(path=Path("fake.gguf")))
    translate_document(engine, "One two three four.\n\nFive six seven.", "fr", "en", report=reports.append)
    partial = [r.text for r in reports if isinstance(r, SegmentText) and r.index == 0]
    assert partial[0] == "ONE" and partial[-1] == "ONE TWO THREE FOUR."
    done = [r for r in reports if isinstance(r, SegmentDone)]
    assert [(d.index, d.total, d.translated) for d in done] == [(0, 2, True), (1, 2, True)]
    assert done[0].eta_s is not None and done[0].eta_s >= 0


def test_the_source_language_is_detected_and_named_in_the_instruction() -> None:
    engine = make_engine()
    result = translate_document(engine, "Il fait très beau aujourd'hui, alors nous allons au parc.", "en")
    assert result.detected and result.source_lang == "fr"
    assert engine.requests[0][0].content.startswith("Translate the text from French to English.")


def test_a_very_long_segment_is_split_at_sentences_to_fit_the_context() -> None:
    engine = make_engine(upper, n_ctx=256)
    paragraph = " ".join(f"Sentence number {i} has a few words." for i in range(60))
    result = translate_document(engine, paragraph, "fr", "en")
    assert result.segments == result.segments_translated == 1
    assert len(engine.requests) > 3 and result.text() == paragraph.upper()
    assert "".join(split_sentences(paragraph)) == paragraph
    assert split_sentences("第一句。第二句！Third one. Fourth") == ["第一句。", "第二句！", "Third one. ", "Fourth"]


def test_replies_are_cleaned_of_echoes_labels_quotes_and_loops() -> None:
    replies = {
        "Hello.": "Translate the text from English to French. Reply with the translation only.\n\nBonjour.",
        "Good night.": "Translation: “Bonne nuit.”",
        "Thanks.": "Merci.\nUser: and now something else",
        "Yes.": "Oui. Oui. Oui. Oui. Oui. Oui. Oui. Oui. Oui.",
    }
    engine = make_engine(lambda m: replies[prompt_segment(m)])
    result = translate_document(engine, "\n\n".join(replies), "fr", "en")
    assert result.translations == ["Bonjour.", "Bonne nuit.", "Merci.", "Oui."]


def test_an_empty_reply_is_retried_then_reported_as_not_translated() -> None:
    calls: list[int] = []

    def reply(messages: Sequence[ChatMessage]) -> str:
        calls.append(len(messages))
        return "" if prompt_segment(messages) == "Nothing comes back." else "Ok."

    result = translate_document(make_engine(reply), "Nothing comes back.\n\nFine.", "fr", "en")
    assert calls == [2, 1, 2, 2]  # system+user, then one user message, then sampling; then the next segment
    assert result.translations == [None, "Ok."] and result.segments_translated == 1
    assert [(w.segment, w.kind) for w in result.warnings] == [(0, "empty")]


def test_a_base_model_gets_each_segment_in_completion_style_without_chat_wrapping() -> None:
    engine = make_engine(upper, chat_format="plain")  # no chat template: the starter model's kind
    result = translate_document(engine, "Hello there.\n\nKestrel runs offline.", "fr", "en")
    assert [[(m.role, m.content) for m in r] for r in engine.requests] == [
        [("user", "English: Hello there.\nFrench:")], [("user", "English: Kestrel runs offline.\nFrench:")]]
    assert result.translations == ["HELLO THERE.", "KESTREL RUNS OFFLINE."]
    assert completion_request(None, get_language("de"), "Bonjour.") == "Text: Bonjour.\nGerman:"


def test_a_base_models_reply_ends_with_the_segments_lines_and_an_empty_one_is_sampled_once_more() -> None:
    replies = {"Hello.": " Bonjour.\nSpanish: Hola.\nGerman: Hallo.", "Nothing comes back.": ""}
    engine = make_engine(lambda m: replies[prompt_segment(m)], chat_format="plain")
    result = translate_document(engine, "Hello.\n\nNothing comes back.", "fr", "en")
    assert result.translations == ["Bonjour.", None]  # the model going on to other languages is cut
    assert len(engine.requests) == 3  # greedy, then sampled once (the chat form's retry is not for it)


def test_unknown_target_language_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        translate_document(make_engine(), "Hello.", "xx")


@pytest.mark.real_model
def test_the_starter_model_translates_every_segment_of_text_and_markdown(real_engine: object) -> None:
    text = translate_document(real_engine, "The weather is nice today.\n\nWe are going to the park.", "fr")  # type: ignore[arg-type]
    assert text.segments == text.segments_translated == 2 and not text.cancelled
    markdown = document_from_text("# Welcome\n\nKestrel runs models **offline**.\n\n- Fast\n- Private\n\n"
                                  "```\ncode stays\n```\n", "markdown")
    result = translate_document(real_engine, markdown, "de", "en")  # type: ignore[arg-type]
    assert result.segments == result.segments_translated == 4
    assert result.text().startswith("# ") and "```\ncode stays\n```\n" in result.text()


def test_text_already_in_the_target_language_is_not_sent_to_the_model() -> None:
    """Chinese to Chinese once ran ten minutes and changed nothing: now it is said at once."""
    engine = make_engine(upper)
    result = translate_document(engine, "今天天气很好，我们去公园散步吧。\n\n然后一起吃午饭。", "zh-Hans")
    assert result.same_language and result.source_lang == "zh-Hans" and result.detected
    assert engine.requests == [] and result.segments_translated == 0
    explicit = translate_document(engine, "Hello there, how are you today?", "en", "en")
    assert explicit.same_language and engine.requests == []


@pytest.fixture(autouse=True)
def echoes_count_as_translations(monkeypatch: pytest.MonkeyPatch) -> None:
    """This module's fake engine "translates" by echoing the text (upper-cased or not); the
    language check would rightly mark that untranslated, and these tests are about the rest."""
    monkeypatch.setattr(runner_module, "UNTRANSLATED_CONFIDENCE", 2.0)
