"""The chat panel: conversations, the streaming message view, the input and its budget.

Durability: the user's message is committed when sent; the reply is committed as it
streams (at least once a second) and finalised with its stats at the end, so a stop,
a crash or ``kill -9`` keeps everything up to the last second.

Smoothness: deltas from the engine thread are buffered and shown at most ~30 times a
second by appending plain text; Markdown is re-rendered on a single-shot timer and
fully once the reply ends.

A document attached to the chat (the paperclip, or a file dropped on the chat) answers the
next questions instead of the chat: every part of it is read (``app.ask``, see
``app.ui.chat.document_ask``), and the answer, with its source links, is stored like a reply.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ask.results import AskResult
from app.base.settings import QT_TRANSLATE_NOOP, Settings
from app.chat.conversation import answer_reserve, title_from_message
from app.chat.history import History, MessageVersion, StoredMessage
from app.engines.contract import ChatMessage, GenerationStats
from app.models.params import generation_params
from app.ui.chat.attachment import dropped_document
from app.ui.chat.composer import Composer
from app.ui.chat.document_ask import DocumentAsk
from app.ui.chat.message_view import MessageView, MessageWidget
from app.ui.chat.sidebar import ConversationSidebar
from app.ui.engine.controller import EngineController
from app.ui.engine.handle import RequestHandle
from app.ui.widgets.base_model_note import BaseModelNote
from app.ui.widgets.notice import Notice
from app.ui.widgets.timers import make_timer

FLUSH_MS = 33  # at most ~30 repaints a second
MARKDOWN_MS = 80  # re-render Markdown this long after the last flush
PERSIST_S = 1.0  # commit a streaming reply at least this often
BUDGET_MS = 300  # debounce for the context budget while typing


OPEN_FIRST = 20  # messages a chat opens with; the older ones follow in batches
OLDER_BATCH = 10  # about 25 ms of widgets per turn of the event loop (bench/ui_stream.py)

#: Why a reply ended with no text, marked for lupdate (shown through ChatPanel.tr).
STOP_WORDS = {"eos": QT_TRANSLATE_NOOP("ChatPanel", "the model's end of text"),
              "stop": QT_TRANSLATE_NOOP("ChatPanel", "a stop string"),
              "length": QT_TRANSLATE_NOOP("ChatPanel", "the length limit")}


class ChatPanel(QWidget):
    """Everything about chatting; the main window only places it."""

    status_message = Signal(str)

    def __init__(self, controller: EngineController, history: History, settings: Settings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatPanel")
        self.controller = controller
        self.history = history
        self.settings = settings
        self.conversation_id: int | None = None
        self._request: RequestHandle | None = None  # the reply being written
        self._reply_id: int | None = None
        self._earlier: list[MessageVersion] = []  # the versions of an answer being written again
        self._reply_widget: MessageWidget | None = None
        self._pending: list[str] = []
        self._reply_stats: GenerationStats | None = None
        self._last_persist = 0.0
        self._editing: int | None = None
        self._budget_request: RequestHandle | None = None  # the latest token count asked for
        self._cancel_wait: Callable[[], None] | None = None  # a sent turn waiting for the engine
        self._ask_question: str | None = None  # the question being asked of the attached document
        self.documents = DocumentAsk(controller, self)
        self._build()
        self._connect()
        self.sidebar.refresh()
        conversations = history.list_conversations()
        if conversations:
            self.open_conversation(conversations[0].id)
        else:  # a first chat starts with the default system prompt, like every new one
            self._show_system_prompt(self.settings.get_str("system_prompt"))
        self._update_controls()

    # ---- construction ----------------------------------------------------------------
    def _build(self) -> None:
        self.sidebar = ConversationSidebar(self.history)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)

        header = QHBoxLayout()
        header.setContentsMargins(16, 8, 16, 4)
        self.title_label = QLabel(self.tr("New chat"))
        self.title_label.setObjectName("chatTitle")
        header.addWidget(self.title_label, 1)
        self.system_toggle = QToolButton()
        self.system_toggle.setText(self.tr("System prompt"))
        self.system_toggle.setCheckable(True)
        self.system_toggle.setToolTip(self.tr("Instructions the model sees before this conversation"))
        header.addWidget(self.system_toggle)
        column.addLayout(header)
        self.system_edit = QPlainTextEdit()
        self.system_edit.setObjectName("systemPrompt")
        self.system_edit.setMaximumHeight(80)
        self.system_edit.setVisible(False)
        column.addWidget(self.system_edit)

        self.view = MessageView()
        column.addWidget(self.view, 1)

        self.notice = Notice()
        self.base_note = BaseModelNote(self.controller)
        notice_row = QVBoxLayout()
        notice_row.setContentsMargins(16, 6, 16, 0)
        notice_row.addWidget(self.base_note)
        notice_row.addWidget(self.notice)
        column.addLayout(notice_row)

        self.composer = Composer(self.documents)
        column.addWidget(self.composer)
        composer = self.composer
        self.edit_note, self.attachment = composer.edit_note, composer.attachment
        self.attach_button, self.input = composer.attach_button, composer.input
        self.budget_label = composer.budget_label
        self.send_button, self.stop_button = composer.send_button, composer.stop_button
        self.cancel_edit_button = composer.cancel_edit_button

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([230, 770])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.setAcceptDrops(True)  # a document dropped anywhere on the chat is attached

        self._flush_timer = make_timer(self, FLUSH_MS, self._flush, single_shot=False)
        self._markdown_timer = make_timer(self, MARKDOWN_MS, self._render_markdown)
        self._budget_timer = make_timer(self, BUDGET_MS, self._request_budget)
        self._refresh_timer = make_timer(self, 0, self.sidebar.refresh)
        self._system_timer = make_timer(self, 500, self._save_system_prompt)
        self._older_timer = make_timer(self, 0, self._add_older)
        self._older: list[StoredMessage] = []  # not shown yet, oldest first

    def _connect(self) -> None:
        c = self.controller
        c.busy_changed.connect(lambda _busy: self._update_controls())
        c.state_changed.connect(lambda _state: self._update_controls())
        c.loaded.connect(lambda _model: self._budget_timer.start())
        self.input.submitted.connect(self.send)
        self.input.textChanged.connect(self._budget_timer.start)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.cancel_edit_button.clicked.connect(self.cancel_edit)
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.conversation_selected.connect(self.open_conversation)
        self.sidebar.message_selected.connect(self._open_search_hit)
        self.sidebar.deleted.connect(self._on_deleted)
        self.view.edit_requested.connect(self.edit_message)
        self.view.regenerate_requested.connect(self.regenerate)
        self.view.version_requested.connect(self.choose_version)
        self.view.copy_requested.connect(lambda _id: self.status_message.emit(self.tr("Copied to the clipboard")))
        self.system_toggle.toggled.connect(self.system_edit.setVisible)
        self.system_edit.textChanged.connect(self._system_timer.start)
        self.input.files_dropped.connect(self.documents.attach_dropped)
        self.view.link_activated.connect(self._show_source)
        self.documents.message.connect(self.notice.show_message)
        self.documents.attached.connect(lambda _document: self.input.setFocus())

    # ---- conversations ---------------------------------------------------------------
    def new_conversation(self) -> None:
        """Start an empty chat (it is stored when the first message is sent)."""
        if self.generating:
            return
        self._save_system_prompt()
        self.conversation_id = None
        self._older_timer.stop()
        self._older = []
        self.view.clear()
        self.title_label.setText(self.tr("New chat"))
        self._show_system_prompt(self.settings.get_str("system_prompt"))
        self.cancel_edit()
        self.sidebar.set_current(None)
        self.sidebar.list.clearSelection()
        self.input.setFocus()
        self._budget_timer.start()

    def open_conversation(self, conversation_id: int) -> None:
        if self.generating and conversation_id != self.conversation_id:
            self.status_message.emit(self.tr("Stop the current answer before switching chats."))
            self.sidebar.set_current(self.conversation_id)
            return
        self._save_system_prompt()
        try:
            conversation = self.history.get_conversation(conversation_id)
        except KeyError:
            return
        self.conversation_id = conversation_id
        self.title_label.setText(conversation.title)
        self._show_system_prompt(conversation.system_prompt)
        self.view.clear()
        show = self.settings.get_bool("show_speed_details")
        messages = self.history.messages(conversation_id)
        # the newest at once; older ones a batch per event-loop turn, so a long chat never holds the window
        for message in messages[-OPEN_FIRST:]:
            self.view.add_stored(message, show)
        self._older = messages[:-OPEN_FIRST]
        if self._older:
            self._older_timer.start()
        self.view.scroll_to_bottom()
        self.cancel_edit()
        self.sidebar.set_current(conversation_id)
        self._budget_timer.start()

    def _add_older(self, everything: bool = False) -> None:
        """Show the next batch of earlier messages above the ones shown (or all that are left).

        Paused while an answer streams (the batches would stall it); the rest follow when it ends.
        """
        if not self._older or (self.generating and not everything):
            return
        count = len(self._older) if everything else OLDER_BATCH
        batch, self._older = self._older[-count:], self._older[:-count]
        self.view.add_older(batch, self.settings.get_bool("show_speed_details"))
        if self._older:
            self._older_timer.start()

    def _open_search_hit(self, conversation_id: int, message_id: int) -> None:
        self.open_conversation(conversation_id)
        if self.view.widget(message_id) is None:
            self._add_older(everything=True)  # the hit is further up than what is shown yet
        widget = self.view.widget(message_id)
        if widget is not None:
            QTimer.singleShot(0, lambda: self.view.ensureWidgetVisible(widget))

    def _on_deleted(self, conversation_id: int) -> None:
        if conversation_id == self.conversation_id:
            self.new_conversation()

    # ---- sending ---------------------------------------------------------------------
    @property
    def generating(self) -> bool:
        """A reply is being written, or a sent turn waits for the engine."""
        return self._request is not None or self._cancel_wait is not None

    def send(self) -> None:
        """Send the input (or the edited message) and stream the answer.

        While the engine works for someone else (an API request, a summary) the turn is kept
        and answered next, before any further API request.
        """
        text = self.input.toPlainText()
        if not text.strip() or self.generating or self.controller.model is None:
            return
        if self.documents.loading:
            self.notice.show_message(self.tr("The document is still being read: send your question in a moment."),
                                     "info")
            return
        if self.conversation_id is None:
            conversation = self.history.create_conversation(title_from_message(text),
                                                            self.system_edit.toPlainText())
            self.conversation_id = conversation.id
            self.title_label.setText(conversation.title)
            self.sidebar.set_current(conversation.id)  # marked in the list from its first message
        if self._editing is not None:
            self.history.delete_messages_from(self.conversation_id, self._editing)
            self.view.remove_from(self._editing)
            self.cancel_edit()
        stored = self.history.add_message(self.conversation_id, "user", text)
        self.view.add(stored.id, "user", text)
        self.input.clear()
        self.sidebar.refresh()
        self._ask_question = text if self.documents.ready else None  # the attached document answers it
        if self.controller.busy:
            self.notice.show_message(self.tr("Waiting for the engine: it is busy with other work. "
                                             "Your message is answered next."), "info")
            self._cancel_wait = self.controller.when_free(self._start_waiting_reply)
            self._update_controls()
            return
        self._start_turn()

    def _start_turn(self) -> None:
        """Answer the turn just sent: from the attached document, or as a chat reply."""
        if self._ask_question is not None:
            self._start_ask(self._ask_question)
        else:
            self._start_reply()

    def _start_waiting_reply(self) -> None:
        """The engine is free: answer the turn that waited for it (its chat stayed open: switching waits too)."""
        self._cancel_wait = None
        self.notice.clear_message()
        if self.controller.model is not None and self.conversation_id is not None:
            self._start_turn()
        else:
            self._ask_question = None
        self._update_controls()

    def regenerate(self, message_id: int) -> None:
        """Write the last answer again; the earlier versions stay with the new one (‹ 1/2 ›)."""
        if self.conversation_id is None or self.controller.busy:
            return
        self._earlier = self.history.versions(message_id)
        self.history.delete_messages_from(self.conversation_id, message_id)
        self.view.remove_from(message_id)
        self._start_reply()

    def choose_version(self, message_id: int, version: int) -> None:
        """Show another version of the last answer: the chat continues from the one shown."""
        widget = self.view.widget(message_id)
        if widget is None or self.controller.busy or not 0 <= version < widget.versions:
            return
        chosen = self.history.choose_version(message_id, version)
        widget.set_content(chosen.content, markdown=True)
        widget.set_stats(chosen.stats, self.settings.get_bool("show_speed_details"))
        widget.set_versions(chosen.version, chosen.versions)
        self._budget_timer.start()

    def edit_message(self, message_id: int) -> None:
        """Put a sent message back in the input; sending replaces it and what followed."""
        widget = self.view.widget(message_id)
        if widget is None or self.controller.busy:
            return
        self._editing = message_id
        self.input.setPlainText(widget.text)
        self.input.setFocus()
        self.edit_note.setText(self.tr("Editing a sent message: sending replaces it and every later message."))
        self.edit_note.setVisible(True)
        self.cancel_edit_button.setVisible(True)

    def cancel_edit(self) -> None:
        if self._editing is not None:
            self.input.clear()
        self._editing = None
        self.edit_note.setVisible(False)
        self.cancel_edit_button.setVisible(False)

    def stop(self) -> None:
        if self._request is not None:
            self._request.stop()
            if self._ask_question is not None:
                self.attachment.show_stopping()
        elif self._cancel_wait is not None:  # not started yet: the message stays, unanswered
            self._cancel_wait()
            self._cancel_wait = None
            self._ask_question = None
            self.notice.show_message(self.tr("Stopped."), "info")
            self._update_controls()

    def engine_messages(self, extra_user_text: str | None = None) -> list[ChatMessage]:
        """System prompt + stored turns (+ text not yet sent) as the engine sees them."""
        messages: list[ChatMessage] = []
        system = self.system_edit.toPlainText().strip()
        if system:
            messages.append(ChatMessage("system", system))
        if self.conversation_id is not None:
            for message in self.history.messages(self.conversation_id):
                if message.role in ("user", "assistant") and message.content.strip():
                    if message.id == self._editing:
                        break
                    messages.append(ChatMessage(message.role, message.content))  # type: ignore[arg-type]
        if extra_user_text and extra_user_text.strip():
            messages.append(ChatMessage("user", extra_user_text))
        return messages

    def _start_reply(self) -> None:
        assert self.conversation_id is not None
        messages = self.engine_messages()
        reply = self.history.add_message(self.conversation_id, "assistant", "", complete=False)
        if self._earlier:
            reply, self._earlier = self.history.keep_versions(reply.id, self._earlier), []
        self._reply_id = reply.id
        self._reply_widget = self.view.add_stored(reply)
        self._reply_stats = None
        self._pending = []
        self._last_persist = time.monotonic() - PERSIST_S  # the first text shown is committed at once
        self.notice.clear_message()
        self.view.scroll_to_bottom()
        request = self.controller.generate(messages, generation_params(self.settings),
                                           self.settings.get_str("context_overflow"))
        request.trimmed.connect(self._on_trimmed)
        request.delta.connect(self._pending.append)
        request.stats.connect(self._on_stats)
        request.failed.connect(lambda message: self.notice.show_message(message, "error"))
        request.finished.connect(self._on_finished)
        self._request = request
        self._flush_timer.start()
        self._update_controls()

    # ---- engine results --------------------------------------------------------------
    def _on_trimmed(self, dropped: int) -> None:
        self.notice.show_message(self.tr(
            "The conversation is longer than the context window: the %n oldest message(s) were left "
            "out of this answer (they stay in the history).", "", dropped), "info")

    def _flush(self) -> None:
        """Show buffered text (timer, ~30 Hz) and commit the reply once a second."""
        if not self._pending or self._reply_widget is None:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._reply_widget.append(text)
        self._markdown_timer.start()
        now = time.monotonic()
        if now - self._last_persist >= PERSIST_S and self._reply_id is not None:
            self._last_persist = now
            self.history.update_message(self._reply_id, self._reply_widget.text, complete=False)

    def _render_markdown(self) -> None:
        if self._reply_widget is not None:
            self._reply_widget.set_content(self._reply_widget.text, markdown=True)

    def _on_stats(self, stats: GenerationStats) -> None:
        self._reply_stats = stats

    def _on_finished(self) -> None:
        self._flush_timer.stop()
        self._markdown_timer.stop()
        self._flush()
        widget, reply_id = self._reply_widget, self._reply_id
        self._request = self._reply_id = self._reply_widget = None
        if widget is not None and reply_id is not None:
            stats = self._reply_stats.to_dict() if self._reply_stats else None
            if not widget.text.strip():
                # nothing to read (an error, a stop before the first token, or only blank text):
                # keep no empty answer, and say why when the model itself ended it
                assert self.conversation_id is not None
                self.history.delete_messages_from(self.conversation_id, reply_id)
                self.view.remove_from(reply_id)
                reason = self._reply_stats.stop_reason if self._reply_stats is not None else None
                if reason in ("eos", "stop", "length"):
                    self.notice.show_message(self.tr("The model returned no text: it ended at once (%1). Try "
                                                     "again, or rephrase the message.").replace(
                                                         "%1", self.tr(STOP_WORDS[reason])), "info")
            else:
                self.history.update_message(reply_id, widget.text, complete=True, stats=stats)
                widget.set_stats(stats, self.settings.get_bool("show_speed_details"))
                # the final Markdown render on the next turn of the event loop: never in the same one as the write
                QTimer.singleShot(0, widget, lambda: widget.set_content(widget.text, markdown=True))
        if self._reply_stats is not None and self._reply_stats.stop_reason == "cancelled":
            self.status_message.emit(self.tr("Stopped."))
        # the list refresh waits a turn too, so the GUI thread is never held for two of these at once
        self._refresh_timer.start()
        if self._older:
            self._older_timer.start()  # the earlier messages paused for the answer
        self._update_controls()
        self._budget_timer.start()

    # ---- an attached document ----------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        path, reason = dropped_document(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            return
        if reason is not None:  # refused here, Qt never delivers the drop: say why now
            self.documents.refuse(reason)
        event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        event.acceptProposedAction()
        self.documents.attach_dropped(event.mimeData())

    def _start_ask(self, question: str) -> None:
        """Answer ``question`` from the whole attached document (a job on the engine thread)."""
        self.notice.clear_message()
        handle = self.documents.start(question)
        handle.done.connect(self._on_ask_done)
        handle.failed.connect(lambda message: self.notice.show_message(message, "error"))
        handle.finished.connect(self._on_ask_finished)
        self._request = handle
        self.view.scroll_to_bottom()
        self._update_controls()

    def _on_ask_done(self, result: AskResult) -> None:
        """The answer (or what a stop left of it) becomes the assistant's message, stored with its sources."""
        if self.conversation_id is None or (result.cancelled and not result.points and not result.answer):
            return  # stopped before anything was found: there is nothing to keep
        text, stats = self.documents.reply(result)
        stored = self.history.add_message(self.conversation_id, "assistant", text, stats=stats)
        self.documents.remember(stored.id, result)
        self.view.add(stored.id, "assistant", text, stats, self.settings.get_bool("show_speed_details"))
        self.view.scroll_to_bottom()

    def _on_ask_finished(self) -> None:
        request, self._request, self._ask_question = self._request, None, None
        if request is not None and request.stop_event.is_set():
            self.status_message.emit(self.tr("Stopped."))
        self._refresh_timer.start()
        self._update_controls()
        self._budget_timer.start()

    def _show_source(self, message_id: int, link: str) -> None:
        """A source link of a document answer: the text it came from."""
        if self.conversation_id is not None:
            self.documents.show_source(message_id, link, self.history.message(message_id).stats)

    # ---- context budget --------------------------------------------------------------
    def _request_budget(self) -> None:
        if self.controller.model is None or self.controller.busy:
            return
        request = self.controller.count_tokens(self.engine_messages(self.input.toPlainText()))
        request.done.connect(lambda tokens: self._on_counted(request, tokens))
        self._budget_request = request

    def _on_counted(self, request: RequestHandle, tokens: object) -> None:
        """Show the budget for the latest count only (typing asks again before an older one answers)."""
        model = self.controller.model
        if request is not self._budget_request or model is None or not isinstance(tokens, int):
            return
        reserve = answer_reserve(model.n_ctx, self.settings.get_int("max_tokens"))
        self.budget_label.show_budget(tokens, model.n_ctx, reserve, self.settings.get_str("context_overflow"),
                                      exact=model.exact_counts)

    # ---- state -----------------------------------------------------------------------
    def _update_controls(self) -> None:
        ready = self.controller.model is not None
        busy = self.controller.busy
        self.send_button.setEnabled(ready and not self.generating)
        self.stop_button.setEnabled(self.generating)
        self.documents.set_locked(self.generating)
        self.view.set_busy(busy)
        self.sidebar.new_button.setEnabled(not self.generating)

    def _show_system_prompt(self, text: str) -> None:
        """Show ``text`` as this chat's system prompt without it counting as the user's edit."""
        self.system_edit.blockSignals(True)
        self.system_edit.setPlainText(text)
        self.system_edit.blockSignals(False)

    def _save_system_prompt(self) -> None:
        self._system_timer.stop()
        if self.conversation_id is not None:
            text = self.system_edit.toPlainText()
            try:
                if self.history.get_conversation(self.conversation_id).system_prompt != text:
                    self.history.set_system_prompt(self.conversation_id, text)
            except KeyError:
                pass

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop a running answer and let its last text and stats reach the history."""
        self._save_system_prompt()
        if self._cancel_wait is not None:  # a turn still waiting for the engine is never started now
            self._cancel_wait()
            self._cancel_wait = None
        request = self._request
        if request is not None:
            loop = QEventLoop()
            request.finished.connect(loop.quit)
            request.stop()
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            if not request.is_finished:
                loop.exec()
            request.finished.disconnect(loop.quit)
            if self._request is not None and self._reply_id is not None and self._reply_widget is not None:
                self._flush()
                self.history.update_message(self._reply_id, self._reply_widget.text, complete=False)
        # Nothing may touch the history after this: its owner closes it next.
        for timer in (self._flush_timer, self._markdown_timer, self._budget_timer, self._system_timer,
                      self._refresh_timer, self._older_timer):
            timer.stop()
