"""Conversation list with New, Rename, Delete and full-text search across all messages."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.history import MATCH_END, MATCH_START, Conversation, History, SearchHit
from app.ui.chat.sidebar_items import CURRENT_ROLE, SUBTITLE_ROLE, SidebarDelegate, when

ID_ROLE = Qt.ItemDataRole.UserRole
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 1


class ConversationSidebar(QWidget):
    """Lists conversations; typing in the search box lists matching messages instead."""

    conversation_selected = Signal(int)
    message_selected = Signal(int, int)  # conversation id, message id
    new_requested = Signal()
    deleted = Signal(int)

    def __init__(self, history: History, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.setObjectName("conversationSidebar")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        top = QHBoxLayout()
        self.new_button = QPushButton(self.tr("New chat"))
        self.new_button.setObjectName("newChatButton")
        self.new_button.clicked.connect(self.new_requested)
        top.addWidget(self.new_button)
        layout.addLayout(top)
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText(self.tr("Search all messages…"))
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        self.list = QListWidget()
        self.list.setObjectName("conversationList")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setUniformItemSizes(False)
        self.list.setItemDelegate(SidebarDelegate(self.list))
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        layout.addWidget(self.list, 1)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self._current: int | None = None

    @property
    def searching(self) -> bool:
        return bool(self.search.text().strip())

    def set_current(self, conversation_id: int | None) -> None:
        """Mark the open chat (bold and selected), so the list always shows which one it is."""
        self._current = conversation_id
        if self.searching:
            return
        for row in range(self.list.count()):
            item = self.list.item(row)
            current = conversation_id is not None and item.data(ID_ROLE) == conversation_id
            item.setData(CURRENT_ROLE, current)
            if current:
                self.list.setCurrentItem(item)
        if conversation_id is None:
            self.list.clearSelection()

    def refresh(self) -> None:
        """Rebuild the list (conversations, or search hits while a query is typed)."""
        self.list.clear()
        query = self.search.text().strip()
        if query:
            hits = self.history.search(query)
            for hit in hits:
                self.list.addItem(self._hit_item(hit))
            if not hits:
                item = QListWidgetItem(self.tr("No messages match “%s”") % query)
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                self.list.addItem(item)
            return
        for conversation in self.history.list_conversations():
            self.list.addItem(self._conversation_item(conversation))
        self.set_current(self._current)

    def _conversation_item(self, conversation: Conversation) -> QListWidgetItem:
        item = QListWidgetItem(conversation.title)
        item.setData(ID_ROLE, conversation.id)
        item.setData(SUBTITLE_ROLE, when(conversation.updated_at))
        item.setToolTip(self.tr("%n message(s)", "", conversation.message_count))
        return item

    def _hit_item(self, hit: SearchHit) -> QListWidgetItem:
        snippet = " ".join(hit.snippet.split())
        item = QListWidgetItem(hit.title)
        item.setData(ID_ROLE, hit.conversation_id)
        item.setData(MESSAGE_ROLE, hit.message_id)
        item.setData(SUBTITLE_ROLE, snippet)
        item.setToolTip(snippet.replace(MATCH_START, "").replace(MATCH_END, ""))
        return item

    def _activated(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(ID_ROLE)
        if conversation_id is None:
            return
        message_id = item.data(MESSAGE_ROLE)
        if message_id is not None:
            self.message_selected.emit(int(conversation_id), int(message_id))
        else:
            self.conversation_selected.emit(int(conversation_id))

    def _context_menu(self, pos) -> None:  # type: ignore[no-untyped-def]
        item = self.list.itemAt(pos)
        if item is None or item.data(ID_ROLE) is None or item.data(MESSAGE_ROLE) is not None:
            return
        conversation_id = int(item.data(ID_ROLE))
        menu = QMenu(self)
        menu.addAction(self.tr("Rename…"), lambda: self.rename(conversation_id))
        menu.addAction(self.tr("Delete…"), lambda: self.delete(conversation_id))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def rename(self, conversation_id: int) -> None:
        current = self.history.get_conversation(conversation_id).title
        title, ok = QInputDialog.getText(self, self.tr("Rename chat"), self.tr("Title:"), text=current)
        if ok and title.strip():
            self.history.rename_conversation(conversation_id, title.strip())
            self.refresh()

    def delete(self, conversation_id: int) -> None:
        title = self.history.get_conversation(conversation_id).title
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Delete chat"),
                          self.tr("Delete “%s” and all its messages? This cannot be undone.") % title,
                          QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("confirmDelete")
        delete_button = box.addButton(self.tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is delete_button:
            self.history.delete_conversation(conversation_id)
            self.deleted.emit(conversation_id)
            self.refresh()
