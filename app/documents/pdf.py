"""PDF pages as sections: pypdfium2 first, pypdf when pdfium cannot open the file.

pdfium is not thread-safe, so its calls are serialized process-wide.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from app.documents.document import CorruptDocumentError, EncryptedDocumentError, ExtractionError, NeedsOCRError, Section

PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe: one call at a time, process-wide
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")  # pdfium marks hyphens etc. with these
_ENCRYPTED = "the PDF is encrypted (password-protected); remove the password and try again"


def read_pdf(path: Path) -> tuple[list[Section], int]:
    """Pages with text as sections, and the page count (empty pages keep their numbers)."""
    import pypdfium2 as pdfium  # noqa: PLC0415 - heavy; only when a PDF comes

    pages: list[str] = []
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise EncryptedDocumentError(path, _ENCRYPTED) from exc
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
            raise EncryptedDocumentError(path, _ENCRYPTED)
        pages = [page.extract_text() or "" for page in reader.pages]
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError, AttributeError) as exc:
        raise CorruptDocumentError(path, "the PDF is damaged or not really a PDF") from exc
    if not pages:
        raise CorruptDocumentError(path, "the PDF is damaged: it has no pages")
    return pages


def _clean_page(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()
