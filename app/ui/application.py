"""Starting the desktop app: Qt application, stored state, engine thread, window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app import __version__
from app.core.history import History
from app.core.settings import Settings
from app.llm.types import Engine

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def resources_dir() -> Path:
    """Resources beside the package (source tree) or inside a PyInstaller bundle."""
    bundled = getattr(sys, "_MEIPASS", None)
    return Path(bundled) / "resources" if bundled else RESOURCES


def make_engine() -> Engine:
    """The real engine; ``KESTREL_FAKE_ENGINE=1`` swaps in the scripted one (UI demos, benchmarks)."""
    if os.environ.get("KESTREL_FAKE_ENGINE") == "1":
        from app.llm.fake import FakeEngine  # noqa: PLC0415

        return FakeEngine(tokens_per_s=float(os.environ.get("KESTREL_FAKE_TPS", "40")))
    from app.llm.engine import LlamaEngine  # noqa: PLC0415

    return LlamaEngine()


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("Kestrel")
    app.setApplicationDisplayName("Kestrel")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Kestrel")
    app.setDesktopFileName("kestrel")
    icon = resources_dir() / "icons" / "kestrel.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    style = resources_dir() / "styles" / "kestrel.qss"
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app


def install_translation(app: QApplication, settings: Settings) -> None:
    """Load the UI translation chosen in settings (or the system's) when one is shipped."""
    choice = settings.get_str("ui_language")
    locale = QLocale.system() if choice == "auto" else QLocale(choice)
    translator = QTranslator(app)
    if translator.load(locale, "kestrel", "_", str(resources_dir() / "translations")):
        app.installTranslator(translator)
        qt_own = QTranslator(app)  # Qt's standard buttons and dialogs (OK, Cancel, file dialogs)
        if qt_own.load(locale, "qtbase", "_", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
            app.installTranslator(qt_own)


def run(model: str | None = None) -> int:
    """Open the main window on the configured model (or ``model``) and run until it closes."""
    from app.ui.main_window import MainWindow  # noqa: PLC0415
    from app.ui.worker import EngineController  # noqa: PLC0415

    app = create_application()
    settings = Settings.load_default()
    install_translation(app, settings)
    history = History(History.default_path())
    history.mark_incomplete_as_interrupted()
    controller = EngineController(make_engine())
    window = MainWindow(controller, history, settings, model_override=model)
    window.show()
    window.load_model()
    code = app.exec()
    history.close()
    return int(code)
