"""Every panel of the real main window on a server model (issue 12, item 5).

The window is the app's own ``MainWindow`` with the app's own engine factory: a saved
connection (its key in the keyring) and its model chosen, loaded as at start, so a
``RemoteEngine`` talks to the server. The servers run on 127.0.0.1: scripted ones that
answer each request from what it asked (and record it, so the tests check what reached
the server), and once llama-cpp-python's own server on the starter model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.base import credentials
from app.engines.contract import Endpoint, Engine, ModelSpec
from app.engines.factory import make_engine
from app.engines.remote.engine import RemoteEngine
from app.ui.speed import ReadoutState
from app.ui.translate import names
from tests.keyrings import MemoryKeyring
from tests.openai_servers import llama_cpp_server
from tests.ui.remote_fixtures import Gate, RemoteWindow, ReplyServer

pytestmark = [pytest.mark.qt_log_ignore("propagateSizeHints"), pytest.mark.usefixtures("loopback_guard")]

#: What a llama-server says about one reply: its ``timings`` and OpenAI ``usage``.
TIMINGS = {"prompt_n": 12, "prompt_ms": 4.0, "cache_n": 0, "prompt_per_second": 3000.0,
           "predicted_n": 5, "predicted_ms": 50.0, "predicted_per_second": 100.0}
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
MAP_MARK = "Summary of this part:"


class Replies:
    """The server's next replies, in order (``reply`` of a ReplyServer); a test queues each before asking."""

    def __init__(self) -> None:
        self.queue: list[Sequence[str] | Gate] = []

    def push(self, reply: Sequence[str] | Gate) -> None:
        self.queue.append(reply)

    def __call__(self, _messages: list[dict[str, Any]]) -> Sequence[str] | Gate:
        assert self.queue, "the server was asked for a reply the test did not expect"
        return self.queue.pop(0)


def texts(window: RemoteWindow) -> list[tuple[str, str]]:
    """(role, text) of every message the chat view shows."""
    return [(w.role, w.text) for w in window.widgets()]


def stored(window: RemoteWindow) -> list[tuple[str, str, bool]]:
    """(role, content, complete) of every message of the open conversation in the history."""
    return [(m.role, m.content, m.complete) for m in window.stored()]


# ---- chat ---------------------------------------------------------------------------------
def test_chat_streams_regenerates_and_edits_on_a_server_model(qtbot: QtBot, memory_keyring: MemoryKeyring) -> None:
    replies = Replies()
    with ReplyServer(models=("falcon-7b",), owned_by="llamacpp", llama_server=True, n_ctx=8192,
                     api_key="sk-lab", delay_s=0.02, usage=USAGE, timings=TIMINGS, reply=replies) as server:
        w = RemoteWindow(qtbot, server.base_url, "falcon-7b", api_key="sk-lab")
        try:
            chat, readout = w.window.chat, w.window.readout
            system = w.settings.get_str("system_prompt")
            assert memory_keyring.secrets == {("kestrel", "lab"): "sk-lab"}
            assert w.window.model_label.text() == "falcon-7b" and readout.backend_text() == "llama-server"
            w.window.new_chat_action.trigger()  # File › New chat

            # the reply streams into the view while the server is still sending it
            first = Gate(["A kestrel", " is a", " small", " falcon", "."], hold_at=2)
            replies.push(first)
            w.type_and_send("What is a kestrel?")
            assert first.held.wait(5)
            qtbot.waitUntil(lambda: texts(w) == [("user", "What is a kestrel?"), ("assistant", "A kestrel is a")],
                            timeout=5000)
            assert chat.generating and chat.stop_button.isEnabled() and not chat.send_button.isEnabled()
            assert chat.input.toPlainText() == ""
            first.release()
            w.wait_reply()
            assert texts(w) == [("user", "What is a kestrel?"), ("assistant", "A kestrel is a small falcon.")]
            assert stored(w) == [("user", "What is a kestrel?", True),
                                 ("assistant", "A kestrel is a small falcon.", True)]
            request = server.chats()[0]
            assert request.headers["Authorization"] == "Bearer sk-lab"  # the key came from the keyring
            assert request.body["model"] == "falcon-7b" and request.body["stream"] is True
            assert request.body["max_tokens"] == w.settings.get_int("max_tokens")
            assert server.chat_messages(0) == [("system", system), ("user", "What is a kestrel?")]

            # the figures say who measured them
            stats = w.stored()[1].stats or {}
            assert stats["stop_reason"] == "eos" and stats["backend"] == "llama-server"
            assert stats["completion_tokens"] == 5 and stats["prompt_tokens"] == 12
            sources = stats["sources"]
            assert sources["ttft_s"] == sources["decode_tps"] == sources["total_s"] == "client"
            assert sources["completion_tokens"] == sources["prompt_tokens"] == sources["prefill_tps"] == "server"
            assert stats["server"]["decode_tps"] == 100.0
            details = w.widgets()[1].details
            assert details.isVisible() and "tok/s" in details.text() and "5 tokens" in details.text()
            tip = details.toolTip()
            assert re.search(r"^Time to first token: .+ \(measured here\)$", tip, re.MULTILINE), tip
            assert re.search(r"^Generation: .+ tok/s \(measured here\) \(excluding the first token\)$", tip,
                             re.MULTILINE), tip
            assert "Generation on the server: 100 tok/s (server)" in tip
            assert "Prompt reading: 3,000 tok/s (server)" in tip
            assert re.search(r"^Reply: 5 tokens \(server\) in .+ \(measured here\)$", tip, re.MULTILINE), tip
            assert re.search(r"^Network and queueing: .+ \(time to first token measured here", tip, re.MULTILINE)
            assert readout.state is ReadoutState.FINAL
            line = readout.text()
            assert re.match(r"[\d.,]+ tok/s measured here · server 100 tok/s · TTFT .+ measured here", line), line
            assert "Generation on the server: 100 tok/s (server)" in readout.label.toolTip()

            # regenerate: a second request with the same conversation; the new reply replaces the old one
            replies.push(["A kestrel", " hovers", "."])
            old_reply = w.widgets()[1]
            assert old_reply.regenerate_button is not None and old_reply.regenerate_button.isVisible()
            qtbot.mouseClick(old_reply.regenerate_button, Qt.MouseButton.LeftButton)
            w.wait_reply()
            assert len(server.chats()) == 2
            assert server.chat_messages(1) == server.chat_messages(0)
            assert texts(w) == [("user", "What is a kestrel?"), ("assistant", "A kestrel hovers.")]
            assert stored(w) == [("user", "What is a kestrel?", True), ("assistant", "A kestrel hovers.", True)]

            # a second turn carries the history the server needs
            replies.push(["Over", " open", " fields", "."])
            w.send("Where does it hunt?")
            assert server.chat_messages(2) == [("system", system), ("user", "What is a kestrel?"),
                                               ("assistant", "A kestrel hovers."), ("user", "Where does it hunt?")]

            # edit the first question and resend: the server gets the edited conversation only
            replies.push(["A falcon", " is fast", "."])
            first_question = w.widgets()[0]
            assert first_question.edit_button is not None
            qtbot.mouseClick(first_question.edit_button, Qt.MouseButton.LeftButton)
            assert chat.input.toPlainText() == "What is a kestrel?" and chat.edit_note.isVisible()
            chat.input.setPlainText("What is a falcon?")
            qtbot.keyClick(chat.input, Qt.Key.Key_Return)
            w.wait_reply()
            assert len(server.chats()) == 4
            assert server.chat_messages(3) == [("system", system), ("user", "What is a falcon?")]
            assert texts(w) == [("user", "What is a falcon?"), ("assistant", "A falcon is fast.")]
            assert stored(w) == [("user", "What is a falcon?", True), ("assistant", "A falcon is fast.", True)]
            assert not chat.edit_note.isVisible() and chat.send_button.isEnabled()
        finally:
            w.close()


def test_the_first_chat_after_start_gets_the_default_system_prompt(qtbot: QtBot) -> None:
    with ReplyServer(models=("falcon-7b",), pieces=("Hi", ".")) as server:
        w = RemoteWindow(qtbot, server.base_url, "falcon-7b", n_ctx=4096)
        try:
            w.send("Hello")
            assert server.chat_messages(0) == [("system", w.settings.get_str("system_prompt")), ("user", "Hello")]
        finally:
            w.close()


def test_the_readout_marks_every_server_figure(qtbot: QtBot) -> None:
    replies = Replies()
    with ReplyServer(models=("falcon-7b",), owned_by="llamacpp", llama_server=True, n_ctx=8192, delay_s=0.02,
                     usage=USAGE, timings=TIMINGS, reply=replies) as server:
        w = RemoteWindow(qtbot, server.base_url, "falcon-7b")
        try:
            replies.push(["A kestrel", " is a", " falcon."])
            w.send("What is a kestrel?")
            line = w.window.readout.text()
            assert "prompt 3,000 tok/s" in line and "ctx 17/8,192" in line, line
            # issue 12, item 3: the readout marks each figure "server" or "measured here"
            assert "prompt 3,000 tok/s (server)" in line and "ctx 17/8,192 (server)" in line, line
        finally:
            w.close()


# ---- summarize ----------------------------------------------------------------------------
def summary_reply(messages: list[dict[str, Any]]) -> Sequence[str]:
    """A map step names the paragraphs it saw; the overview says it is one; anything else (the speed probe) a word."""
    content = str(messages[-1]["content"])
    if content.endswith(MAP_MARK):
        tags = re.findall(r"\bP(\d+)\b", content)
        return [f"The kestrel part from P{tags[0]}", f" to P{tags[-1]}."]
    if content.startswith("Below are summaries"):
        return ["The whole story", " of the kestrel."]
    return ["kestrel"] * 3


def long_text(chapters: int = 8) -> str:
    filler = "the kestrel hovers over the field and watches the grass " * 5
    return "\n\n".join(f"# Chapter {c}\n\n" + "\n\n".join(f"P{i} {filler}" for i in range(c * 5, c * 5 + 5))
                       for c in range(chapters))


def test_summarize_a_document_on_a_server_model(qtbot: QtBot, tmp_path: Path) -> None:
    with ReplyServer(models=("falcon-7b",), owned_by="llamacpp", llama_server=True, n_ctx=512,
                     reply=summary_reply) as server:
        w = RemoteWindow(qtbot, server.base_url, "falcon-7b")
        try:
            panel = w.window.summarize_panel
            w.window.tabs.setCurrentWidget(panel)
            path = tmp_path / "kestrel.md"
            path.write_text(long_text(), encoding="utf-8")
            panel.load_file(path)
            qtbot.waitUntil(lambda: panel.plan is not None and not w.controller.busy, timeout=20000)
            plan = panel.plan
            assert plan is not None and plan.chunks is not None
            assert plan.mode == "map-reduce" and not plan.estimated and plan.chunk_count >= 3  # the server counted
            assert f"{plan.total_tokens:,} tokens" in panel.plan_label.text()
            panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("tldr"))
            asked_before = len(server.chats())
            qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
            assert panel.running
            qtbot.waitUntil(lambda: not panel.running and not w.controller.busy, timeout=30000)

            result = panel.result
            assert panel.notice.isHidden(), panel.notice.text()
            assert result is not None and not result.cancelled
            assert result.chunks_summarized == result.chunks == plan.chunk_count
            assert "The whole story of the kestrel." in panel.view.toPlainText()
            assert f"{result.chunks} parts" in panel.progress_label.text()

            requests = server.chats()[asked_before:]
            asked = [str(r.body["messages"][-1]["content"]) for r in requests]
            maps = [(r, text) for r, text in zip(requests, asked, strict=True) if text.endswith(MAP_MARK)]
            assert len(maps) == plan.chunk_count
            for chunk, (request, text) in zip(plan.chunks, maps, strict=True):  # one map step per part, in order
                assert chunk.text in text and request.body["max_tokens"] == plan.map_tokens
            finals = [text for text in asked if text.startswith("Below are summaries")]
            assert len(finals) == 1 and len(requests) == plan.chunk_count + 1  # map steps, then the overview
            for chunk in plan.chunks:  # the overview was written from every part's summary
                tags = re.findall(r"\bP(\d+)\b", chunk.text)
                assert f"The kestrel part from P{tags[0]} to P{tags[-1]}." in finals[0]
            assert "measured here" in w.window.readout.text()
        finally:
            w.close()


# ---- translate ----------------------------------------------------------------------------
def shout(messages: list[dict[str, Any]]) -> Sequence[str]:
    """'Translates' the user's text into capitals, a word a chunk."""
    return re.findall(r"\S+\s*", str(messages[-1]["content"]).upper())


def test_translate_text_on_a_server_model(qtbot: QtBot) -> None:
    with ReplyServer(models=("polyglot",), reply=shout) as server:
        w = RemoteWindow(qtbot, server.base_url, "polyglot", n_ctx=4096)
        try:
            panel = w.window.translate_panel
            w.window.tabs.setCurrentWidget(panel)
            names.select(panel.target_combo, "fr")
            panel.source_edit.setPlainText("Hello there.\n\nKestrel translates offline.")
            qtbot.keyClick(panel.source_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            assert panel.translating
            qtbot.waitUntil(lambda: not panel.translating and not w.controller.busy, timeout=15000)
            assert panel.notice.isHidden(), panel.notice.text()
            assert panel.translation_view.toPlainText() == "HELLO THERE.\n\nKESTREL TRANSLATES OFFLINE."
            assert "2 of 2 segments" in panel.info_label.text()
            asked = [server.chat_messages(i) for i in range(len(server.chats()))]
            assert [messages[-1] for messages in asked] == [("user", "Hello there."),
                                                            ("user", "Kestrel translates offline.")]
            for messages in asked:
                assert messages[0][0] == "system"
                assert messages[0][1].startswith("Translate the text from English to French.")
            assert panel.source_edit.toPlainText() == "Hello there.\n\nKestrel translates offline."
        finally:
            w.close()


# ---- a real server ------------------------------------------------------------------------
@pytest.mark.real_model
def test_a_chat_turn_on_llama_cpp_python_s_own_server(qtbot: QtBot, tmp_path: Path, starter_model: Path) -> None:
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python's server extra is not installed")
    with llama_cpp_server(starter_model, 1024, tmp_path / "server.log") as url:
        w = RemoteWindow(qtbot, url, str(starter_model), n_ctx=1024,
                         settings={"max_tokens": 8, "temperature": 0.0})
        try:
            assert w.window.model_label.text() == starter_model.name
            assert w.window.readout.backend_text() == "llama-cpp-python"
            w.send("Name a bird of prey.")
            assert w.window.chat.notice.isHidden(), w.window.chat.notice.text()
            reply = w.widgets()[1]
            assert reply.role == "assistant" and reply.text.strip()
            messages = w.stored()
            assert messages[1].content == reply.text and messages[1].complete
            stats = messages[1].stats or {}
            assert stats["backend"] == "llama-cpp-python" and stats["model"] == starter_model.name
            assert stats["stop_reason"] in ("eos", "length") and 1 <= stats["completion_tokens"] <= 8
            # this server reports no figures of its own while streaming: every one was timed here
            assert stats.get("server") is None
            assert set(stats["sources"].values()) == {"client"}
            assert "measured here" in w.window.readout.text()
            assert "(measured here)" in reply.details.toolTip() and "(server)" not in reply.details.toolTip()
        finally:
            w.close()


# ---- failures -----------------------------------------------------------------------------
def test_a_server_killed_mid_reply_keeps_the_partial_reply_and_the_typed_text(qtbot: QtBot) -> None:
    replies = Replies()
    with ReplyServer(models=("storyteller",), reply=replies, cut_after=3) as server:
        w = RemoteWindow(qtbot, server.base_url, "storyteller", n_ctx=4096)
        try:
            chat = w.window.chat
            story = Gate(["Once", " upon", " a", " time", " there"], hold_at=2)
            replies.push(story)
            w.type_and_send("Tell me a story")
            assert story.held.wait(5)
            qtbot.waitUntil(lambda: texts(w)[1:] == [("assistant", "Once upon")], timeout=5000)
            chat.input.setPlainText("my next question, typed while it answers")
            story.release()  # one more piece, then the server drops the connection
            w.wait_reply()

            assert w.window.isVisible() and chat.send_button.isEnabled()
            assert chat.notice.kind == "error" and chat.notice.isVisible()
            assert chat.notice.text() == ("The reply was cut: the connection to the server was cut after 3 chunks; "
                                          "the text received so far is kept.")
            assert texts(w) == [("user", "Tell me a story"), ("assistant", "Once upon a")]
            assert stored(w) == [("user", "Tell me a story", True), ("assistant", "Once upon a", True)]
            assert chat.input.toPlainText() == "my next question, typed while it answers"

            # the app goes on: the typed question is sent and answered
            server.cut_after = None
            replies.push(["It goes", " on."])
            qtbot.keyClick(chat.input, Qt.Key.Key_Return)
            w.wait_reply()
            assert texts(w)[2:] == [("user", "my next question, typed while it answers"), ("assistant", "It goes on.")]
            assert chat.notice.isHidden()
        finally:
            w.close()


def test_a_reply_cut_mid_stream_is_marked_in_the_view_and_the_history(qtbot: QtBot) -> None:
    with ReplyServer(models=("storyteller",), pieces=("Once", " upon", " a", " time"), cut_after=2) as server:
        w = RemoteWindow(qtbot, server.base_url, "storyteller", n_ctx=4096)
        try:
            w.send("Tell me a story")
            assert texts(w) == [("user", "Tell me a story"), ("assistant", "Once upon")]
            cut = w.stored()[1]
            assert cut.stats is not None and cut.stats["stop_reason"] == "error"
            details = w.widgets()[1].details
            assert details.isVisible() and "Stopped: ended by an error" in details.toolTip()
        finally:
            w.close()


def test_the_readout_does_not_stay_decoding_after_a_cut_reply(qtbot: QtBot) -> None:
    pieces = tuple(f" w{i}" for i in range(10))
    with ReplyServer(models=("storyteller",), pieces=pieces, delay_s=0.1, cut_after=6) as server:
        w = RemoteWindow(qtbot, server.base_url, "storyteller", n_ctx=4096)
        try:
            readout = w.window.readout
            w.type_and_send("Tell me a story")
            qtbot.waitUntil(lambda: readout.state is ReadoutState.DECODING, timeout=5000)  # live figures came
            w.wait_reply()
            assert w.window.chat.notice.text().startswith("The reply was cut")
            assert readout.state is not ReadoutState.DECODING, readout.text()
        finally:
            w.close()


def _short_first_byte(spec: ModelSpec) -> Engine:
    """The app's engines, with a one-second first-byte timeout for a server that never answers."""
    if isinstance(spec, Endpoint):
        return RemoteEngine(resolve_key=credentials.resolve, first_byte_s=1.0)
    return make_engine(spec)


@pytest.mark.parametrize(("failure", "words"), [
    ("stopped", r"Nothing answers at http://127\.0\.0\.1:\d+/v1/chat/completions \(connection refused\); "
                r"is the server running\?"),
    ("busy", r"The server is busy or still loading its model \(HTTP 503\): Loading model; try again in a moment\."),
    ("silent", r"The server at http://127\.0\.0\.1:\d+/v1/chat/completions sent nothing within 1 s "
               r"\(the first-byte timeout\); it may be overloaded or stuck\."),
], ids=["stopped", "busy", "silent"])
def test_a_server_that_does_not_answer_leaves_the_app_usable_and_the_message_kept(
        qtbot: QtBot, failure: str, words: str) -> None:
    with ReplyServer(models=("m",)) as server:
        w = RemoteWindow(qtbot, server.base_url, "m", n_ctx=4096, factory=_short_first_byte)
        try:
            chat = w.window.chat
            if failure == "stopped":
                server.__exit__(None, None, None)  # gone after the model was chosen (closing it twice is harmless)
            elif failure == "busy":
                server.chat_error = (503, {"error": {"code": 503, "message": "Loading model",
                                                     "type": "unavailable_error"}})
            else:
                server.never_answer = True
            w.send("Is anyone there?")

            assert w.window.isVisible() and chat.send_button.isEnabled()
            assert chat.notice.kind == "error" and re.fullmatch(words, chat.notice.text()), chat.notice.text()
            assert texts(w) == [("user", "Is anyone there?")]  # no empty reply left behind
            assert stored(w) == [("user", "Is anyone there?", True)]
            assert w.window.readout.state is ReadoutState.IDLE  # no reply: nothing to give figures for
            assert w.controller.model is not None  # still the server model: the next try needs no reload
        finally:
            w.close()


def test_after_a_busy_server_the_kept_message_is_edited_and_sent_again(qtbot: QtBot) -> None:
    with ReplyServer(models=("m",), pieces=("Yes", ", here."),
                     chat_error=(503, {"error": {"message": "Loading model"}})) as server:
        w = RemoteWindow(qtbot, server.base_url, "m", n_ctx=4096)
        try:
            chat = w.window.chat
            w.send("Is anyone there?")
            assert "HTTP 503" in chat.notice.text()
            server.chat_error = None
            question = w.widgets()[0]
            assert question.edit_button is not None
            qtbot.mouseClick(question.edit_button, Qt.MouseButton.LeftButton)
            assert chat.input.toPlainText() == "Is anyone there?"
            qtbot.keyClick(chat.input, Qt.Key.Key_Return)
            w.wait_reply()
            assert texts(w) == [("user", "Is anyone there?"), ("assistant", "Yes, here.")]
            assert stored(w) == [("user", "Is anyone there?", True), ("assistant", "Yes, here.", True)]
            assert len(server.chats()) == 2 and server.chat_messages(1) == server.chat_messages(0)
            assert chat.notice.isHidden()
        finally:
            w.close()

