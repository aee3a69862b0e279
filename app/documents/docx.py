"""Word documents as sections: paragraphs and tables in document order (python-docx);
Heading and Title styles start sections."""

from __future__ import annotations

import zipfile
from pathlib import Path

from app.documents import archive
from app.documents.document import CorruptDocumentError, EncryptedDocumentError, Section, TooLargeDocumentError
from app.documents.sections import SectionBuilder

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .doc files, and encrypted Office files


def read_docx(path: Path) -> list[Section]:
    """Paragraphs and tables in document order (``iter_inner_content``), numbered as ¶.

    The package is judged from its zip directory and XML tag counts first (``archive``), so a
    zip bomb or millions of paragraphs are refused before python-docx unpacks and parses it.
    """
    import docx  # noqa: PLC0415
    from docx.opc.exceptions import PackageNotFoundError  # noqa: PLC0415
    from docx.table import Table  # noqa: PLC0415

    with open(path, "rb") as handle:
        if handle.read(8) == OLE_MAGIC:
            raise EncryptedDocumentError(path, "the document is encrypted (password-protected), or an old "
                                               "Word file; save it as an unprotected .docx")
    refusal = archive.zip_refusal(path)
    if refusal is not None:
        raise TooLargeDocumentError(path, refusal)
    builder = SectionBuilder("¶")
    number = 0
    headings: dict[str | None, bool] = {}  # style id -> is a heading: looking a style up is slow
    try:
        document = docx.Document(str(path))
        for seen, item in enumerate(document.iter_inner_content(), 1):
            if seen > archive.MAX_PARAGRAPHS:  # empty ones count too: each costs time
                raise TooLargeDocumentError(path, archive.too_many_paragraphs())
            if isinstance(item, Table):
                text = _table_text(item._tbl)
            else:
                text = item.text
                style = item._p.style
                if style not in headings:
                    headings[style] = _is_heading(item)
                if text.strip() and headings[style]:
                    builder.heading(text)
                    continue
            if text.strip():
                number += 1
                builder.paragraph(text, number)
    except TooLargeDocumentError:
        raise
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, AttributeError) as exc:
        raise CorruptDocumentError(path, "the DOCX file is damaged or not really a Word document") from exc
    except Exception as exc:  # lxml syntax errors and the like: still a damaged file
        if type(exc).__module__.startswith(("lxml", "docx", "xml")):
            raise CorruptDocumentError(path, "the DOCX file is damaged (its XML cannot be read)") from exc
        raise
    builder.flush()
    return builder.take()


def _is_heading(paragraph: object) -> bool:
    try:
        name = (paragraph.style.name or "").lower()  # type: ignore[attr-defined]
    except (KeyError, ValueError, AttributeError):  # a style the file names but does not define
        return False
    return bool(name.startswith("heading") or name == "title")


def _table_text(table: object) -> str:
    """Rows as 'cell | cell' lines, read from the XML: merged or nested cells never break it."""
    from docx.oxml.ns import qn  # noqa: PLC0415

    rows = []
    for tr in table.findall(qn("w:tr")):  # type: ignore[attr-defined]
        cells = [" ".join("".join(t.text or "" for t in tc.iter(qn("w:t"))).split()) for tc in tr.findall(qn("w:tc"))]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)
