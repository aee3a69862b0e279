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
