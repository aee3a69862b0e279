"""Light and dark themes: switched live from the setting, every text colour readable on its background."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.chat.history import History
from app.engines.fake import FakeEngine
from app.ui.engine.controller import EngineController
from app.ui.main_window import MainWindow
from app.ui.theme import DARK, LIGHT, apply_theme, contrast, dark_palette, light_palette, scheme_for
from tests import gguf_files

PAIRS = [(QPalette.ColorRole.WindowText, QPalette.ColorRole.Window), (QPalette.ColorRole.Text, QPalette.ColorRole.Base),
         (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Button),
         (QPalette.ColorRole.HighlightedText, QPalette.ColorRole.Highlight),
         (QPalette.ColorRole.ToolTipText, QPalette.ColorRole.ToolTipBase)]


@pytest.fixture
def app_theme(qapp: QApplication) -> Iterator[QApplication]:
    yield qapp
    apply_theme(qapp, LIGHT)  # the next test starts light, as the app does on this machine


def test_both_palettes_are_readable(app_theme: QApplication) -> None:
    for palette in (light_palette(app_theme), dark_palette()):
        for text, background in PAIRS:
            ratio = contrast(palette.color(text), palette.color(background))
            assert ratio >= 4.5, (text, background, ratio)
        assert contrast(palette.color(QPalette.ColorRole.PlaceholderText), palette.color(QPalette.ColorRole.Base)) >= 3


def test_the_setting_switches_every_window_at_once(app_theme: QApplication, qtbot: QtBot, tmp_path: Path) -> None:
    settings = Settings.load_default()
    history = History(History.default_path())
    controller = EngineController(lambda _spec: FakeEngine())
    window = MainWindow(controller, history, settings,
                        model_override=str(gguf_files.write_tiny_llama(tmp_path / "tiny.gguf")))
    qtbot.addWidget(window)
    try:
        window.show()
        assert scheme_for("system", app_theme) == LIGHT  # this machine's desktop says nothing: light
        settings.set("theme", "dark")
        assert app_theme.property("kestrelTheme") == DARK
        qtbot.waitUntil(lambda: window.chat.input.palette().color(QPalette.ColorRole.Base).lightness() < 60)
        for widget in (window.chat.input, window.chat.view, window.server_panel.table):
            assert isinstance(widget, QWidget)
            palette = widget.palette()
            assert palette.color(QPalette.ColorRole.Base).lightness() < 60  # dark fields
            assert contrast(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)) >= 4.5
        settings.set("theme", "system")
        assert app_theme.property("kestrelTheme") == LIGHT
        qtbot.waitUntil(lambda: window.chat.input.palette().color(QPalette.ColorRole.Base).lightness() > 200)
    finally:
        window.close()
        history.close()
