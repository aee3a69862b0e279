"""Chat titles are plain words: the first message's Markdown never shows in the sidebar or the header."""

from __future__ import annotations

import pytest

from app.chat.conversation import title_from_message


@pytest.mark.parametrize(("message", "title"), [
    ("**Python** tips please", "Python tips please"),
    ("```python\nprint('hi')\n```", "print('hi')"),
    ("# A heading\n\nand text", "A heading and text"),
    ("- first item\n- second item", "first item second item"),
    ("Read [the docs](https://example.org) and `pip install`", "Read the docs and pip install"),
    ("a *little* emphasis and __strong__ and ~~gone~~", "a little emphasis and strong and gone"),
    ("snake_case_name stays, and so does 2*3*4", "snake_case_name stays, and so does 2*3*4"),
    ("   ", "New chat"),
])
def test_titles_keep_the_words_not_the_markdown(message: str, title: str) -> None:
    assert title_from_message(message) == title


def test_a_long_first_message_is_cut_at_a_word() -> None:
    assert title_from_message("**Tell** me everything about the kestrel, its hunting and its nesting habits") == (
        "Tell me everything about the kestrel, its…")
