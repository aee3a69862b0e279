"""A document attached to the chat: paperclip and drop, a question answered from all of it, sources, Stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from app.chat.history import History
from app.engines.fake import DEFAULT_REPLY, FakeEngine
from app.ui.chat.panel import ChatPanel
from tests.ask.test_ask import QUESTION, document, reply
from tests.ui.test_chat_panel import Env


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    """Twelve sections; only the last one holds the answer. Larger than the fake model's context."""
    path = tmp_path / "report.md"
    path.write_text(document(), encoding="utf-8")
    return path


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path) -> Iterator[Env]:
    e = Env(qtbot, tmp_path, FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512))
    yield e
    e.close()


def files(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def attach(env: Env, path: Path) -> None:
    env.panel.documents.attach(path)
    env.qtbot.waitUntil(lambda: env.panel.documents.ready, timeout=5000)


def ask(env: Env, question: str = QUESTION) -> None:
    env.panel.input.setPlainText(question)
    with env.qtbot.waitSignal(env.controller.finished, timeout=10000):
        env.panel.send()
    env.qtbot.waitUntil(lambda: not env.panel.generating)


def test_the_paperclip_attaches_the_chosen_document(env: Env, doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a: (str(doc), ""))
    env.panel.show()
    env.qtbot.waitExposed(env.panel)
    assert not env.panel.attachment.isVisible()
    env.qtbot.mouseClick(env.panel.attach_button, Qt.MouseButton.LeftButton)
    env.qtbot.waitUntil(lambda: env.panel.documents.ready, timeout=5000)
    assert env.panel.attachment.isVisible() and env.panel.attachment.name_label.text() == "report.md"
    assert "characters" in env.panel.attachment.info_label.text()
    assert env.panel.attachment.remove_button.isVisible() and env.panel.attachment.remove_button.isEnabled()


def test_a_file_dropped_on_the_chat_or_the_input_is_attached_and_a_refused_one_says_why(
        env: Env, doc: Path, tmp_path: Path) -> None:
    mime = files(doc)
    enter = QDragEnterEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    env.panel.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    env.panel.dropEvent(drop)
    env.qtbot.waitUntil(lambda: env.panel.documents.ready, timeout=5000)
    assert env.panel.documents.document is not None and env.panel.documents.document.name == "report.md"

    other = tmp_path / "notes.txt"
    other.write_text("Kestrels hover.", encoding="utf-8")
    other_mime = files(other)
    env.panel.input.insertFromMimeData(other_mime)  # dropped (or pasted) on the input: attached, not typed
    env.qtbot.waitUntil(lambda: env.panel.attachment.name_label.text() == "notes.txt", timeout=5000)
    assert env.panel.input.toPlainText() == ""

    program = tmp_path / "tool.exe"
    program.write_bytes(b"MZ")
    refused_mime = files(program)  # held: the event does not own it
    refused = QDragEnterEvent(QPointF(10, 10), Qt.DropAction.CopyAction, refused_mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier)
    env.panel.dragEnterEvent(refused)
    assert not refused.isAccepted()
    assert env.panel.notice.text().startswith("Can't attach this: .exe files are not supported")
    both = files(doc, other)
    env.panel.input.insertFromMimeData(both)
    assert env.panel.notice.text() == "Can't attach this: attach one document at a time"
    assert env.panel.attachment.name_label.text() == "notes.txt"  # the attached one stays


@pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")  # the offscreen platform's limits
def test_a_question_is_answered_from_the_whole_document_with_its_sources_and_kept(
        env: Env, doc: Path, qtbot: QtBot, tmp_path: Path) -> None:
    attach(env, doc)
    progress: list[str] = []
    env.panel.input.setPlainText(QUESTION)
    with qtbot.waitSignal(env.controller.finished, timeout=10000):
        env.panel.send()
        assert env.panel.generating and env.panel.stop_button.isEnabled()
        assert not env.panel.attach_button.isEnabled() and not env.panel.attachment.remove_button.isEnabled()
        handle = env.panel._request
        assert handle is not None
        handle.job_progress.connect(lambda _p: progress.append(env.panel.attachment.progress_label.text()))
    qtbot.waitUntil(lambda: not env.panel.generating)
    # every part was asked, in completion style (the fake model has no chat template), the question in each
    parts = [r[-1].content for r in env.engine.requests]
    assert len(parts) > 3 and all(QUESTION in p and "Text: " in p for p in parts)
    assert any(text.startswith(f"Reading part 3 of {len(parts)}…") for text in progress), progress
    assert env.panel.attachment.progress_box.isHidden()

    widgets = env.panel.view.widgets()
    assert [w.role for w in widgets] == ["user", "assistant"]
    shown = widgets[1].body.toPlainText()
    assert shown.startswith("The launch code is 4417-B. (§ Part 1") and "§ Part 12)" in shown
    assert f"Read all {len(parts)} parts of report.md; 1 had an answer." in shown
    assert "(source:0)" in widgets[1].text  # the link under the label
    stored = env.history.messages(env.panel.conversation_id or -1)
    assert [(m.role, m.content) for m in stored] == [("user", QUESTION), ("assistant", widgets[1].text)]
    facts = stored[1].stats["ask"] if stored[1].stats else None
    assert isinstance(facts, dict) and facts["path"] == str(doc) and facts["parts"] == len(parts)
    assert [s["chunks"] for s in facts["sources"]] == [[len(parts) - 1]]
    assert not env.panel.attachment.isHidden()  # attached until removed

    # the source link shows the text the answer came from
    widgets[1].body.anchorClicked.emit(QUrl("source:0"))
    dialog = env.panel.documents.dialog
    assert dialog is not None and dialog.isVisible()
    assert "4417-B" in dialog.text.toPlainText() and "P11x4" in dialog.text.toPlainText()
    assert dialog.title.text() == f"Source: {facts['sources'][0]['label']} · report.md"
    dialog.close()

    # after a restart (a new panel on the same history file) the answer and its link are still there
    env.panel.shutdown()
    env.history.close()
    env.history = History(tmp_path / "history.sqlite3")
    panel = ChatPanel(env.controller, env.history, env.settings)
    qtbot.addWidget(panel)
    env.panel = panel
    reopened = panel.view.widgets()
    assert [w.role for w in reopened] == ["user", "assistant"] and reopened[1].text == widgets[1].text
    reopened[1].body.anchorClicked.emit(QUrl("source:0"))  # nothing in memory: the document is read again
    qtbot.waitUntil(lambda: panel.documents.dialog is not None
                    and "4417-B" in panel.documents.dialog.text.toPlainText(), timeout=5000)
    assert panel.documents.document is None and panel.attachment.isHidden()  # attachments are not restored


def test_stop_ends_the_reading_keeps_the_question_and_the_attachment(qtbot: QtBot, tmp_path: Path,
                                                                     doc: Path) -> None:
    slow = Env(qtbot, tmp_path, FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=400, n_ctx=512))
    try:
        attach(slow, doc)
        slow.panel.input.setPlainText(QUESTION)
        slow.panel.send()
        qtbot.waitUntil(lambda: slow.panel.attachment.progress_label.text().startswith("Reading part 2 of"),
                        timeout=10000)
        with qtbot.waitSignal(slow.controller.finished, timeout=5000):
            qtbot.mouseClick(slow.panel.stop_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not slow.panel.generating)
        assert len(slow.engine.requests) < 6  # the parts after the stop were never asked
        stored = slow.history.messages(slow.panel.conversation_id or -1)
        assert [m.role for m in stored] == ["user"]  # nothing found before the stop: no empty answer kept
        assert slow.panel.send_button.isEnabled() and not slow.panel.stop_button.isEnabled()
        assert slow.panel.documents.ready and slow.panel.attachment.remove_button.isEnabled()
        assert slow.panel.attachment.progress_box.isHidden()
    finally:
        slow.close()


def test_removing_the_document_sends_questions_to_the_chat_again(env: Env, doc: Path) -> None:
    attach(env, doc)
    env.qtbot.mouseClick(env.panel.attachment.remove_button, Qt.MouseButton.LeftButton)
    assert env.panel.documents.document is None and env.panel.attachment.isHidden()
    env.engine.reply = DEFAULT_REPLY
    ask(env, "hello")
    assert len(env.engine.requests) == 1 and env.engine.requests[0][-1].content == "hello"  # a chat turn
    assert env.panel.view.widgets()[1].text == DEFAULT_REPLY


def test_errors_are_clear_messages(env: Env, doc: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    env.panel.documents.attach(empty)
    env.qtbot.waitUntil(lambda: not env.panel.notice.isHidden(), timeout=5000)
    assert env.panel.notice.text() == "The document could not be attached: empty.txt: the file is empty"
    assert env.panel.attachment.isHidden() and env.panel.documents.document is None

    attach(env, doc)
    env.engine.fail_after_tokens = 0
    ask(env)
    assert env.panel.notice.kind == "error" and env.panel.notice.text() == "The fake engine failed on purpose."
    assert [m.role for m in env.history.messages(env.panel.conversation_id or -1)] == ["user"]
    assert env.panel.send_button.isEnabled()


def test_web_links_open_in_the_browser_and_other_links_never_blank_the_message(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    env.engine.reply = "See [the docs](https://example.org/kestrel) or [a page](notes.md)."
    ask(env, "links?")
    widget = env.panel.view.widgets()[1]
    env.qtbot.waitUntil(lambda: "[" not in widget.body.toPlainText())  # rendered a turn after the reply ends
    activated: list[tuple[int, str]] = []
    env.panel.view.link_activated.connect(lambda mid, link: activated.append((mid, link)))
    widget.body.anchorClicked.emit(QUrl("https://example.org/kestrel"))
    widget.body.anchorClicked.emit(QUrl("notes.md"))
    assert opened == ["https://example.org/kestrel"]
    assert activated == [(widget.message_id, "notes.md")]  # reported, not followed
    assert widget.body.toPlainText() == "See the docs or a page."
    assert env.panel.documents.dialog is None  # not a document source: nothing to show
