"""The translation panel end to end on the fake engine through a real EngineController."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.engines.contract import ChatMessage, LocalModel
from app.engines.fake import FakeEngine
from app.translate import runner as runner_module
from app.translate.glossary import Glossary, GlossaryEntry
from app.translate.runner import prompt_segment
from app.ui.engine.controller import EngineController
from app.ui.engine.handle import RequestHandle
from app.ui.translate import TranslatePanel, names
from app.ui.translate.glossary_dialog import GlossaryDialog
from app.ui.translate.panel import glossary_path, state_path


def upper(messages: Sequence[ChatMessage]) -> str:
    return prompt_segment(messages).upper()


class Env:
    def __init__(self, qtbot: QtBot, tmp_path: Path, engine: FakeEngine) -> None:
        self.qtbot = qtbot
        self.engine = engine
        self.settings = Settings(tmp_path / "settings.json")
        self.controller = EngineController(lambda _spec: engine)
        with qtbot.waitSignal(self.controller.loaded, timeout=5000):
            self.controller.load(LocalModel(path=Path("fake.gguf")))
        self.panel = TranslatePanel(self.controller, self.settings)
        qtbot.addWidget(self.panel)
        self.panel.resize(1000, 640)
        self.panel.show()
        names.select(self.panel.target_combo, "fr")

    def wait_done(self) -> None:
        self.qtbot.waitUntil(lambda: not self.panel.translating, timeout=10000)

    def close(self) -> None:
        self.panel.shutdown()
        assert self.controller.shutdown()


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path) -> Iterator[Env]:
    e = Env(qtbot, tmp_path, FakeEngine(reply=upper, tokens_per_s=3000, prefill_tps=0, chat_format="gguf-template"))
    yield e
    e.close()


def test_ctrl_enter_translates_and_the_translation_appears(env: Env, qtbot: QtBot) -> None:
    env.panel.source_edit.setPlainText("Hello there.\n\nKestrel translates offline.")
    with qtbot.waitSignal(env.controller.finished, timeout=10000):
        qtbot.keyClick(env.panel.source_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    env.wait_done()
    assert env.panel.translation_view.toPlainText() == "HELLO THERE.\n\nKESTREL TRANSLATES OFFLINE."
    assert env.panel.source_edit.toPlainText() == "Hello there.\n\nKestrel translates offline."
    assert "2 of 2 segments" in env.panel.info_label.text()
    assert env.panel.copy_button.isEnabled() and env.panel.translate_button.isEnabled()
    env.panel.copy_button.click()
    assert QApplication.clipboard().text() == "HELLO THERE.\n\nKESTREL TRANSLATES OFFLINE."
    assert env.engine.requests[0][0].content.startswith("Translate the text from English to French.")


def test_auto_detect_shows_the_detected_language(env: Env, qtbot: QtBot) -> None:
    env.panel.source_edit.setPlainText("Il fait très beau aujourd'hui, alors nous allons au parc.")
    qtbot.waitUntil(lambda: "detected" in env.panel.source_combo.itemText(0), timeout=3000)
    assert env.panel.source_combo.itemText(0) == "Auto (detected: French)"


def _drop(widget: object, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    target = widget.viewport()  # type: ignore[attr-defined]
    pos = QPointF(20, 20)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()


def test_a_dropped_docx_is_translated_segment_by_segment_and_saved(env: Env, qtbot: QtBot, tmp_path: Path) -> None:
    import docx

    source = tmp_path / "report.docx"
    doc = docx.Document()
    doc.add_heading("Quarterly report", level=1)
    doc.add_paragraph("Sales went up.", style="List Bullet")
    doc.add_paragraph("Costs went down.")
    doc.save(str(source))
    env.panel.source_edit.setPlainText("my typed text")
    _drop(env.panel.source_edit, source)
    assert env.panel.left.currentWidget() is env.panel.document_page
    assert "report.docx" in env.panel.document_label.text() and "3 segments" in env.panel.document_label.text()
    progress: list[int] = []

    def watch(handle: RequestHandle) -> None:
        handle.job_progress.connect(lambda _p: progress.append(env.panel.progress.value()))

    env.controller.request_started.connect(watch)
    with qtbot.waitSignal(env.controller.finished, timeout=10000):
        env.panel.translate_button.click()
    env.wait_done()
    assert max(progress) == 3 and env.panel.result is not None and env.panel.result.segments_translated == 3
    assert env.panel.export_button.text() == "Save document…"
    out = tmp_path / "report.fr.docx"
    assert env.panel.export_to(out)
    assert [(p.style.name if p.style else "", p.text) for p in docx.Document(str(out)).paragraphs] == [
        ("Heading 1", "QUARTERLY REPORT"), ("List Bullet", "SALES WENT UP."), ("Normal", "COSTS WENT DOWN.")]
    assert not env.panel.export_to(source)  # never over the original
    env.panel.close_document_button.click()
    assert env.panel.source_edit.toPlainText() == "my typed text"


def test_a_bad_file_is_refused_with_a_message_and_the_typed_text_stays(env: Env, tmp_path: Path) -> None:
    bad = tmp_path / "slides.pdf"
    bad.write_bytes(b"%PDF-1.7")
    env.panel.source_edit.setPlainText("keep me")
    assert not env.panel.open_document(bad)
    assert not env.panel.notice.isHidden() and "unsupported file type .pdf" in env.panel.notice.text()
    assert env.panel.left.currentWidget() is env.panel.source_edit
    assert env.panel.source_edit.toPlainText() == "keep me"
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    assert not env.panel.open_document(empty) and "is empty" in env.panel.notice.text()


def test_empty_input_is_explained_and_nothing_runs(env: Env) -> None:
    env.panel.source_edit.setPlainText("   ")
    env.panel.translate()
    assert not env.panel.translating and "Type or paste some text first" in env.panel.notice.text()
    env.panel.source_edit.setPlainText("123 456")
    env.panel.translate()
    assert "no words" in env.panel.notice.text() and env.engine.requests == []


def test_swap_exchanges_languages_and_texts(env: Env, qtbot: QtBot) -> None:
    env.panel.source_edit.setPlainText("The weather is lovely today, so we are going for a walk.")
    qtbot.waitUntil(lambda: "English" in env.panel.source_combo.itemText(0), timeout=3000)
    with qtbot.waitSignal(env.controller.finished, timeout=10000):
        env.panel.translate()
    env.wait_done()
    env.panel.swap_button.click()
    assert (env.panel.source_code(), env.panel.target_code()) == ("fr", "en")
    assert env.panel.source_edit.toPlainText() == "THE WEATHER IS LOVELY TODAY, SO WE ARE GOING FOR A WALK."
    assert env.panel.translation_view.toPlainText() == "The weather is lovely today, so we are going for a walk."
    env.panel.source_edit.undo()  # the typed text is one undo away
    assert env.panel.source_edit.toPlainText() == "The weather is lovely today, so we are going for a walk."


def test_glossary_warnings_are_shown_with_the_segment_number(env: Env, qtbot: QtBot) -> None:
    env.panel.set_glossary(Glossary([GlossaryEntry("Kestrel", "Faucon"), GlossaryEntry("Qt", keep=True)]))
    assert env.panel.glossary_button.text() == "Glossary (2)…"
    env.panel.source_edit.setPlainText("Nothing special.\n\nKestrel uses Qt.")
    with qtbot.waitSignal(env.controller.finished, timeout=10000):
        env.panel.translate()
    env.wait_done()
    assert env.panel.warning_texts() == ["Segment 2: “Kestrel” should be translated as “Faucon”",
                                         "Segment 2: “Qt” should be kept as is"]
    assert not env.panel.warnings.isHidden() and "2 warnings" in env.panel.info_label.text()
    stored = Glossary.load(glossary_path())  # persisted under the data folder
    assert [(e.term, e.required) for e in stored.active()] == [("Kestrel", "Faucon"), ("Qt", "Qt")]


def test_the_glossary_editor_round_trips_rows(qtbot: QtBot) -> None:
    dialog = GlossaryDialog(Glossary([GlossaryEntry("Kestrel", keep=True)]))
    qtbot.addWidget(dialog)
    row = dialog.add_row(GlossaryEntry("engine", "moteur"))
    assert row == 1
    dialog.add_row()  # an empty row is ignored
    result = dialog.glossary()
    assert [(e.term, e.translation, e.keep) for e in result.entries] == [("Kestrel", "", True),
                                                                         ("engine", "moteur", False)]


def test_stop_keeps_the_finished_segments(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(reply=upper, tokens_per_s=200, prefill_tps=0))
    try:
        text = "\n\n".join(f"Paragraph {i} has a handful of words in it." for i in range(8))
        e.panel.source_edit.setPlainText(text)
        e.panel.translate()
        qtbot.waitUntil(lambda: e.panel.progress.value() >= 2, timeout=10000)
        with qtbot.waitSignal(e.controller.finished, timeout=10000):
            qtbot.mouseClick(e.panel.stop_button, Qt.MouseButton.LeftButton)
        e.wait_done()
        result = e.panel.result
        assert result is not None and result.cancelled and 2 <= result.segments_translated < 8
        shown = e.panel.translation_view.toPlainText().split("\n\n")
        assert shown[0] == "PARAGRAPH 0 HAS A HANDFUL OF WORDS IN IT." and shown[-1].startswith("Paragraph 7")
        assert "Stopped:" in e.panel.info_label.text()
    finally:
        e.close()


def test_the_draft_and_languages_survive_a_restart(env: Env, qtbot: QtBot) -> None:
    env.panel.source_edit.setPlainText("a draft worth keeping")
    names.select(env.panel.target_combo, "ja")
    env.panel.shutdown()
    again = TranslatePanel(env.controller, env.settings)
    qtbot.addWidget(again)
    assert again.source_edit.toPlainText() == "a draft worth keeping" and again.target_code() == "ja"


def test_no_model_yet_is_explained(qtbot: QtBot, tmp_path: Path) -> None:
    controller = EngineController(lambda _spec: FakeEngine())
    panel = TranslatePanel(controller, Settings(tmp_path / "settings.json"))
    qtbot.addWidget(panel)
    try:
        panel.source_edit.setPlainText("Hello.")
        assert not panel.translate_button.isEnabled()
        panel.translate()
        assert "No model is loaded yet" in panel.notice.text() and not panel.translating
    finally:
        assert controller.shutdown()


def test_a_failing_engine_is_reported_and_the_panel_is_ready_again(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(reply=upper, fail_after_tokens=1))
    try:
        e.panel.source_edit.setPlainText("Hello there, this will not work.")
        with qtbot.waitSignal(e.controller.finished, timeout=10000):
            e.panel.translate()
        assert not e.panel.translating
        assert e.panel.notice.kind == "error" and "failed on purpose" in e.panel.notice.text()
        assert e.panel.translate_button.isEnabled() and not e.panel.stop_button.isEnabled()
    finally:
        e.close()


def test_an_interrupted_draft_save_leaves_the_previous_draft_whole(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.panel.source_edit.setPlainText("the first draft")
    env.panel.shutdown()  # saves
    saved = state_path().read_text(encoding="utf-8")
    real_open = io.open

    def crash_while_writing(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        handle = real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]
        if "w" in mode and Path(str(file)) == state_path():
            handle.close()  # the file was opened for writing (truncated): the machine stops here
            raise OSError("power cut")
        return handle

    with monkeypatch.context() as patched:
        patched.setattr(io, "open", crash_while_writing)
        env.panel.source_edit.setPlainText("a second draft")
        env.panel.shutdown()
    draft = json.loads(state_path().read_text(encoding="utf-8"))["draft"]
    assert draft in ("the first draft", "a second draft") and json.loads(saved)["draft"] == "the first draft"


def test_text_already_in_the_target_language_is_said_and_nothing_is_sent(env: Env, qtbot: QtBot) -> None:
    names.select(env.panel.target_combo, "zh-Hans")
    env.panel.source_edit.setPlainText("今天天气很好，我们去公园散步吧。")
    with qtbot.waitSignal(env.controller.finished, timeout=10000):
        env.panel.translate_button.click()
    env.wait_done()
    assert env.engine.requests == []
    assert env.panel.notice.kind == "warning"
    assert env.panel.notice.text().startswith("The text is already in ")
    assert env.panel.info_label.text() == "" and env.panel.translate_button.isEnabled()


@pytest.fixture(autouse=True)
def echoes_count_as_translations(monkeypatch: pytest.MonkeyPatch) -> None:
    """This module's fake engine "translates" by echoing the text (upper-cased or not); the
    language check would rightly mark that untranslated, and these tests are about the rest."""
    monkeypatch.setattr(runner_module, "UNTRANSLATED_CONFIDENCE", 2.0)
