"""The message strip: technical details stay under "Details" until asked for."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.base.messages import with_details
from app.ui.widgets.notice import Notice


def test_details_are_behind_a_link_that_shows_and_hides_them(qtbot: QtBot) -> None:
    notice = Notice()
    qtbot.addWidget(notice)
    notice.show_message(with_details("broken.gguf: is not a GGUF model file, or it is damaged",
                                     "its header says version 3984908932"), "error")
    assert notice.message == "broken.gguf: is not a GGUF model file, or it is damaged"
    assert "Details" in notice.text() and "3984908932" not in notice.text()
    notice.linkActivated.emit("#details")
    assert notice.details_shown and "its header says version 3984908932" in notice.text()
    assert "Hide details" in notice.text()
    notice.linkActivated.emit("#details")
    assert not notice.details_shown and "3984908932" not in notice.text()


def test_a_message_without_details_is_shown_as_it_is(qtbot: QtBot) -> None:
    notice = Notice()
    qtbot.addWidget(notice)
    notice.show_message("Loaded <b>x</b>", "info")
    assert notice.text() == "Loaded <b>x</b>" and notice.details == "" and "Details" not in notice.text()
    notice.show_message(with_details("Failed", "code 7"), "error")
    notice.show_details()
    notice.show_message("Next", "info")  # a new message starts with its details hidden
    assert notice.text() == "Next" and not notice.details_shown
    notice.clear_message()
    assert notice.isHidden() and notice.text() == ""
