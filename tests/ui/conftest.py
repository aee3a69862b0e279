"""Fixtures shared by the GUI tests: the app's own Simplified Chinese translation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTranslator
from PySide6.QtWidgets import QApplication

from app.base.paths import resources_dir
from app.base.settings import Settings
from app.ui.application import install_translation


@pytest.fixture
def zh(qapp: QApplication, kestrel_home: Path) -> Iterator[Settings]:
    """The app's own install_translation() with ui_language zh_CN; removed again afterwards."""
    settings = Settings.load_default()
    settings.set("ui_language", "zh_CN")
    before = set(qapp.findChildren(QTranslator))
    install_translation(qapp, settings)
    installed = [t for t in qapp.findChildren(QTranslator) if t not in before]
    assert installed, f"install_translation() loaded no translation from {resources_dir() / 'translations'}"
    try:
        yield settings
    finally:
        for translator in installed:
            qapp.removeTranslator(translator)
            translator.setParent(None)
            translator.deleteLater()
