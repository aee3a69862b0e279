"""Hostile documents end quickly, in little memory, with one line that says what was refused.

Each input is generated on the spot at the size that used to hang or blow up (20,000 divs:
minutes; 100,000 nested divs: over ten minutes; a 1.5 MB DOCX unpacking to gigabytes), or
small where the bound itself is what is shown. Time limits are generous for a busy machine:
the quadratic versions missed them by minutes.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.documents import archive
from app.documents.chunking import chunk_sections
from app.documents.document import ExtractedDocument, TooLargeDocumentError, UnsupportedFileError
from app.documents.extract import extract
from tests.documents.samples import PARAGRAPH, make_raw_docx, make_zip_bomb_docx, many_divs_html, nested_divs_html


def timed[T](fn: Callable[[], T], limit_s: float) -> T:
    began = time.monotonic()
    result = fn()
    took = time.monotonic() - began
    assert took < limit_s, f"took {took:.1f} s (limit {limit_s} s)"
    return result


def words(count: int) -> Callable[[str], int]:
    """A tokenizer stand-in: one token per word or blank-line break, as a real one roughly counts."""
    return lambda text: max(1, len(text.split()) + text.count("\n\n"))


def chunk_all(doc: ExtractedDocument, budget: int = 2000) -> str:
    chunks = list(chunk_sections(doc.iter_sections(), budget, words(0), target=int(budget * 0.9)))
    assert all(c.tokens <= budget for c in chunks)
    return "\n\n".join(c.text for c in chunks)


# ---- HTML: linear in the page ------------------------------------------------------------
def test_twenty_thousand_divs_are_read_and_chunked_quickly(tmp_path: Path) -> None:
    path = tmp_path / "divs.html"
    path.write_text(many_divs_html(20_000), encoding="utf-8")
    doc = timed(lambda: extract(path), 10)
    text = timed(lambda: chunk_all(doc), 10)
    assert doc.sections[0].label.startswith("¶ 1–") and doc.sections[-1].label.endswith("20000")
    assert text.count("says hello") == 20_000 and "Item 19999 says hello" in text  # every div, once


def test_a_hundred_thousand_nested_divs_are_read_and_chunked_quickly(tmp_path: Path) -> None:
    path = tmp_path / "nested.html"
    path.write_text(nested_divs_html(100_000), encoding="utf-8")
    doc = timed(lambda: extract(path), 10)
    text = timed(lambda: chunk_all(doc), 10)
    assert doc.characters > 500_000
    assert text.split("\n\n")[:3] == ["t0", "t1", "t2"] and text.endswith("t99999")


@pytest.mark.parametrize("markup", ["<!--" * 50_000, "<a" * 100_000, "<" * 200_000, "<table>" * 50_000,
                                    "<b><i><u>x" * 30_000, "<h1>" + "word " * 100_000])
def test_malformed_markup_stays_linear(tmp_path: Path, markup: str) -> None:
    path = tmp_path / "bad.html"
    path.write_text("<html><body><p>Before.</p>" + markup, encoding="utf-8")
    doc = timed(lambda: extract(path), 5)  # the stdlib parser took 40 s and more on the first two
    assert "Before." in doc.text


def test_an_unclosed_heading_keeps_its_text(tmp_path: Path) -> None:
    path = tmp_path / "h.html"
    path.write_text("<h1>Title</h1><p>Intro.</p><h2>" + "Everything after an unclosed heading. " * 20,
                    encoding="utf-8")
    doc = extract(path)
    assert doc.sections[0].label == "§ Title" and "Everything after an unclosed heading." in doc.text


# ---- DOCX: judged before python-docx unpacks it ---------------------------------------------
@pytest.fixture
def traced() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_refused_from_its_directory(tmp_path: Path, traced: Callable[[], int]) -> None:
    path = make_zip_bomb_docx(tmp_path / "bomb.docx", 300)
    assert path.stat().st_size < 2 << 20
    with pytest.raises(TooLargeDocumentError) as caught:
        timed(lambda: extract(path), 2)
    assert str(caught.value) == ("bomb.docx: it expands to 300 MiB when unpacked; "
                                 "Kestrel reads documents up to 200 MiB unpacked")
    assert traced() < 20 << 20  # nothing was unpacked


def test_xml_that_unpacks_too_large_is_refused(tmp_path: Path, traced: Callable[[], int]) -> None:
    path = make_raw_docx(tmp_path / "blank.docx", b" ", 100 << 20)  # under the package limit, over XML's
    with pytest.raises(TooLargeDocumentError, match=r"its XML expands to 100 MiB or more; .* 64\.0 MiB of XML"):
        timed(lambda: extract(path), 2)
    assert traced() < 20 << 20


def test_millions_of_tiny_paragraphs_are_refused_by_element_count(tmp_path: Path) -> None:
    path = make_raw_docx(tmp_path / "many.docx", b"<w:p/>", 4_000_000)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(TooLargeDocumentError, match="more than 1,000,000 XML elements"):
        timed(lambda: extract(path), 2)


def test_paragraphs_past_the_limit_are_refused_while_reading(tmp_path: Path) -> None:
    path = make_raw_docx(tmp_path / "long.docx", b"<w:p/>", archive.MAX_PARAGRAPHS + 10)
    with pytest.raises(TooLargeDocumentError) as caught:
        timed(lambda: extract(path), 10)
    assert str(caught.value) == ("long.docx: it has more than 100,000 paragraphs; "
                                 "Kestrel reads documents of up to 100,000 paragraphs")


def test_a_bomb_under_another_name_is_still_counted(tmp_path: Path) -> None:
    path = make_raw_docx(tmp_path / "hidden.docx", b"<w:p/>", 1_100_000, document_name="word/picture.png")
    with pytest.raises(TooLargeDocumentError, match="XML elements"):
        extract(path)


def test_too_many_parts_and_foreign_compression_are_refused(tmp_path: Path) -> None:
    parts = {f"word/media/p{i}.bin": b"" for i in range(archive.MAX_ENTRIES)}
    with pytest.raises(TooLargeDocumentError, match=r"holds 5,003 parts; .* up to 5,000 parts"):
        extract(make_raw_docx(tmp_path / "parts.docx", PARAGRAPH, 1, extra=parts))
    path = tmp_path / "bz.docx"
    make_raw_docx(path, PARAGRAPH, 1)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_BZIP2) as zipped:
        zipped.writestr("word/extra.xml", b"<x/>" * 1000)
    with pytest.raises(TooLargeDocumentError, match="zip compression"):
        extract(path)


def test_an_encrypted_part_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    path = make_raw_docx(tmp_path / "locked.docx", PARAGRAPH, 1)
    with zipfile.ZipFile(path, "a") as zipped:
        zipped.writestr("word/secret.xml", b"<x/>")
    # set the "encrypted" flag, as an encrypting zip tool does (zipfile clears it when writing):
    # in the part's local header (flags at +6) and its central directory entry (flags at +8)
    data = bytearray(path.read_bytes())
    name = b"word/secret.xml"
    local = data.rindex(b"PK\x03\x04", 0, data.index(name))
    central = data.rindex(b"PK\x01\x02", 0, data.rindex(name))
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zipped:
        assert zipped.getinfo("word/secret.xml").flag_bits & 0x1  # zipfile would ask for a password
    with pytest.raises(TooLargeDocumentError, match="it is encrypted"):
        extract(path)


def test_an_ordinary_generated_docx_is_still_read(tmp_path: Path) -> None:
    doc = extract(make_raw_docx(tmp_path / "fine.docx", PARAGRAPH, 2_000))
    assert doc.kind == "docx" and doc.text.count("Kestrel") == 2_001


# ---- files that are not files ---------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "notes.txt"
    os.mkfifo(fifo)
    box: dict[str, BaseException] = {}

    def read() -> None:
        try:
            extract(fifo)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # blocked in open(): give it a writer so the thread ends, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("extract() opened the named pipe and waited for a writer")
    assert isinstance(box["error"], UnsupportedFileError)
    assert str(box["error"]) == "notes.txt: this is a named pipe, not a document; Kestrel reads only regular files"


def test_a_folder_and_a_device_are_named_as_such(tmp_path: Path) -> None:
    folder = tmp_path / "report.docx"
    folder.mkdir()
    with pytest.raises(UnsupportedFileError, match=r"^report\.docx: this is a folder, not a document$"):
        extract(folder)
    if Path("/dev/null").exists():
        with pytest.raises(UnsupportedFileError, match="character device"):
            extract("/dev/null")


def test_html_too_large_to_hold_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.documents import extract as extract_module

    monkeypatch.setattr(extract_module, "MAX_WHOLE_BYTES", 1 << 20)
    path = tmp_path / "huge.html"
    path.write_text(many_divs_html(30_000), encoding="utf-8")  # about 1.4 MB
    with pytest.raises(TooLargeDocumentError, match=r"^huge\.html: the HTML file is 1\.\d+ MiB; Kestrel reads HTML "
                                                    r"files up to 1\.00 MiB$"):
        extract(path)
