"""Real documents of each format, generated on the spot (shared by the extraction, summary and CLI tests)."""

from __future__ import annotations

from pathlib import Path


def make_pdf(path: Path, pages: list[str], encrypt: str | None = None) -> Path:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    enc = pdfencrypt.StandardEncryption(encrypt, canPrint=0) if encrypt else None
    pdf = canvas.Canvas(str(path), encrypt=enc)
    for text in pages:
        y = 760
        for line in text.split("\n"):
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return path


def make_image_pdf(path: Path) -> Path:
    """A scanned-looking PDF: one embedded picture, no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(image).text((20, 80), "Scanned words are pixels", fill="black")
    pdf = canvas.Canvas(str(path))
    pdf.drawImage(ImageReader(image), 72, 500, width=400, height=200)
    pdf.showPage()
    pdf.save()
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("An opening paragraph before any heading.")
    document.add_heading("Introduction", level=1)
    document.add_paragraph("Kestrels hover while hunting.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Species"
    table.cell(0, 1).text = "Wingspan"
    table.cell(1, 0).text = "Common kestrel"
    table.cell(1, 1).text = "76 cm"
    document.add_paragraph("After the table.")
    document.add_heading("Habitat", level=2)
    document.add_paragraph("Open country and towns.")
    document.save(str(path))
    return path


# ---- hostile documents, generated in well under a second ---------------------------------
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml" Type='
    '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>')
_BODY_START = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document '
               b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
_BODY_END = b"</w:body></w:document>"
PARAGRAPH = b"<w:p><w:r><w:t>Kestrel</w:t></w:r></w:p>"


def make_raw_docx(path: Path, repeat: bytes, times: int, *, extra: dict[str, bytes] | None = None,
                  document_name: str = "word/document.xml") -> Path:
    """A minimal Word package whose body is ``repeat`` written ``times`` times (streamed: any size)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES.replace("/word/document.xml", "/" + document_name))
        archive.writestr("_rels/.rels", _PACKAGE_RELS.replace("word/document.xml", document_name))
        with archive.open(document_name, "w", force_zip64=True) as part:
            part.write(_BODY_START + PARAGRAPH)
            block = repeat * max(1, (1 << 20) // max(1, len(repeat)))
            per_block = len(block) // len(repeat) if repeat else 0
            left = times
            while left >= per_block > 0:
                part.write(block)
                left -= per_block
            part.write(repeat * left)
            part.write(_BODY_END)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def make_zip_bomb_docx(path: Path, unpacked_mib: int = 300) -> Path:
    """A small file whose document.xml unpacks to ``unpacked_mib`` MiB of blanks."""
    return make_raw_docx(path, b" ", unpacked_mib << 20)


def many_divs_html(count: int = 20_000) -> str:
    return "<html><body>" + "".join(f"<div>Item {i} says hello to the reader.</div>\n" for i in range(count)) + \
        "</body></html>"


def nested_divs_html(depth: int = 100_000) -> str:
    return "<html><body>" + "".join(f"<div>t{i}" for i in range(depth)) + "</div>" * depth + "</body></html>"
