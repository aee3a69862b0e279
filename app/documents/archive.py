"""Zip containers (DOCX) judged before any parser runs: entry count, unpacked size, XML elements.

Why: python-docx unpacks every part into memory and parses all of its XML at once, so a
1.5 MB file that expands to gigabytes (a zip bomb) or holds millions of tiny paragraphs
took gigabytes and minutes before failing. The central directory gives each entry's
unpacked size without unpacking anything (``zipfile`` never returns more bytes than that
size says), so sizes and counts are refused first; then the XML parts are streamed once
and their tags counted at C speed (``bytes.count``), stopping as soon as a limit is passed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

from app.base.units import format_bytes

MAX_ENTRIES = 5_000  # a Word document has tens of parts, a picture-heavy one a few hundred
MAX_UNPACKED = 200 * 2**20  # all parts together, unpacked (pictures are held in memory too)
MAX_XML_UNPACKED = 64 * 2**20  # the XML parts, which are all parsed at once: some 10,000 pages of text
MAX_ELEMENTS = 1_000_000  # XML elements in all parts: a 1,000-page book has well under this
MAX_PARAGRAPHS = 100_000  # readers stop here (a few thousand pages)
_READ = 1 << 20
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})  # what Office writes
_ENCRYPTED = 0x1  # a zip entry's general purpose flag: encrypted (also set with "strong" encryption)


def zip_refusal(source: Path | BinaryIO, what: str = "documents") -> str | None:
    """Why this zip container is refused, as words for the user; None when it is within bounds.

    A file that is not a readable zip also gives None: the format's reader says it is damaged.
    """
    try:
        with zipfile.ZipFile(source) as archive:
            entries = archive.infolist()
            reason = _directory_refusal(entries, what)
            return reason if reason is not None else _element_refusal(archive, entries, what)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        return None


def _directory_refusal(entries: list[zipfile.ZipInfo], what: str) -> str | None:
    """Limits that the central directory alone decides."""
    if len(entries) > MAX_ENTRIES:
        return f"it holds {len(entries):,} parts; Kestrel reads {what} of up to {MAX_ENTRIES:,} parts"
    unpacked = sum(info.file_size for info in entries)
    if unpacked > MAX_UNPACKED:
        return (f"it expands to {format_bytes(unpacked)} when unpacked; Kestrel reads {what} up to "
                f"{format_bytes(MAX_UNPACKED)} unpacked")
    # both checks come before any part is opened: zipfile cannot read either (it would raise)
    if any(info.compress_type not in _METHODS for info in entries):
        return "it uses a kind of zip compression Office never writes, so it is not read"
    if any(info.flag_bits & _ENCRYPTED for info in entries):
        return "it is encrypted (protected with a password), so it cannot be read"
    return None


def _element_refusal(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], what: str) -> str | None:
    """The XML parts' total size and elements, one streaming pass, stopping past a limit.

    A part is XML by its first bytes, not its name: python-docx parses a part by the content
    type the package gives it, whatever it is called, and pictures never start with ``<``.
    """
    xml = elements = 0
    for info in entries:
        with archive.open(info) as part:
            block = part.read(64)
            if not _looks_like_xml(block):
                continue
            xml += info.file_size
            if xml > MAX_XML_UNPACKED:
                return (f"its XML expands to {format_bytes(xml)} or more; Kestrel reads {what} with up to "
                        f"{format_bytes(MAX_XML_UNPACKED)} of XML")
            block += part.read(_READ)
            previous_lt = False  # the last block ended with "<": a "/" opening the next one closes a tag
            while block:
                closing = block.count(b"</") + (1 if previous_lt and block.startswith(b"/") else 0)
                elements += block.count(b"<") - closing
                previous_lt = block.endswith(b"<")
                if elements > MAX_ELEMENTS:
                    return (f"it holds more than {MAX_ELEMENTS:,} XML elements; Kestrel reads {what} "
                            f"of up to {MAX_ELEMENTS:,} elements")
                block = part.read(_READ)
    return None


def _looks_like_xml(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16
        return True
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def too_many_paragraphs(what: str = "documents") -> str:
    """The words for a document cut off at ``MAX_PARAGRAPHS`` (its readers count as they go)."""
    return (f"it has more than {MAX_PARAGRAPHS:,} paragraphs; Kestrel reads {what} of up to "
            f"{MAX_PARAGRAPHS:,} paragraphs")
