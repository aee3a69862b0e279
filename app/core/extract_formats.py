"""Readers for the binary and markup formats: PDF, DOCX, HTML, RTF.

Split from ``app.core.extract`` (which owns the types, plain text and the entry points)
to keep each module readable. Every reader returns sections, or raises an
``ExtractionError`` subclass with a one-line reason.
"""

from __future__ import annotations

import logging
import re
import threading
import zipfile
from pathlib import Path

from app.core.extract import (
    SUPPORTED_TEXT,
    CorruptDocumentError,
    EncryptedDocumentError,
    ExtractionError,
    NeedsOCRError,
    Section,
    UnsupportedFileError,
    _Sections,
)
from app.core.textfile import TextDecodeError, decode_bytes

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .doc files, and encrypted Office files
PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe: one call at a time, process-wide
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")


def read_pdf(path: Path) -> tuple[list[Section], int]:
    """Pages with text as sections; pdfium first, pypdf if pdfium cannot open the file."""
    import pypdfium2 as pdfium  # noqa: PLC0415 - heavy; only when a PDF comes

    pages: list[str] = []
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise EncryptedDocumentError(path, "the PDF is encrypted (password-protected); "
                                                   "remove the password and try again") from exc
            pdf = None
        if pdf is not None:
            try:
                if len(pdf) == 0:
                    raise CorruptDocumentError(path, "the PDF is damaged: it has no pages")
                for i in range(len(pdf)):
                    page = pdf[i]
                    textpage = page.get_textpage()
                    pages.append(textpage.get_text_range())
                    textpage.close()
                    page.close()
            finally:
                pdf.close()
    if pdf is None:
        pages = _pdf_pypdf(path)
    sections = [Section(0, f"p. {n}", _clean_page(text)) for n, text in enumerate(pages, 1)]
    sections = [Section(i, s.label, s.text) for i, s in enumerate(x for x in sections if x.text)]
    if pages and not sections:
        raise NeedsOCRError(path, "needs OCR: this PDF has no text layer (it is made of images)")
    return sections, len(pages)


def _pdf_pypdf(path: Path) -> list[str]:
    import pypdf  # noqa: PLC0415
    from pypdf.errors import PyPdfError  # noqa: PLC0415

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings would reach the CLI's stderr
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedDocumentError(path, "the PDF is encrypted (password-protected); "
                                               "remove the password and try again")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError, AttributeError) as exc:
        raise CorruptDocumentError(path, "the PDF is damaged or not really a PDF") from exc
    if not pages:
        raise CorruptDocumentError(path, "the PDF is damaged: it has no pages")
    return pages


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")  # pdfium marks hyphens etc. with these


def _clean_page(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def read_docx(path: Path) -> list[Section]:
    """Paragraphs and tables in document order (``iter_inner_content``); Heading/Title styles start sections."""
    import docx  # noqa: PLC0415
    from docx.opc.exceptions import PackageNotFoundError  # noqa: PLC0415
    from docx.table import Table  # noqa: PLC0415

    with open(path, "rb") as handle:
        if handle.read(8) == OLE_MAGIC:
            raise EncryptedDocumentError(path, "the document is encrypted (password-protected), or an old "
                                               "Word file; save it as an unprotected .docx")
    try:
        document = docx.Document(str(path))
        items = list(document.iter_inner_content())
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, AttributeError) as exc:
        raise CorruptDocumentError(path, "the DOCX file is damaged or not really a Word document") from exc
    except Exception as exc:  # lxml syntax errors and the like: still a damaged file
        if type(exc).__module__.startswith(("lxml", "docx", "xml")):
            raise CorruptDocumentError(path, "the DOCX file is damaged (its XML cannot be read)") from exc
        raise
    builder = _Sections("¶")
    number = 0
    for item in items:
        if isinstance(item, Table):
            text = _table_text(item._tbl)
        else:
            text = item.text
            if text.strip() and _is_heading(item):
                builder.heading(text)
                continue
        if text.strip():
            number += 1
            builder.paragraph(text, number)
    builder.flush()
    return builder.take()


def _is_heading(paragraph: object) -> bool:
    try:
        name = (paragraph.style.name or "").lower()  # type: ignore[attr-defined]
    except (KeyError, ValueError, AttributeError):  # a style the file names but does not define
        return False
    return name.startswith("heading") or name == "title"


def _table_text(table: object) -> str:
    """Rows as 'cell | cell' lines, read from the XML: merged or nested cells never break it."""
    from docx.oxml.ns import qn  # noqa: PLC0415

    rows = []
    for tr in table.findall(qn("w:tr")):  # type: ignore[attr-defined]
        cells = [" ".join("".join(t.text or "" for t in tc.iter(qn("w:t"))).split()) for tc in tr.findall(qn("w:tc"))]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


_BLOCK_TAGS = ["p", "div", "li", "tr", "section", "article", "blockquote", "pre", "table", "ul", "ol",
               "dt", "dd", "header", "footer", "main", "nav", "aside", "figure", "figcaption", "form",
               "h1", "h2", "h3", "h4", "h5", "h6", "hr", "address", "details", "summary"]
_HEADING_MARK = "\ue000"  # private-use: survives get_text(), is not whitespace


def read_html(path: Path, data: bytes) -> list[Section]:
    from bs4 import BeautifulSoup  # noqa: PLC0415

    match = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", data[:4096], re.IGNORECASE)
    text: str | None = None
    if match:
        declared = match.group(1).decode("ascii").lower()
        declared = "gb18030" if declared in ("gb2312", "gbk") else declared
        try:
            text = data.decode(declared, errors="replace")
        except LookupError:
            text = None
    if text is None:
        text = _decode(path, data)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]):
        tag.decompose()
    for tag in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
        heading = " ".join(tag.get_text(" ").split())
        tag.clear()
        tag.append(f"\n\n{_HEADING_MARK}{heading}\n\n" if heading else "")
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all(["td", "th"]):
        tag.insert_after(" | ")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    builder = _Sections("¶")
    number = 0
    for para in _BLANK_LINES.split(soup.get_text()):
        lines = [" ".join(line.split()) for line in para.split("\n")]
        para = "\n".join(line for line in lines if line).strip(" |")
        if para.startswith(_HEADING_MARK):
            builder.heading(para[1:])
        elif para:
            number += 1
            builder.paragraph(para, number)
    builder.flush()
    return builder.take()


def read_rtf(path: Path, data: bytes) -> list[Section]:
    from striprtf.striprtf import rtf_to_text  # noqa: PLC0415

    match = re.search(rb"\\ansicpg(\d+)", data[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp1252"
    try:
        text = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")
    except Exception as exc:  # noqa: BLE001 - striprtf raises plain exceptions on bad input
        raise CorruptDocumentError(path, "the RTF file is damaged") from exc
    builder = _Sections("¶")
    for number, para in enumerate((p for p in re.split(r"\n\s*\n|\n", text) if p.strip()), 1):
        builder.paragraph(para, number)
    builder.flush()
    return builder.take()


def _decode(path: Path, data: bytes) -> str:
    try:
        return decode_bytes(data).text
    except TextDecodeError as exc:
        raise UnsupportedFileError(path, f"{exc}; Kestrel reads {SUPPORTED_TEXT}") from exc
