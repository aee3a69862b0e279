"""Cheap checks of the packaging inputs that run with the normal suite (no bundle needed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_generated_icons_are_committed_and_match_the_svg() -> None:
    # In a child process: make_icons creates a QGuiApplication, which would stand in the way
    # of the QApplication the widget tests need later in this session.
    result = subprocess.run([sys.executable, str(ROOT / "packaging" / "make_icons.py"), "--check"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_ico_and_icns_hold_every_size() -> None:
    pil = pytest.importorskip("PIL.Image")
    icons = ROOT / "resources" / "icons"
    with pil.open(icons / "kestrel.ico") as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with pil.open(icons / "kestrel.icns") as icns:
        assert (512, 512, 2) in icns.info["sizes"]


def test_version_has_one_source() -> None:
    from app import __version__

    spec = (ROOT / "packaging" / "kestrel.spec").read_text(encoding="utf-8")
    iss = (ROOT / "packaging" / "windows" / "kestrel.iss").read_text(encoding="utf-8")
    assert re.match(r"^\d+\.\d+\.\d+", __version__)
    # The spec parses app/__init__.py; the Inno Setup script gets /DAppVersion from build.ps1.
    assert re.search(r'VERSION = re.search\(.*__version__', spec)
    assert not re.search(r'^#define AppVersion', iss, re.M) and "#ifndef AppVersion" in iss
    for script in ("build_linux.sh", "macos/build.sh", "windows/build.ps1"):
        text = (ROOT / "packaging" / script).read_text(encoding="utf-8")
        assert "app.__version__" in text, script


def test_starter_model_inside_a_bundle_is_used_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.base import paths
    from app.models import starter

    bundle = tmp_path / "_internal"
    (bundle / "models").mkdir(parents=True)
    shipped = bundle / "models" / starter.STARTER_FILENAME
    shipped.write_bytes(b"GGUF" + b"\0" * 60)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    monkeypatch.setattr(starter, "_package", lambda: pytest.fail("the package must not be needed"))

    assert starter.bundled_starter_model() == shipped
    assert starter.starter_available()
    assert starter.starter_model_path() == shipped
    assert starter.ensure_starter_model() == shipped
    assert list(paths.models_dir().iterdir()) == [], "nothing is copied into the user's models folder"


def test_without_a_bundle_the_starter_model_is_assembled_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.base import paths
    from app.models import starter

    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert starter.bundled_starter_model() is None
    assert starter.starter_model_path() == paths.models_dir() / starter.STARTER_FILENAME
