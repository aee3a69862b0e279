"""Starting the desktop app: Qt application, stored state, engine thread, window."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QLibraryInfo, QLocale, QObject, QProcess, QTimer, QTranslator
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QWidget

from app import __version__
from app.base.paths import resources_dir
from app.base.settings import Settings
from app.chat.history import History
from app.engines.contract import EngineFactory
from app.engines.factory import make_engine
from app.ui.collector import IdleCollector
from app.ui.theme import apply_theme

#: An environment variable naming a file: when set, the wall-clock time of the window's first
#: paint is written there and the window closes (bench/ui_stream.py times a launch with it).
STARTUP_PROBE = "KESTREL_STARTUP_PROBE"


class _FirstPaint(QObject):
    """Writes the time of the watched window's first paint to ``path``, then closes the window."""

    def __init__(self, window: QWidget, path: Path) -> None:
        super().__init__(window)
        self._window, self._path = window, path
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self._window and event.type() == QEvent.Type.Paint:
            self._path.write_text(repr(time.time()), encoding="utf-8")
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, self._window.close)
        return False


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
    if probe := os.environ.get(STARTUP_PROBE):
        _FirstPaint(window, Path(probe))
    window.show()
    window.load_model(at_start=True)
    collector = IdleCollector(app, lambda: controller.busy)
    code = app.exec()
    collector.stop()
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
