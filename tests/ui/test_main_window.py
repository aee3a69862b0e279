"""The main window: title, focus, menus, geometry, load errors, closing mid-answer; and the real model once."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.chat.history import History
from app.engines.contract import Engine, LoadedModel, LoadProgress, ModelSpec
from app.engines.fake import FakeEngine
from app.ui.engine.controller import EngineController, ModelState
from app.ui.main_window import MainWindow
from app.ui.speed import ReadoutState
from tests import gguf_files

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


class Harness:
    def __init__(self, qtbot: QtBot, home: Path, engine: Engine, model: str | None) -> None:
        self.settings = Settings.load_default()
        self.history = History(History.default_path())
        self.controller = EngineController(lambda _spec: engine)
        self.window = MainWindow(self.controller, self.history, self.settings, model_override=model)
        qtbot.addWidget(self.window)
        self.window.show()
        qtbot.waitExposed(self.window)
        self.window.load_model()

    def close(self) -> None:
        if self.window.isVisible():
            self.window.close()
        self.history.close()


@pytest.fixture
def fake_model(tmp_path: Path) -> Path:
    return gguf_files.write_tiny_llama(tmp_path / "tiny.gguf")


@pytest.fixture
def harness(qtbot: QtBot, kestrel_home: Path, fake_model: Path) -> Iterator[Harness]:
    h = Harness(qtbot, kestrel_home, FakeEngine(tokens_per_s=300), str(fake_model))
    qtbot.waitUntil(lambda: h.controller.model is not None, timeout=5000)
    yield h
    h.close()


def test_title_focus_and_menus(harness: Harness, qtbot: QtBot) -> None:
    w = harness.window
    assert "Kestrel" in w.windowTitle()
    qtbot.waitUntil(lambda: w.chat.input.hasFocus(), timeout=3000)
    actions = {a.text().replace("&", "") for a in w.menuBar().actions()}
    assert actions == {"File", "Help"}
    for action in (w.new_chat_action, w.open_model_action, w.settings_action, w.quit_action, w.about_action):
        assert (action.isEnabled() and not action.shortcut().isEmpty()) or action is w.about_action
    assert w.model_label.text() == "Fake model · Q4_K_M"
    assert w.readout.backend_text().startswith("CPU")


def test_geometry_is_remembered(qtbot: QtBot, kestrel_home: Path, fake_model: Path) -> None:
    first = Harness(qtbot, kestrel_home, FakeEngine(), str(fake_model))
    first.window.setGeometry(30, 40, 700, 500)  # the offscreen screen is 800x600
    qtbot.wait(50)
    size = first.window.size()
    first.close()
    second = Harness(qtbot, kestrel_home, FakeEngine(), str(fake_model))
    try:
        assert second.window.size() == size
    finally:
        second.close()


def test_a_broken_model_is_explained_and_the_app_stays_usable(qtbot: QtBot, kestrel_home: Path,
                                                              tmp_path: Path) -> None:
    from app.engines.process.engine import ProcessEngine

    broken = gguf_files.make_random_bytes(tmp_path / "broken.gguf")
    h = Harness(qtbot, kestrel_home, ProcessEngine(), str(broken))
    try:
        qtbot.waitUntil(lambda: not h.window.chat.notice.isHidden(), timeout=10000)
        assert "broken.gguf" in h.window.chat.notice.text() and "not a GGUF file" in h.window.chat.notice.text()
        assert h.window.model_label.text() == "No model"
        assert not h.window.chat.send_button.isEnabled()
        h.window.chat.input.setPlainText("my unsent words")
        assert h.window.chat.input.toPlainText() == "my unsent words"  # nothing typed is lost
    finally:
        h.close()


def test_a_damaged_header_is_explained_in_words_with_the_technical_detail_under_details(
        qtbot: QtBot, kestrel_home: Path, tmp_path: Path) -> None:
    from app.engines.process.engine import ProcessEngine

    odd = tmp_path / "odd.gguf"
    odd.write_bytes(b"GGUF" + (3984908932).to_bytes(4, "little") + bytes(64))
    h = Harness(qtbot, kestrel_home, ProcessEngine(), str(odd))
    try:
        notice = h.window.chat.notice
        qtbot.waitUntil(lambda: not notice.isHidden(), timeout=10000)
        assert "odd.gguf: is not a GGUF model file, or it is damaged" in notice.message
        assert "3984908932" not in notice.text() and "Details" in notice.text()
        notice.linkActivated.emit("#details")
        assert "its header says version 3984908932, a number no GGUF file has" in notice.text()
    finally:
        h.close()


def test_missing_model_file_is_explained(qtbot: QtBot, kestrel_home: Path, tmp_path: Path) -> None:
    h = Harness(qtbot, kestrel_home, FakeEngine(), str(tmp_path / "nowhere.gguf"))
    try:
        qtbot.waitUntil(lambda: not h.window.chat.notice.isHidden(), timeout=5000)
        assert "model file not found" in h.window.chat.notice.text()
    finally:
        h.close()


def test_closing_mid_answer_stops_cleanly_and_keeps_the_text(qtbot: QtBot, kestrel_home: Path,
                                                            fake_model: Path) -> None:
    engine = FakeEngine(reply=" ".join(f"t{i}" for i in range(2000)), tokens_per_s=200)
    h = Harness(qtbot, kestrel_home, engine, str(fake_model))
    qtbot.waitUntil(lambda: h.controller.model is not None, timeout=5000)
    chat = h.window.chat
    chat.input.setPlainText("a long one please")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(chat.view.widgets()) == 2 and len(chat.view.widgets()[1].text) > 30, timeout=5000)
    cid = chat.conversation_id
    h.window.close()
    assert h.controller.wait_stopped(0)
    stored = h.history.messages(cid or -1)
    assert stored[0].content == "a long one please"
    assert stored[1].content.startswith("t0 t1") and len(stored[1].content) >= 30
    assert stored[1].stats and stored[1].stats["stop_reason"] == "cancelled"
    h.history.close()


def test_open_model_file_refuses_a_broken_file(harness: Harness, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: shown.append(text))
    bad = gguf_files.make_empty(tmp_path / "empty.gguf")
    assert harness.window.use_model_file(bad) is False
    assert shown and "empty.gguf" in shown[0]
    assert harness.settings.get_str("model_path") == ""


@pytest.mark.real_model
def test_chat_end_to_end_on_the_real_starter_model(qtbot: QtBot, kestrel_home: Path, starter_model: Path) -> None:
    from app.engines.process.engine import ProcessEngine

    h = Harness(qtbot, kestrel_home, ProcessEngine(), str(starter_model))
    try:
        qtbot.waitUntil(lambda: h.controller.model is not None, timeout=60000)
        h.settings.update({"max_tokens": 24, "temperature": 0.0})
        chat = h.window.chat
        chat.input.setPlainText("Name a bird of prey.")
        with qtbot.waitSignal(h.controller.finished, timeout=60000):
            qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not chat.generating)
        reply = chat.view.widgets()[1]
        assert reply.text.strip()
        stored = h.history.messages(chat.conversation_id or -1)
        assert stored[1].content == reply.text and stored[1].complete
        stats = stored[1].stats or {}
        assert stats["completion_tokens"] > 0 and stats["backend"] == "CPU" and stats["decode_tps"] > 0
        assert "tok/s" in h.window.readout.text()
        # A second turn reuses the first from the KV cache.
        chat.input.setPlainText("Where does it live?")
        with qtbot.waitSignal(h.controller.finished, timeout=60000):
            qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not chat.generating)
        second = h.history.messages(chat.conversation_id or -1)[3].stats or {}
        assert second["cached_tokens"] >= stats["prompt_tokens"]
    finally:
        h.close()


def test_closing_while_a_model_loads_exits_within_two_seconds(qtbot: QtBot, kestrel_home: Path,
                                                            fake_model: Path) -> None:
    h = Harness(qtbot, kestrel_home, FakeEngine(load_s=60.0), str(fake_model))
    qtbot.waitUntil(lambda: h.controller.state is ModelState.LOADING, timeout=5000)
    assert h.window.model_label.text() == "Loading model…" and h.window.load_bar.isVisible()
    started = time.monotonic()
    assert h.window.close()
    assert time.monotonic() - started < 2.0
    assert h.controller.wait_stopped(0) and not h.window.isVisible()
    h.history.close()


def test_closing_waits_for_an_engine_thread_that_is_slow_to_stop(harness: Harness, qtbot: QtBot) -> None:
    """shutdown() returning False must not let the window (and its controller's thread) go."""
    release = threading.Event()
    job = harness.controller.run_job(lambda engine, stop, report: release.wait(10))  # deaf to its stop flag
    qtbot.waitSignal(job.started, timeout=5000).wait()
    harness.window.shutdown_wait_ms = 50
    assert harness.window.close() is False
    assert harness.window.isVisible() and not harness.controller.wait_stopped(0)
    release.set()
    qtbot.waitUntil(lambda: not harness.window.isVisible(), timeout=5000)
    assert harness.controller.wait_stopped(0) and job.is_finished


def test_the_readout_follows_request_state_not_its_words(qtbot: QtBot, kestrel_home: Path, fake_model: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply that fails before its first figure leaves the readout idle, whatever language it speaks."""
    from app.ui.speed import readout as readout_module

    monkeypatch.setattr(readout_module, "STARTED_TEXT", "正在读取提示词…")  # as in the Chinese UI
    h = Harness(qtbot, kestrel_home, FakeEngine(fail_after_tokens=0), str(fake_model))
    try:
        qtbot.waitUntil(lambda: h.controller.model is not None, timeout=5000)
        readout, chat = h.window.readout, h.window.chat
        seen: list[tuple[ReadoutState, str]] = []  # what the readout showed once the reply started
        h.controller.request_started.connect(lambda _handle: seen.append((readout.state, readout.text())))
        chat.input.setPlainText("hello")
        chat.send()
        qtbot.waitUntil(lambda: not h.controller.busy, timeout=5000)
        assert seen == [(ReadoutState.WAITING, "正在读取提示词…")]
        assert readout.state is ReadoutState.IDLE and readout.text() == "Ready"
        assert chat.notice.kind == "error" and "failed on purpose" in chat.notice.text()
    finally:
        h.close()


def test_a_corrupt_settings_file_is_reported_when_the_window_opens(qtbot: QtBot, kestrel_home: Path,
                                                                  fake_model: Path) -> None:
    path = Settings.default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ this is not json", encoding="utf-8")
    h = Harness(qtbot, kestrel_home, FakeEngine(), str(fake_model))
    try:
        notice = h.window.chat.notice
        assert not notice.isHidden() and notice.kind == "warning"
        assert "settings.json" in notice.text() and "moved to" in notice.text()
        assert notice.text() == "\n".join(h.settings.problems)
    finally:
        h.close()


def test_the_status_bar_follows_the_model_state(harness: Harness, qtbot: QtBot) -> None:
    w = harness.window
    assert harness.controller.state is ModelState.READY and not w.load_bar.isVisible()
    assert w.readout.backend_text() == "CPU" and "Fake model" in w.windowTitle()
    harness.controller.worker.engine.load_s = 60.0  # type: ignore[union-attr]
    w.load_model()
    qtbot.waitUntil(lambda: harness.controller.state is ModelState.LOADING, timeout=5000)
    assert w.model_label.text() == "Loading model…" and w.load_bar.isVisible()
    assert w.readout.backend_text() == "" and w.readout.text() == ""  # one place says what the model is doing
    assert w.statusBar().currentMessage() == ""


def test_the_model_in_use_is_always_in_the_models_list(harness: Harness, qtbot: QtBot, fake_model: Path) -> None:
    """At first start the list said 'No models yet' while the status bar named the starter model in use."""
    w = harness.window
    entries = [Path(e.path) for e in w.library.entries()]
    assert fake_model.resolve() in [p.resolve() for p in entries]  # listed as soon as it loaded
    assert w.library.entries()[0].source == "imported"
    w.tabs.setCurrentWidget(w.models)
    qtbot.waitUntil(lambda: w.models.built and w.models.scans > 0, timeout=5000)
    assert w.models.row_for(fake_model) is not None


def test_restart_closes_the_window_saving_everything_and_asks_to_start_again(harness: Harness, qtbot: QtBot) -> None:
    w = harness.window
    assert not w.restart_requested
    w.restart()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    assert w.restart_requested and harness.controller.wait_stopped(0)


def test_a_base_model_is_said_to_be_one_on_the_panels_with_a_way_to_a_chat_model(harness: Harness,
                                                                                  qtbot: QtBot) -> None:
    w = harness.window
    loaded = harness.controller.model
    assert loaded is not None and loaded.chat_format == "plain"  # the fake model has no chat template
    for panel in (w.chat, w.translate_panel, w.summarize_panel):
        assert not panel.base_note.isHidden()
        assert panel.base_note.label.text().startswith("Fake model is a base model: it continues text")
    w.chat.base_note.button.click()
    assert w.tabs.currentWidget() is w.models
    assert w.models.details.currentWidget() is w.models.catalog  # where the recommended chat model is


def test_no_base_model_note_for_a_model_with_a_chat_template(qtbot: QtBot, kestrel_home: Path,
                                                             fake_model: Path) -> None:
    class ChatModel(FakeEngine):
        def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
                 cancel: threading.Event | None = None) -> LoadedModel:
            return dataclasses.replace(super().load(spec, on_progress, cancel), chat_format="gguf-template")

    h = Harness(qtbot, kestrel_home, ChatModel(), str(fake_model))
    try:
        qtbot.waitUntil(lambda: h.controller.model is not None, timeout=5000)
        assert all(p.base_note.isHidden() for p in (h.window.chat, h.window.translate_panel, h.window.summarize_panel))
    finally:
        h.close()
