"""Starting the desktop app: Qt application, stored state, engine thread, window."""

from __future__ import annotations

import sys

from PySide6.QtCore import QLibraryInfo, QLocale, QProcess, QTranslator
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app import __version__
from app.base.paths import resources_dir
from app.base.settings import Settings
from app.chat.history import History
from app.engines.contract import EngineFactory
from app.engines.factory import make_engine
from app.ui.theme import apply_theme


def create_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
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


def run(model: str | None = None, engine_factory: EngineFactory = make_engine) -> int:
    """Open the main window on the configured model (or ``model``) and run until it closes.

    ``engine_factory`` decides which engine runs each model spec; demos, benchmarks and
    the real-window test pass one that returns the fake engine.
    """
    from app.ui.engine.controller import EngineController  # noqa: PLC0415 - Qt widgets load only for the GUI
    from app.ui.main_window import MainWindow  # noqa: PLC0415

    app = create_application()
    settings = Settings.load_default()
    install_translation(app, settings)
    apply_theme(app, settings.get_str("theme"))
    history = History(History.default_path())
    history.mark_incomplete_as_interrupted()
    controller = EngineController(engine_factory)
    window = MainWindow(controller, history, settings, model_override=model)
    window.show()
    window.load_model(at_start=True)
    code = app.exec()
    history.close()
    if window.restart_requested:
        program, arguments = relaunch_command()
        QProcess.startDetached(program, arguments)
    return int(code)


def relaunch_command() -> tuple[str, list[str]]:
    """How to start this same app again: the bundle's executable, or this Python running ``app``."""
    arguments = sys.argv[1:]
    if arguments[:1] and arguments[0].startswith("-"):  # kestrel-gui passes options without the command
        arguments = ["gui", *arguments]
    if getattr(sys, "frozen", False):
        return sys.executable, arguments
    return sys.executable, ["-m", "app", *arguments]
