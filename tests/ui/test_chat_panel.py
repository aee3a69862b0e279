"""The chat panel end to end on the fake engine: streaming, stop, edit, regenerate, search."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.chat.history import History
from app.engines.contract import LocalModel
from app.engines.fake import DEFAULT_REPLY, FakeEngine
from app.ui.chat import panel as panel_module
from app.ui.chat.panel import ChatPanel
from app.ui.engine.controller import EngineController


class Env:
    def __init__(self, qtbot: QtBot, tmp_path: Path, engine: FakeEngine) -> None:
        self.qtbot = qtbot
        self.engine = engine
        self.settings = Settings(tmp_path / "settings.json")
        self.history = History(tmp_path / "history.sqlite3")
        self.controller = EngineController(lambda _spec: engine)
        with qtbot.waitSignal(self.controller.loaded, timeout=5000):
            self.controller.load(LocalModel(path=Path("fake.gguf")))
        self.panel = ChatPanel(self.controller, self.history, self.settings)
        qtbot.addWidget(self.panel)
        self.panel.resize(900, 700)

    def send(self, text: str) -> None:
        self.panel.input.setPlainText(text)
        with self.qtbot.waitSignal(self.controller.finished, timeout=10000):
            self.qtbot.keyClick(self.panel.input, Qt.Key.Key_Return)
        self.qtbot.waitUntil(lambda: not self.panel.generating)

    def close(self) -> None:
        self.panel.shutdown()
        assert self.controller.shutdown()
        self.history.close()


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path) -> Iterator[Env]:
    e = Env(qtbot, tmp_path, FakeEngine(tokens_per_s=2000))
    yield e
    e.close()


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_enter_sends_and_the_reply_streams_into_view_and_history(env: Env) -> None:
    env.panel.show()  # so that isVisible() below says what the user sees
    env.qtbot.waitExposed(env.panel)
    env.send("Show me some code")
    widgets = env.panel.view.widgets()
    assert [w.role for w in widgets] == ["user", "assistant"]
    assert widgets[1].text == DEFAULT_REPLY
    # Markdown rendered at the end (a turn after the reply is stored): the code fence markers go from the display.
    env.qtbot.waitUntil(lambda: "```" not in widgets[1].body.toPlainText())
    assert "def hello" in widgets[1].body.toPlainText()
    assert widgets[1].details.isVisible() and "tok/s" in widgets[1].details.text()  # show_speed_details
    stored = env.history.messages(env.panel.conversation_id or -1)
    assert [(m.role, m.complete) for m in stored] == [("user", True), ("assistant", True)]
    assert stored[1].content == DEFAULT_REPLY and stored[1].stats and stored[1].stats["stop_reason"] == "eos"
    assert env.panel.title_label.text() == "Show me some code"
    assert env.panel.input.toPlainText() == ""


def test_shift_enter_inserts_a_newline_instead_of_sending(env: Env, qtbot: QtBot) -> None:
    env.panel.input.setPlainText("line one")
    env.panel.input.moveCursor(env.panel.input.textCursor().MoveOperation.End)
    qtbot.keyClick(env.panel.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert env.panel.input.toPlainText() == "line one\n"
    assert env.engine.requests == []


def test_stop_keeps_the_partial_answer(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(reply=" ".join(f"w{i}" for i in range(400)), tokens_per_s=100))
    try:
        e.panel.input.setPlainText("go")
        e.panel.send()
        qtbot.waitUntil(lambda: len(e.panel.view.widgets()) == 2 and len(e.panel.view.widgets()[1].text) > 20,
                        timeout=5000)
        assert e.panel.stop_button.isEnabled()
        with qtbot.waitSignal(e.controller.finished, timeout=5000):
            qtbot.mouseClick(e.panel.stop_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not e.panel.generating)
        stored = e.history.messages(e.panel.conversation_id or -1)
        assert stored[1].complete and stored[1].stats and stored[1].stats["stop_reason"] == "cancelled"
        assert stored[1].content.startswith("w0 w1") and len(stored[1].content.split()) < 400
        assert e.panel.view.widgets()[1].text == stored[1].content
    finally:
        e.close()


def test_regenerate_replaces_the_last_answer(env: Env) -> None:
    env.send("first")
    env.engine.reply = "a different answer"
    last = env.panel.view.widgets()[-1]
    assert last.regenerate_button is not None and last.regenerate_button.isVisibleTo(env.panel)
    with env.qtbot.waitSignal(env.controller.finished, timeout=5000):
        last.regenerate_button.click()
    env.qtbot.waitUntil(lambda: not env.panel.generating)
    stored = env.history.messages(env.panel.conversation_id or -1)
    assert [m.content for m in stored] == ["first", "a different answer"]
    assert len(env.engine.requests) == 2 and env.engine.requests[1][-1].content == "first"


def test_regenerate_keeps_the_earlier_answers_as_versions_and_the_chosen_one_continues(env: Env) -> None:
    env.send("name a falcon")
    first_answer = env.panel.view.widgets()[-1].text
    for reply in ("second try", "third try"):
        env.engine.reply = reply
        with env.qtbot.waitSignal(env.controller.finished, timeout=5000):
            env.panel.view.widgets()[-1].regenerate_button.click()  # type: ignore[union-attr]
        env.qtbot.waitUntil(lambda: not env.panel.generating)
    answer = env.panel.view.widgets()[-1]
    assert answer.text == "third try" and answer.version_label.text() == "3/3"
    assert answer.previous_button.isVisibleTo(env.panel) and not answer.next_button.isEnabled()
    answer.previous_button.click()
    answer.previous_button.click()
    assert answer.text == first_answer and answer.version_label.text() == "1/3"
    assert not answer.previous_button.isEnabled()
    cid = env.panel.conversation_id or -1
    assert [m.content for m in env.history.messages(cid)] == ["name a falcon", first_answer]
    env.engine.reply = "it eats mice"
    env.send("what does it eat?")  # the chat continues from the version shown
    assert env.engine.requests[-1][-2].content == first_answer
    env.panel.open_conversation(cid)  # versions come back with the chat
    reopened = env.panel.view.widgets()[1]
    assert reopened.version_label.text() == "1/3" and reopened.versions == 3
    assert not reopened.next_button.isEnabled()  # the chat went on from it: seen, not switched
    user = env.panel.view.widgets()[0]
    assert not user.version_label.isVisibleTo(env.panel)


def test_edit_and_resend_replaces_the_message_and_what_followed(env: Env) -> None:
    env.send("first question")
    env.send("second question")
    first_user = env.panel.view.widgets()[0]
    assert first_user.edit_button is not None
    first_user.edit_button.click()
    assert env.panel.input.toPlainText() == "first question" and not env.panel.edit_note.isHidden()
    env.send("edited question")
    stored = env.history.messages(env.panel.conversation_id or -1)
    assert [m.content for m in stored if m.role == "user"] == ["edited question"]
    assert len(stored) == 2
    # The edited request did not include the replaced turns.
    assert [m.content for m in env.engine.requests[-1] if m.role == "user"] == ["edited question"]


def test_copy_puts_the_message_on_the_clipboard(env: Env) -> None:
    env.send("copy me")
    env.panel.view.widgets()[1].copy_button.click()
    assert QApplication.clipboard().text() == DEFAULT_REPLY


def test_search_finds_a_word_from_an_old_chat_and_opens_it(env: Env, qtbot: QtBot) -> None:
    env.send("Tell me about the peregrine falcon")
    old_id = env.panel.conversation_id
    env.panel.new_conversation()
    env.send("Something else entirely")
    sidebar = env.panel.sidebar
    sidebar.search.setText("peregrine")
    qtbot.waitUntil(lambda: sidebar.list.count() == 1 and "peregrine" in sidebar.list.item(0).text().lower(),
                    timeout=3000)
    sidebar.list.itemClicked.emit(sidebar.list.item(0))
    assert env.panel.conversation_id == old_id
    assert env.panel.view.widgets()[0].text == "Tell me about the peregrine falcon"


def test_system_prompt_is_per_conversation_and_reaches_the_engine(env: Env, qtbot: QtBot) -> None:
    env.panel.system_toggle.setChecked(True)
    env.panel.system_edit.setPlainText("Answer like a pirate.")
    env.send("hi")
    assert env.engine.requests[-1][0].role == "system"
    assert env.engine.requests[-1][0].content == "Answer like a pirate."
    conversation = env.history.get_conversation(env.panel.conversation_id or -1)
    assert conversation.system_prompt == "Answer like a pirate."


def _answer_confirmation(button_text: str) -> None:
    """Click a button of the confirmation box once it is open (it runs its own event loop)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, click)
            return
        for button in box.buttons():
            if button.text().replace("&", "") == button_text:
                button.click()
                return
        raise AssertionError(f"no {button_text!r} button")

    QTimer.singleShot(10, click)


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_delete_asks_for_confirmation(env: Env) -> None:
    env.send("to be deleted")
    cid = env.panel.conversation_id or -1
    _answer_confirmation("Cancel")
    env.panel.sidebar.delete(cid)
    assert env.history.get_conversation(cid)
    _answer_confirmation("Delete")
    env.panel.sidebar.delete(cid)
    with pytest.raises(KeyError):
        env.history.get_conversation(cid)
    assert env.panel.conversation_id is None and env.panel.view.widgets() == []


def test_context_budget_is_shown_before_sending(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(n_ctx=512))
    try:
        e.panel.input.setPlainText("a short message")
        qtbot.waitUntil(lambda: "/ 512 tokens" in e.panel.budget_label.text(), timeout=3000)
        assert "too long" not in e.panel.budget_label.text()
        e.panel.input.setPlainText("word " * 600)
        qtbot.waitUntil(lambda: "too long" in e.panel.budget_label.text(), timeout=3000)
        assert "oldest turns will be left out" in e.panel.budget_label.text()
    finally:
        e.close()


def test_a_message_that_cannot_fit_gets_a_clear_error_and_nothing_is_lost(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(n_ctx=256))
    try:
        text = "word " * 400
        e.send(text)
        assert not e.panel.notice.isHidden() and "context holds 256" in e.panel.notice.text()
        assert e.panel.notice.kind == "error"
        stored = e.history.messages(e.panel.conversation_id or -1)
        assert [m.role for m in stored] == ["user"] and stored[0].content == text
        assert e.panel.send_button.isEnabled()
    finally:
        e.close()


def test_trimmed_history_is_stated_in_the_ui(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(reply="answer " * 20, n_ctx=256))
    e.settings.set("max_tokens", 64)
    try:
        for i in range(6):
            e.send(f"question {i} " + "word " * 12)
        assert not e.panel.notice.isHidden() and "oldest message" in e.panel.notice.text()
    finally:
        e.close()


def test_a_reply_with_no_text_leaves_no_blank_bubble_and_says_why(qtbot: QtBot, tmp_path: Path) -> None:
    """It used to be a blank bubble whose only line was 'stop: stop'."""
    e = Env(qtbot, tmp_path, FakeEngine(reply="\n\n", tokens_per_s=2000))
    try:
        e.send("Hello?")
        assert [w.role for w in e.panel.view.widgets()] == ["user"]
        stored = e.history.messages(e.panel.conversation_id or -1)
        assert [m.role for m in stored] == ["user"]  # the question stays, ready to send again or edit
        assert e.panel.notice.kind == "info"
        assert e.panel.notice.text() == ("The model returned no text: it ended at once (the model's end of text). "
                                         "Try again, or rephrase the message.")
    finally:
        e.close()


def test_a_users_markdown_is_rendered_like_a_reply_and_kept_exactly_in_the_history(env: Env) -> None:
    env.send("**Python** question:\n\n```python\nprint('hi')\n```")
    user = env.panel.view.widgets()[0]
    shown = user.body.toPlainText()
    assert "**" not in shown and "```" not in shown and "Python question:" in shown and "print('hi')" in shown
    stored = env.history.messages(env.panel.conversation_id or -1)[0]
    assert stored.content == "**Python** question:\n\n```python\nprint('hi')\n```"  # the exact text is kept
    assert env.panel.title_label.text() == "Python question: print('hi')"


def regenerating(panel: ChatPanel) -> list[int]:
    """The messages that show a Regenerate button."""
    return [w.message_id for w in panel.view.widgets()
            if w.regenerate_button is not None and w.regenerate_button.isVisibleTo(panel)]


def test_a_long_chat_opens_with_its_newest_messages_and_the_rest_follow_in_order(qtbot: QtBot, tmp_path: Path) -> None:
    """Every message was built at once (198 messages held the window 860 ms); now the newest, then batches."""
    e = Env(qtbot, tmp_path, FakeEngine(tokens_per_s=2000))
    try:
        chat = e.history.create_conversation("Long", "")
        ids = [e.history.add_message(chat.id, "user" if i % 2 == 0 else "assistant", f"message {i}").id
               for i in range(400)]
        e.panel.open_conversation(chat.id)
        shown = [w.message_id for w in e.panel.view.widgets()]
        assert shown == ids[-panel_module.OPEN_FIRST:]  # the newest at once
        assert regenerating(e.panel) == [ids[-1]]
        qtbot.waitUntil(lambda: len(e.panel.view.widgets()) == 400, timeout=10000)
        assert regenerating(e.panel) == [ids[-1]]  # batches added above never show Regenerate
        assert [w.message_id for w in e.panel.view.widgets()] == ids  # all of them, oldest first
        assert [w.text for w in e.panel.view.widgets()][:2] == ["message 0", "message 1"]
        e.panel.new_conversation()
        e.panel.open_conversation(chat.id)
        e.panel._open_search_hit(chat.id, ids[3])  # a hit far up is built at once, not waited for
        assert e.panel.view.widget(ids[3]) is not None and len(e.panel.view.widgets()) == 400
    finally:
        e.close()


def test_earlier_messages_wait_while_an_answer_streams(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(reply=" ".join(["word"] * 300), tokens_per_s=600))
    try:
        chat = e.history.create_conversation("Long", "")
        for i in range(200):
            e.history.add_message(chat.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
        e.panel.open_conversation(chat.id)
        e.panel.input.setPlainText("one more")
        e.panel.send()
        qtbot.waitUntil(lambda: e.panel.generating and len(e.panel.view.widgets()[-1].text) > 20, timeout=5000)
        waiting = len(e.panel.view.widgets())
        # many turns of the event loop later (a batch would come every turn), still no earlier message
        qtbot.waitUntil(lambda: len(e.panel.view.widgets()[-1].text) > 600, timeout=5000)
        assert e.panel.generating and len(e.panel.view.widgets()) == waiting < 202
        qtbot.waitUntil(lambda: len(e.panel.view.widgets()) == 202, timeout=10000)  # they follow the answer
        assert not e.panel.generating
    finally:
        e.close()
