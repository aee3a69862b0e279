"""Fixtures for the settings tests: the app's own Simplified Chinese translation, for one test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTranslator
from PySide6.QtWidgets import QApplication

from app.base.settings import Settings
from app.ui.application import install_translation


@pytest.fixture
def chinese(qapp: QApplication, kestrel_home: Path) -> Iterator[None]:
    """install_translation() with ui_language zh_CN, undone afterwards so no other test sees it."""
    settings = Settings.load_default()
    settings.set("ui_language", "zh_CN")
    before = set(qapp.findChildren(QTranslator))
    install_translation(qapp, settings)
    installed = [t for t in qapp.findChildren(QTranslator) if t not in before]
    assert installed, "no translation was loaded"
    try:
        yield
    finally:
        for translator in installed:
            qapp.removeTranslator(translator)
            translator.setParent(None)
            translator.deleteLater()
