"""The window survives its engine dying: mid-reply, while loading, and at the next start.

The engine is a real child process (the fake engine inside it, for speed and exact
replies); the tests kill it or make it abort as llama.cpp's asserts do.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.chat.history import History
from app.models import crashes
from app.ui.engine.controller import EngineController, ModelState
from app.ui.main_window import MainWindow
from tests import gguf_files
from tests.engine_children import ASSERT_REASON, CrashOnName

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

WORDS = " ".join(f"w{i}" for i in range(3000))


class Window:
    def __init__(self, qtbot: QtBot, model: Path) -> None:
        self.settings = Settings.load_default()
        self.settings.set("model_path", str(model))
        self.history = History(History.default_path())
        self.controller = EngineController(lambda _spec: self.engine)
        self.engine = CrashOnName(reply=WORDS, tokens_per_s=100.0)
        self.window = MainWindow(self.controller, self.history, self.settings)
        qtbot.addWidget(self.window)
        self.window.show()
        qtbot.waitExposed(self.window)

    def close(self) -> None:
        if self.window.isVisible():
            self.window.close()
        self.history.close()


@pytest.fixture
def good_model(tmp_path: Path) -> Path:
    return gguf_files.write_tiny_llama(tmp_path / "good.gguf")


@pytest.fixture
def crash_model(tmp_path: Path) -> Path:
    return gguf_files.write_tiny_llama(tmp_path / "crash.gguf")


@pytest.fixture
def window(qtbot: QtBot, kestrel_home: Path, good_model: Path) -> Iterator[Window]:
    w = Window(qtbot, good_model)
    w.window.load_model(at_start=True)
    qtbot.waitUntil(lambda: w.controller.state is ModelState.READY, timeout=10000)
    yield w
    w.close()


def send(qtbot: QtBot, w: Window, text: str) -> None:
    chat = w.window.chat
    chat.input.setPlainText(text)
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)


def test_kill_9_mid_reply_keeps_the_text_says_why_and_the_next_message_works(window: Window, qtbot: QtBot) -> None:
    chat = window.window.chat
    send(qtbot, window, "tell me everything")
    qtbot.waitUntil(lambda: len(chat.view.widgets()) == 2 and len(chat.view.widgets()[1].text) > 40, timeout=10000)
    pid = window.engine.pid
    assert pid is not None
    with qtbot.waitSignal(window.controller.finished, timeout=15000):
        os.kill(pid, signal.SIGKILL)
    notice = chat.notice.text()
    assert "The engine stopped while answering with Fake model: it was killed (SIGKILL)" in notice
    stored = window.history.messages(chat.conversation_id or -1)
    assert stored[1].content.startswith("w0 w1 w2") and len(stored[1].content) > 40  # the partial reply is kept
    assert chat.view.widgets()[1].text == stored[1].content
    qtbot.waitUntil(lambda: window.controller.state is ModelState.READY, timeout=10000)  # a fresh engine
    assert window.engine.pid not in (None, pid)
    window.settings.set("max_tokens", 3)
    with qtbot.waitSignal(window.controller.finished, timeout=15000):
        send(qtbot, window, "and again")
    assert window.history.messages(chat.conversation_id or -1)[3].content == "w0 w1 w2"


def test_a_model_that_crashes_the_engine_leaves_the_previous_one_loaded(window: Window, qtbot: QtBot,
                                                                        crash_model: Path,
                                                                        good_model: Path) -> None:
    with qtbot.waitSignal(window.controller.load_failed, timeout=10000) as failed:
        window.settings.set("model_path", str(crash_model))
    assert failed.args[0] == f"The engine stopped while loading crash.gguf: {ASSERT_REASON}."
    qtbot.waitUntil(lambda: window.controller.state is ModelState.READY, timeout=10000)
    model = window.controller.model
    assert model is not None and model.path == good_model
    assert "GGML_ASSERT" in window.window.chat.notice.text()
    assert crashes.crash_reason(crash_model) == failed.args[0]
    assert crashes.crash_reason(good_model) is None
    window.settings.set("max_tokens", 2)
    with qtbot.waitSignal(window.controller.finished, timeout=15000):
        send(qtbot, window, "still there?")
    assert window.history.messages(window.window.chat.conversation_id or -1)[1].content == "w0 w1"


def test_the_next_start_does_not_load_a_model_that_crashed_the_engine(qtbot: QtBot, kestrel_home: Path,
                                                                      crash_model: Path) -> None:
    crashes.record(crash_model, "The engine stopped while loading crash.gguf: GGML_ASSERT(x) failed.")
    w = Window(qtbot, crash_model)
    try:
        w.window.load_model(at_start=True)
        qtbot.waitUntil(lambda: not w.window.chat.notice.isHidden(), timeout=5000)
        text = w.window.chat.notice.text()
        assert "did not load crash.gguf at start" in text and "GGML_ASSERT(x) failed" in text
        assert w.controller.state is ModelState.NONE and w.engine.pid is None
        # choosing it again is the user's explicit retry
        with qtbot.waitSignal(w.controller.load_failed, timeout=10000):
            w.window.load_model()
    finally:
        w.close()


def test_a_successful_load_clears_the_record(qtbot: QtBot, kestrel_home: Path, good_model: Path) -> None:
    crashes.record(good_model, "it crashed once")
    w = Window(qtbot, good_model)
    try:
        w.window.load_model()
        qtbot.waitUntil(lambda: w.controller.state is ModelState.READY, timeout=10000)
        assert crashes.crash_reason(good_model) is None
    finally:
        w.close()


def test_a_file_llama_cpp_would_assert_on_is_refused_and_the_previous_model_answers(
        qtbot: QtBot, kestrel_home: Path, good_model: Path, tmp_path: Path) -> None:
    """The real engine: a header the checks refuse never reaches llama.cpp, and the loaded model stays."""
    import gguf

    from app.engines.process.engine import ProcessEngine

    bad = gguf_files.rewrite_metadata(good_model, tmp_path / "layers0.gguf",
                                      {"llama.block_count": (0, gguf.GGUFValueType.UINT32)})
    w = Window(qtbot, good_model)
    w.engine = ProcessEngine()
    try:
        w.window.load_model()
        qtbot.waitUntil(lambda: w.controller.state is ModelState.READY, timeout=30000)
        pid = w.engine.pid
        with qtbot.waitSignal(w.controller.load_failed, timeout=10000) as failed:
            w.settings.set("model_path", str(bad))
        assert failed.args[0].startswith("layers0.gguf: its layer count is 0")
        qtbot.waitUntil(lambda: w.controller.state is ModelState.READY, timeout=10000)
        model = w.controller.model
        assert model is not None and model.path == good_model and w.engine.pid == pid
        assert w.window.chat.notice.text().startswith("layers0.gguf")  # the refusal is shown
        w.settings.set("max_tokens", 2)
        with qtbot.waitSignal(w.controller.finished, timeout=30000):
            send(qtbot, w, "hello")
        stored = w.history.messages(w.window.chat.conversation_id or -1)
        assert len(stored) == 2 and stored[1].complete
    finally:
        w.close()
