"""User-facing messages with their technical detail kept apart.

A message for people says what happened in their terms ("not a GGUF model file, or a
damaged one"); the technical detail that helps a bug report ("its header says version
3984908932") follows after a blank line. Messages cross threads and processes as plain
strings, so the split travels with them: the window shows the first part and puts the
rest under "Details"; the command line prints both on its one line.
"""

from __future__ import annotations

SEPARATOR = "\n\n"


def with_details(message: str, details: str) -> str:
    """``message``, then ``details`` after the separator (just ``message`` when there are none)."""
    details = details.strip()
    return f"{message}{SEPARATOR}{details}" if details else message


def split_details(text: str) -> tuple[str, str]:
    """(message, technical details) of a text made by :func:`with_details` ("" when it has none)."""
    message, _, details = text.partition(SEPARATOR)
    return message, " ".join(details.split())


def one_line(text: str) -> str:
    """The whole text on one line, the details in parentheses (the CLI's error line)."""
    message, details = split_details(text)
    message = " ".join(message.split())
    return f"{message} ({details})" if details else message
