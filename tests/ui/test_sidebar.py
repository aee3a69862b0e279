"""The chat list: the open chat marked, a date under each chat, search matches highlighted and in view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.chat.history import MATCH_END, MATCH_START, History
from app.ui.chat.sidebar import ConversationSidebar
from app.ui.chat.sidebar_items import CURRENT_ROLE, LEAD, SUBTITLE_ROLE, snippet_html, when


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    store = History(tmp_path / "history.sqlite3")
    yield store
    store.close()


def test_the_open_chat_is_marked_and_each_chat_shows_when_it_changed(qtbot: QtBot, history: History) -> None:
    first = history.create_conversation("Birds of prey", "")
    second = history.create_conversation("Bread baking", "")
    sidebar = ConversationSidebar(history)
    qtbot.addWidget(sidebar)
    sidebar.refresh()
    sidebar.set_current(first.id)
    rows = {sidebar.list.item(i).data(0): sidebar.list.item(i) for i in range(sidebar.list.count())}
    assert rows["Birds of prey"].data(CURRENT_ROLE) is True and rows["Bread baking"].data(CURRENT_ROLE) is False
    assert sidebar.list.currentItem() is rows["Birds of prey"] and rows["Birds of prey"].isSelected()
    assert all(item.data(SUBTITLE_ROLE) for item in rows.values())  # today: the time
    sidebar.set_current(second.id)
    assert rows["Birds of prey"].data(CURRENT_ROLE) is False
    sidebar.set_current(None)  # a new, unsaved chat: nothing marked
    assert not any(item.data(CURRENT_ROLE) for item in rows.values()) and not sidebar.list.selectedItems()


def test_dates_read_as_a_person_reads_them() -> None:
    now = dt.datetime(2026, 12, 2, 15, 30)
    today = dt.datetime(2026, 12, 2, 9, 5).timestamp()
    earlier = dt.datetime(2026, 11, 20, 9, 5).timestamp()
    assert "9" in when(today, now) and "05" in when(today, now) and "2026" not in when(today, now)
    assert when(earlier, now) != when(today, now) and ("20" in when(earlier, now))


def test_a_search_match_is_highlighted_not_bracketed_and_kept_in_view(qtbot: QtBot, history: History) -> None:
    chat = history.create_conversation("Hunting", "")
    history.add_message(chat.id, "user", "A long introduction about many things before we finally get to the "
                                         "<falcons> and the birds they hunt over the fields.")
    sidebar = ConversationSidebar(history)
    qtbot.addWidget(sidebar)
    sidebar.search.setText("birds")
    sidebar.refresh()
    hit = sidebar.list.item(0)
    assert hit.text() == "Hunting"  # the title alone on the first line
    snippet = hit.data(SUBTITLE_ROLE)
    assert f"{MATCH_START}birds{MATCH_END}" in snippet and "[birds]" not in snippet
    assert MATCH_START not in hit.toolTip()
    html = snippet_html(snippet, "#2f65ca", "#ffffff")
    assert '<span style="background-color:#2f65ca; color:#ffffff; font-weight:600">birds</span>' in html
    assert "&lt;falcons&gt;" in html  # message text is text, never markup
    visible = html.split("<span")[0]
    assert visible.startswith("…") and len(visible.replace("&lt;", "<").replace("&gt;", ">")) <= LEAD + 1
