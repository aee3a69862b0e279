"""Extraction on real files of every type, generated here, and every bad input."""

from __future__ import annotations

import codecs
import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from app.documents import extract as extract_module
from app.documents.document import (
    CorruptDocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    ExtractionError,
    NeedsOCRError,
    UnsupportedFileError,
)
from app.documents.extract import extract, extract_text
from tests.documents.samples import make_docx, make_image_pdf, make_pdf


# ---- formats ------------------------------------------------------------------------
def test_pdf_pages_become_sections(tmp_path: Path) -> None:
    doc = extract(make_pdf(tmp_path / "report.pdf", ["First page text.", "Second page text.", "Third page."]))
    assert doc.kind == "pdf" and doc.pages == 3
    assert [s.label for s in doc.sections] == ["p. 1", "p. 2", "p. 3"]
    assert doc.sections[1].text == "Second page text."
    assert doc.characters == sum(len(s.text) for s in doc.sections)


def test_pdf_with_an_empty_page_keeps_page_numbers(tmp_path: Path) -> None:
    doc = extract(make_pdf(tmp_path / "gap.pdf", ["One.", "", "Three."]))
    assert doc.pages == 3 and [s.label for s in doc.sections] == ["p. 1", "p. 3"]


def test_pdf_falls_back_to_pypdf_when_pdfium_cannot_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdfium2

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise pypdfium2.PdfiumError("Failed to load document (PDFium: Data format error).")

    path = make_pdf(tmp_path / "fallback.pdf", ["Read by pypdf."])
    monkeypatch.setattr(pypdfium2, "PdfDocument", refuse)
    assert extract(path).sections[0].text == "Read by pypdf."


def test_docx_paragraphs_and_tables_in_order_with_headings(tmp_path: Path) -> None:
    doc = extract(make_docx(tmp_path / "notes.docx"))
    assert [s.label for s in doc.sections] == ["¶ 1", "§ Introduction", "§ Habitat"]
    intro = doc.sections[1].text
    assert intro.index("Kestrels hover") < intro.index("Species | Wingspan") < intro.index("After the table")
    assert "Common kestrel | 76 cm" in intro


def test_docx_merged_and_nested_table_cells(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Results", level=1)
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Merged header"
    table.cell(0, 2).text = "Right"
    inner = table.cell(1, 0).add_table(rows=1, cols=1)
    inner.cell(0, 0).text = "Nested value"
    table.cell(1, 2).text = "Last"
    path = tmp_path / "tables.docx"
    document.save(str(path))
    text = extract(path).sections[0].text
    assert text.count("Merged header") == 1  # not repeated once per merged grid column
    assert "Nested value" in text and "Right" in text and "Last" in text


def test_html_drops_scripts_and_keeps_headings(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_text("<html><head><title>T</title><style>p{color:red}</style></head><body>"
                    "<script>alert('no')</script><h1>Kestrel <i>facts</i></h1><p>Small <b>falcon</b>.</p>"
                    "<ul><li>Hovers</li><li>Hunts voles</li></ul><h2>Range</h2><p>Europe<br>Asia</p></body></html>",
                    encoding="utf-8")
    doc = extract(path)
    assert doc.kind == "html"
    assert [s.label for s in doc.sections] == ["§ Kestrel facts", "§ Range"]
    assert doc.sections[0].text == "Small falcon.\n\nHovers\n\nHunts voles"
    assert "alert" not in doc.text and "color" not in doc.text
    assert doc.sections[1].text == "Europe\nAsia"


def test_html_in_gbk_with_a_meta_charset(tmp_path: Path) -> None:
    path = tmp_path / "zh.html"
    path.write_bytes('<html><head><meta charset="gb2312"></head><body><h1>红隼</h1><p>红隼是一种小型猛禽。</p>'
                     "</body></html>".encode("gbk"))
    doc = extract(path)
    assert doc.sections[0].label == "§ 红隼" and doc.sections[0].text == "红隼是一种小型猛禽。"


@pytest.mark.parametrize(("encoding", "bom"), [("gbk", b""), ("gb18030", b""), ("big5", b""),
                                                ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-8", b"")])
def test_text_files_in_each_encoding(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = ("紅隼是一種小型猛禽，常在空中懸停。牠們以田鼠為食，也吃昆蟲。" if encoding == "big5"
            else "红隼是一种小型猛禽，常在空中悬停。它们以田鼠为食，也吃昆虫。")
    path = tmp_path / "birds.txt"
    path.write_bytes(bom + (text + "\n\n" + text + "\n").encode(encoding))
    doc = extract(path)
    assert doc.text == text + "\n\n" + text
    assert doc.sections[0].label == "ll. 1–3"


def test_plain_text_chapters_and_line_ranges(tmp_path: Path) -> None:
    path = tmp_path / "novel.txt"
    path.write_text("Preface line one.\nPreface line two.\n\nChapter 1\n\nIt began.\n\n第二章 风\n\n风来了。\n",
                    encoding="utf-8")
    doc = extract(path)
    assert [(s.label, s.text) for s in doc.sections] == [
        ("ll. 1–2", "Preface line one.\nPreface line two."), ("§ Chapter 1", "It began."), ("§ 第二章 风", "风来了。")]


def test_gbk_novel_chapters_on_their_own_lines(tmp_path: Path) -> None:
    lines = ["第1章 初见"] + ["红隼在田野上空悬停。"] * 3 + ["第二章"] + ["它俯冲下来，抓住了田鼠。"] * 2
    path = tmp_path / "novel.txt"
    path.write_bytes("\n".join(lines).encode("gbk"))
    doc = extract(path)
    assert doc.encoding == "gb18030"
    assert [(s.label, s.text.count("\n")) for s in doc.sections] == [("§ 第1章 初见", 2), ("§ 第二章", 1)]


def test_markdown_headings_outside_code_fences(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text("# Setup\n\nInstall it.\n\n```\n# a comment, not a heading\n```\n\n## Use\n\nRun it.\n",
                    encoding="utf-8")
    doc = extract(path)
    assert [s.label for s in doc.sections] == ["§ Setup", "§ Use"]
    assert "# a comment" in doc.sections[0].text


def test_rtf_with_a_chinese_code_page(tmp_path: Path) -> None:
    path = tmp_path / "memo.rtf"
    path.write_bytes(rb"{\rtf1\ansi\ansicpg936{\fonttbl\f0 SimSun;}\f0 Hello \'c4\'e3\'ba\'c3.\par Second line.\par}")
    doc = extract(path)
    assert doc.kind == "rtf" and doc.text == "Hello 你好.\n\nSecond line."


def test_files_without_extension_are_sniffed(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("Plain words.\n", encoding="utf-8")
    assert extract(tmp_path / "README").kind == "text"
    pdf = make_pdf(tmp_path / "x.pdf", ["Sniffed PDF."])
    pdf.rename(tmp_path / "scan")
    assert extract(tmp_path / "scan").kind == "pdf"


def test_pasted_text() -> None:
    doc = extract_text("# Notes\n\nFirst.\n\nSecond.")
    assert doc.kind == "pasted" and doc.name == "Pasted text"
    assert doc.sections[0].label == "§ Notes" and doc.text == "First.\n\nSecond."
    with pytest.raises(EmptyDocumentError):
        extract_text("  \n\n ")


def test_sha256_identifies_the_text(tmp_path: Path) -> None:
    assert extract_text("same words").sha256() == extract_text("same words").sha256()
    assert extract_text("same words").sha256() != extract_text("other words").sha256()


# ---- bad input ----------------------------------------------------------------------
def _zip_without_document(path: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize(("name", "content", "error", "words"), [
    ("empty.txt", b"", EmptyDocumentError, "empty"),
    ("blank.md", b"  \n\n\t\n", EmptyDocumentError, "no text"),
    ("data.txt", bytes(range(256)) * 8, UnsupportedFileError, "binary"),
    ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100, UnsupportedFileError, "not supported"),
    ("old.doc", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, UnsupportedFileError, ".docx"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", CorruptDocumentError, "damaged"),
    ("fake.pdf", b"this is not a pdf at all", CorruptDocumentError, "damaged"),
    ("broken.docx", b"PK\x03\x04 not really a zip", CorruptDocumentError, "damaged"),
    ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, EncryptedDocumentError, "encrypted"),
])
def test_bad_files_get_a_clear_reason(tmp_path: Path, name: str, content: bytes, error: type, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as info:
        extract(path)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and words in message and "\n" not in message


def test_encrypted_pdf_says_it_is_encrypted(tmp_path: Path) -> None:
    with pytest.raises(EncryptedDocumentError, match="the PDF is encrypted"):
        extract(make_pdf(tmp_path / "secret.pdf", ["Hidden."], encrypt="hunter2"))


def test_image_only_pdf_needs_ocr(tmp_path: Path) -> None:
    with pytest.raises(NeedsOCRError, match="needs OCR: this PDF has no text layer"):
        extract(make_image_pdf(tmp_path / "scan.pdf"))


def test_docx_zip_without_a_document_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptDocumentError):
        extract(_zip_without_document(tmp_path / "hollow.docx"))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="file not found"):
        extract(tmp_path / "nowhere.pdf")
    with pytest.raises(UnsupportedFileError, match="folder"):
        extract(tmp_path)


def test_large_text_is_streamed_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_module, "LARGE_BYTES", 256 * 1024)
    path = tmp_path / "huge.txt"
    paragraph = "A kestrel hovers over the long field, watching the grass for a vole. " * 6
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(40000):
            handle.write(f"{i}: {paragraph}\n\n")
    tracemalloc.start()
    try:
        doc = extract(path)
        first = next(doc.iter_sections())
        count = sum(1 for _ in doc.iter_sections())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert doc.large and size > 16_000_000
    assert peak < 8_000_000  # bounded by the 1 MB read blocks, never the whole file
    assert first.label.startswith("ll. 1–") and count == doc.section_count > 100
    assert size * 0.95 < doc.characters <= size  # the text itself, blank lines aside
    with pytest.raises(ValueError):
        _ = doc.sections
    assert len(doc.sample(1000)) == 1000
