"""The scrolling list of messages in a conversation.

One small widget per message, each with a fixed height computed from its own
document, so a streamed update re-lays out only the message that changed: the cost
of an update does not grow with the number of messages above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.history import StoredMessage
from app.chat.stats_text import details_line, details_tooltip
from app.ui.chat.message_body import MessageBody


class MessageWidget(QFrame):
    """One message: who, the text, its speed figures, and its actions."""

    copy_requested = Signal(int)
    edit_requested = Signal(int)
    regenerate_requested = Signal(int)
    version_requested = Signal(int, int)  # message id, the version of the answer to show
    link_activated = Signal(int, str)  # message id, a link that is not a web address (a document source)

    def __init__(self, message_id: int, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message_id = message_id
        self.role = role
        self.setObjectName("userMessage" if role == "user" else "assistantMessage")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)

        header = QHBoxLayout()
        who = QLabel(self.tr("You") if role == "user" else self.tr("Kestrel"))
        who.setObjectName("roleLabel")
        header.addWidget(who)
        header.addStretch(1)
        self.copy_button = self._action(self.tr("Copy"), self.tr("Copy this message"), self.copy_requested)
        header.addWidget(self.copy_button)
        self.edit_button: QToolButton | None = None
        self.regenerate_button: QToolButton | None = None
        if role == "user":
            self.edit_button = self._action(self.tr("Edit"), self.tr("Edit and resend this message"),
                                            self.edit_requested)
            header.addWidget(self.edit_button)
        else:
            self.regenerate_button = self._action(self.tr("Regenerate"), self.tr("Write this answer again"),
                                                  self.regenerate_requested)
            self.regenerate_button.setVisible(False)  # the view shows it on the last answer only
            header.addWidget(self.regenerate_button)
        # ‹ 2/3 ›: the versions regenerate kept; the one shown is the one the chat continues from
        self.version, self.versions = 0, 1
        self._switchable = self._actions_enabled = True  # only the last answer switches: later turns built on it
        self.previous_button = self._step("‹", self.tr("The previous version of this answer"), -1)
        self.version_label = QLabel("")
        self.version_label.setObjectName("versionLabel")
        self.next_button = self._step("›", self.tr("The next version of this answer"), 1)
        for widget in (self.previous_button, self.version_label, self.next_button):
            widget.setVisible(False)
            header.insertWidget(header.count() - 1, widget)  # before Regenerate (a user message never shows them)
        self.set_switchable(False)  # until the view says this is the last answer
        layout.addLayout(header)

        self.body = MessageBody(self)
        self.body.link_activated.connect(lambda link: self.link_activated.emit(self.message_id, link))
        layout.addWidget(self.body)
        self.details = QLabel("")
        self.details.setObjectName("detailsLabel")
        self.details.setVisible(False)
        layout.addWidget(self.details)
        self.text = ""

    def _action(self, text: str, tip: str, signal: SignalInstance) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(lambda: signal.emit(self.message_id))
        return button

    def _step(self, text: str, tip: str, step: int) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(lambda: self.version_requested.emit(self.message_id, self.version + step))
        return button

    def set_versions(self, version: int, versions: int) -> None:
        """Show "‹ version+1/versions ›" when regenerate kept earlier versions of this answer."""
        self.version, self.versions = version, versions
        shown = versions > 1
        self.version_label.setText(f"{version + 1}/{versions}")
        for widget in (self.previous_button, self.version_label, self.next_button):
            widget.setVisible(shown)
        self._update_steps()

    def set_switchable(self, switchable: bool) -> None:
        """Whether the versions can be switched here (the last answer) or only seen (the chat went on from it)."""
        if switchable == self._switchable:
            return
        self._switchable = switchable
        self.version_label.setToolTip("" if switchable else self.tr(
            "The chat went on from this version; the versions of the last answer can be switched"))
        self._update_steps()

    def _update_steps(self) -> None:
        can = self._switchable and self._actions_enabled
        self.previous_button.setEnabled(can and self.version > 0)
        self.next_button.setEnabled(can and self.version < self.versions - 1)

    def set_content(self, text: str, *, markdown: bool) -> None:
        """Show the full text (Markdown for replies, verbatim for what the user typed)."""
        self.text = text
        if markdown:
            self.body.set_markdown(text)
        else:
            self.body.set_plain(text)

    def append(self, text: str) -> None:
        """Streamed text: a plain append at the end, nothing else re-rendered."""
        self.text += text
        self.body.append_plain(text)

    def set_stats(self, stats: Mapping[str, object] | None, show: bool = True) -> None:
        """The per-message speed line (and its full tooltip)."""
        if not stats:
            self.details.setVisible(False)
            return
        self.details.setText(details_line(stats))
        self.details.setToolTip(details_tooltip(stats))
        self.details.setVisible(show)

    def set_actions_enabled(self, enabled: bool) -> None:
        for button in (self.edit_button, self.regenerate_button):
            if button is not None:
                button.setEnabled(enabled)
        self._actions_enabled = enabled
        self._update_steps()

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.text)


class MessageView(QScrollArea):
    """Messages top to bottom; follows the stream unless the user scrolled up."""

    copy_requested = Signal(int)
    edit_requested = Signal(int)
    regenerate_requested = Signal(int)
    version_requested = Signal(int, int)
    link_activated = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._inner = QWidget()
        self._inner.setObjectName("messageColumn")
        self._layout = QVBoxLayout(self._inner)
        self._layout.setContentsMargins(16, 12, 16, 12)
        self._layout.setSpacing(10)
        self.empty_label = QLabel(self.tr(
            "<h2>Ask anything.</h2><p>What you type goes to the model you chose, and nowhere else.</p>"))
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setContentsMargins(0, 120, 0, 0)
        self._layout.addWidget(self.empty_label)
        self._layout.addStretch(1)
        self.setWidget(self._inner)
        self._widgets: dict[int, MessageWidget] = {}
        self._last: MessageWidget | None = None  # the bottom message: the only one with Regenerate
        self._follow = True
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)

    def clear(self) -> None:
        for widget in self._widgets.values():
            widget.setParent(None)
            widget.deleteLater()
        self._widgets.clear()
        self._last = None
        self._follow = True
        self.empty_label.setVisible(True)

    def _make(self, message_id: int, role: str, text: str, stats: Mapping[str, object] | None,
              show_stats: bool, versions: tuple[int, int] = (0, 1)) -> MessageWidget:
        widget = MessageWidget(message_id, role, self._inner)
        widget.set_content(text, markdown=True)  # the user's Markdown reads like the replies'
        widget.set_stats(stats, show_stats)
        widget.set_versions(*versions)
        widget.version_requested.connect(self.version_requested)
        widget.copy_requested.connect(self._copy)
        widget.edit_requested.connect(self.edit_requested)
        widget.regenerate_requested.connect(self.regenerate_requested)
        widget.link_activated.connect(self.link_activated)
        return widget

    def add(self, message_id: int, role: str, text: str, stats: Mapping[str, object] | None = None,
            show_stats: bool = True, versions: tuple[int, int] = (0, 1)) -> MessageWidget:
        """Append a message at the bottom (``versions``: which version of the answer it is, of how many)."""
        widget = self._make(message_id, role, text, stats, show_stats, versions)
        self._layout.insertWidget(self._layout.count() - 2, widget)
        self._widgets[message_id] = widget
        self.empty_label.setVisible(False)
        self._update_regenerate_buttons()
        return widget

    def add_stored(self, message: StoredMessage, show_stats: bool = True) -> MessageWidget:
        """Append a message from the history, with its versions."""
        return self.add(message.id, message.role, message.content, message.stats, show_stats,
                        (message.version, message.versions))

    def add_older(self, messages: Sequence[StoredMessage], show_stats: bool = True) -> None:
        """Put earlier messages (oldest first) above the ones shown, keeping what the reader sees in place.

        A long chat opens with its newest messages and the rest arrive this way, a batch
        per turn of the event loop, so opening it never holds the window for long.
        """
        bar = self.verticalScrollBar()
        from_bottom = bar.maximum() - bar.value()
        created = [self._make(m.id, m.role, m.content, m.stats, show_stats, (m.version, m.versions))
                   for m in messages]
        for index, widget in enumerate(created):
            self._layout.insertWidget(1 + index, widget)  # after the empty-state label
        self._widgets = {**{w.message_id: w for w in created}, **self._widgets}
        self.empty_label.setVisible(not self._widgets)
        self._update_regenerate_buttons()
        if not self._follow:  # the reader is up in the chat: keep the same messages under their eyes
            self._inner.adjustSize()
            bar.setValue(bar.maximum() - from_bottom)

    def widget(self, message_id: int) -> MessageWidget | None:  # type: ignore[override]
        return self._widgets.get(message_id)

    def widgets(self) -> list[MessageWidget]:
        return list(self._widgets.values())

    def remove_from(self, message_id: int) -> None:
        """Remove this message and everything after it (edit, regenerate)."""
        ids = list(self._widgets)
        if message_id not in self._widgets:
            return
        for mid in ids[ids.index(message_id):]:
            widget = self._widgets.pop(mid)
            widget.setParent(None)
            widget.deleteLater()
            if widget is self._last:
                self._last = None
        self.empty_label.setVisible(not self._widgets)
        self._update_regenerate_buttons()

    def set_busy(self, busy: bool) -> None:
        for widget in self._widgets.values():
            widget.set_actions_enabled(not busy)
        if not busy:
            self._update_regenerate_buttons()

    def scroll_to_bottom(self) -> None:
        self._follow = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _update_regenerate_buttons(self) -> None:
        """Only the last answer can be regenerated, or switch versions (a widget changes only when that changes)."""
        last = next(reversed(self._widgets.values()), None)
        for widget in (self._last, last):
            if widget is None:
                continue
            if widget.regenerate_button is not None:
                widget.regenerate_button.setVisible(widget is last)
            widget.set_switchable(widget is last)
        self._last = last

    def _copy(self, message_id: int) -> None:
        widget = self._widgets.get(message_id)
        if widget is not None:
            widget.copy_to_clipboard()
        self.copy_requested.emit(message_id)

    def _on_scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 24

    def _on_range_changed(self, _low: int, high: int) -> None:
        if self._follow:
            QTimer.singleShot(0, self._stick_to_bottom)

    def _stick_to_bottom(self) -> None:
        if self._follow:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())
