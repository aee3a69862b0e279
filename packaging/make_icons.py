"""Render the app icon from its SVG source into every format the installers need.

    python packaging/make_icons.py           # write resources/icons/kestrel-<size>.png, .ico, .icns
    python packaging/make_icons.py --check   # exit 1 when the committed files differ from the SVG

The SVG (``resources/icons/kestrel.svg``) is the only source; the outputs are committed so a
checkout has them without a build. Each PNG size is rendered from the vector by Qt's
QSvgRenderer (PySide6-Essentials ships QtSvg), so small sizes are drawn, not shrunk. Pillow
packs those renderings into the Windows ``.ico`` and the macOS ``.icns``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
SVG = ICONS / "kestrel.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def png_name(size: int) -> str:
    return f"kestrel-{size}.png"


def render(svg: Path, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """PNG bytes of the SVG drawn at each size (transparent background)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: cannot read {svg}")
    out: dict[int, bytes] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise SystemExit(f"make_icons: Qt could not encode a {size}px PNG")
        buffer.close()
        out[size] = bytes(data.data())
    return out


def write_all(dest: Path) -> list[Path]:
    """Write every PNG size, the .ico and the .icns into ``dest``; returns the files written."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise SystemExit("make_icons: Pillow is needed for .ico/.icns "
                         "(pip install -r packaging/requirements-build.txt)") from exc

    dest.mkdir(parents=True, exist_ok=True)
    pngs = render(SVG, tuple(sorted(set(PNG_SIZES) | set(ICO_SIZES) | set(ICNS_SIZES))))
    written: list[Path] = []
    for size in PNG_SIZES:
        path = dest / png_name(size)
        path.write_bytes(pngs[size])
        written.append(path)

    images = {size: Image.open(io.BytesIO(data)).convert("RGBA") for size, data in pngs.items()}
    ico = dest / "kestrel.ico"
    largest = images[max(ICO_SIZES)]
    largest.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                 append_images=[images[s] for s in ICO_SIZES if s != max(ICO_SIZES)])
    written.append(ico)
    icns = dest / "kestrel.icns"
    images[max(ICNS_SIZES)].save(icns, format="ICNS",
                                 append_images=[images[s] for s in ICNS_SIZES if s != max(ICNS_SIZES)])
    written.append(icns)
    return written


def _pixels_differ(a: Path, b: Path, tolerance: int = 8) -> bool:
    """True when two PNGs differ by more than ``tolerance`` in any channel (Qt versions anti-alias
    a little differently, so a byte-for-byte comparison would be too strict)."""
    from PySide6.QtGui import QImage

    ia, ib = QImage(str(a)), QImage(str(b))
    if ia.isNull() or ib.isNull() or ia.size() != ib.size():
        return True
    ia = ia.convertToFormat(QImage.Format.Format_RGBA8888)
    ib = ib.convertToFormat(QImage.Format.Format_RGBA8888)
    da, db = bytes(ia.constBits()), bytes(ib.constBits())
    return any(abs(x - y) > tolerance for x, y in zip(da, db, strict=True))


def stale_files() -> list[str]:
    """Names of committed icon files that are missing or no longer match the SVG."""
    problems = [name for name in (*(png_name(s) for s in PNG_SIZES), "kestrel.ico", "kestrel.icns")
                if not (ICONS / name).is_file()]
    if problems:
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        pngs = render(SVG, PNG_SIZES)
        for size, data in pngs.items():
            (fresh / png_name(size)).write_bytes(data)
            if _pixels_differ(fresh / png_name(size), ICONS / png_name(size)):
                problems.append(png_name(size))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when files are stale")
    parser.add_argument("--if-missing", action="store_true", help="write only when some output is missing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("make_icons: stale or missing: " + ", ".join(stale) + " (run python packaging/make_icons.py)")
            return 1
        print("make_icons: icons match resources/icons/kestrel.svg")
        return 0
    if args.if_missing:
        wanted = [*(png_name(s) for s in PNG_SIZES), "kestrel.ico", "kestrel.icns"]
        if all((ICONS / name).is_file() for name in wanted):
            return 0
    for path in write_all(ICONS):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
