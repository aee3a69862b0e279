"""RTF files as sections (striprtf), decoded with the code page the file declares."""

from __future__ import annotations

import re
from pathlib import Path

from app.documents.document import CorruptDocumentError, Section
from app.documents.sections import SectionBuilder


def read_rtf(path: Path, data: bytes) -> list[Section]:
    """One ¶ per line of text; ``\\ansicpg`` picks the code page (cp1252 when absent or unknown)."""
    from striprtf.striprtf import rtf_to_text  # noqa: PLC0415

    match = re.search(rb"\\ansicpg(\d+)", data[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp1252"
    try:
        source = data.decode("latin-1")
        text: str = rtf_to_text(source, encoding=encoding, errors="replace")  # type: ignore[no-untyped-call]
    except Exception as exc:  # striprtf raises plain exceptions on bad input
        raise CorruptDocumentError(path, "the RTF file is damaged") from exc
    builder = SectionBuilder("¶")
    for number, para in enumerate((p for p in re.split(r"\n\s*\n|\n", text) if p.strip()), 1):
        builder.paragraph(para, number)
    builder.flush()
    return builder.take()
