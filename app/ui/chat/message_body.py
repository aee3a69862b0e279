"""The text of one message: Markdown with highlighted code, sized to its content.

Streaming is cheap by construction: deltas are appended as plain text at the end of
the document (constant cost per update); the Markdown is re-rendered only on a
single-shot timer and once when the reply ends. Code blocks are coloured by a
QSyntaxHighlighter using Pygments, block by block, so re-rendering stays in C++
except for the code lines themselves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QWidget

try:  # Pygments is a dependency, but a missing lexer must never break rendering
    from pygments.lexers import get_lexer_by_name
    from pygments.token import Token
    from pygments.util import ClassNotFound
except ImportError:  # pragma: no cover
    get_lexer_by_name = None

HIGHLIGHT_SLICE_S = 0.004  # longest a (re-)render spends colouring code per turn of the event loop

_COLOURS = {
    "Keyword": "#8959a8", "Name.Function": "#4271ae", "Name.Class": "#c18401", "Name.Builtin": "#3e999f",
    "Name.Decorator": "#3e999f", "String": "#718c00", "Number": "#f5871f", "Comment": "#8e908c",
    "Operator": "#3e999f", "Literal": "#f5871f",
}


@lru_cache(maxsize=32)
def _lexer(language: str):  # type: ignore[no-untyped-def]
    if get_lexer_by_name is None or not language:
        return None
    try:
        return get_lexer_by_name(language.strip().lower(), stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _colour_for(token_type: object) -> str | None:
    while token_type is not None and token_type is not Token:
        name = str(token_type).removeprefix("Token.")
        if name in _COLOURS:
            return _COLOURS[name]
        token_type = getattr(token_type, "parent", None)
    return None


class CodeHighlighter(QSyntaxHighlighter):
    """Colours the lines of fenced code blocks by their declared language.

    Inside :meth:`time_slice` it colours for at most ``HIGHLIGHT_SLICE_S`` and leaves the
    remaining code lines to zero-timers, the same budget each, so re-rendering a long
    reply never blocks the GUI thread for the whole Pygments pass.
    """

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._deadline: float | None = None
        self._pending: list[int] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._drain)

    @contextmanager
    def time_slice(self) -> Iterator[None]:
        self._pending.clear()
        self._timer.stop()
        self._deadline = time.perf_counter() + HIGHLIGHT_SLICE_S
        try:
            yield
        finally:
            self._deadline = None

    def _drain(self) -> None:
        document = self.document()
        end = time.perf_counter() + HIGHLIGHT_SLICE_S
        while self._pending and time.perf_counter() < end:
            block = document.findBlockByNumber(self._pending.pop(0))
            if block.isValid():
                self.rehighlightBlock(block)
        if self._pending:
            self._timer.start()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt override
        block = self.currentBlock()
        block_format = block.blockFormat()
        if not block_format.hasProperty(QTextFormat.Property.BlockCodeFence):
            return
        if self._deadline is not None and time.perf_counter() > self._deadline:
            self._pending.append(block.blockNumber())  # coloured on a later turn of the event loop
            self._timer.start()
            return
        lexer = _lexer(block_format.stringProperty(QTextFormat.Property.BlockCodeLanguage))
        if lexer is None or not text:
            return
        position = 0
        for token_type, value in lexer.get_tokens(text):
            colour = _colour_for(token_type)
            if colour:
                fmt = QTextCharFormat()
                fmt.setForeground(QColor(colour))
                self.setFormat(position, len(value), fmt)
            position += len(value)


class MessageBody(QTextBrowser):
    """A read-only, self-sizing rich text view for one message."""

    #: a link that is not a web address, e.g. ``source:N`` of a document answer (never followed here)
    link_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setOpenLinks(False)  # a browser would navigate away from the message on any other link
        self.anchorClicked.connect(self._on_anchor)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        doc = self.document()
        doc.setDocumentMargin(2)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        doc.setDefaultStyleSheet(f"code, pre {{ font-family: '{mono.family()}'; }}")
        self._highlighter = CodeHighlighter(doc)
        self._height = -1
        doc.documentLayout().documentSizeChanged.connect(self._fit_height)
        self._markdown = ""

    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
        else:
            self.link_activated.emit(url.toString())

    def set_markdown(self, text: str) -> None:
        """Render the whole text as Markdown (on a timer while streaming, and at the end)."""
        self._markdown = text
        with self._highlighter.time_slice():
            self.document().setMarkdown(text, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
        self._fit_height()

    def set_plain(self, text: str) -> None:
        """Show text as it is (user messages keep their exact characters)."""
        self._markdown = text
        self.setPlainText(text)
        self._fit_height()

    def append_plain(self, text: str) -> None:
        """Append streamed text at the end without touching anything before it."""
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def] # noqa: N802
        super().resizeEvent(event)
        width = self.viewport().width()
        if self.document().textWidth() != width:  # setTextWidth re-lays out the whole document
            self.document().setTextWidth(width)
        self._fit_height()

    def _fit_height(self, *_args: object) -> None:
        height = int(self.document().size().height()) + 4
        if height != self._height:
            self._height = height
            self.setFixedHeight(height)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, max(self._height, 20))

    def code_font(self) -> QFont:
        return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
