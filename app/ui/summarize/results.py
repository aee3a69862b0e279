"""The result side of the summarize panel: the summary, its sources, Copy and Export.

Kept apart from the panel (which owns documents, planning and the engine job) so each
stays readable. Points link to ``source:N`` (point N of the result) or, while a summary
streams, ``chunk:N``; clicking one shows the exact text that point was made from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.summarize.render import flat, render_markdown, render_text
from app.summarize.results import SummaryProgress, SummaryResult
from app.ui.widgets.timers import make_timer

RENDER_MS = 100  # while streaming, re-render at most ten times a second

ChunkLookup = Callable[[int], tuple[str, str] | None]  # chunk index -> (label, text)


class SummaryView(QTextBrowser):
    """The streamed, then final, summary as Markdown; links are reported, never followed."""

    source_clicked = Signal(str)  # "source:N" or "chunk:N"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summaryView")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.document().setDocumentMargin(12)
        self.anchorClicked.connect(self._on_anchor)

    def _on_anchor(self, url: QUrl) -> None:
        self.source_clicked.emit(url.toString())

    def set_markdown_keeping_scroll(self, text: str) -> None:
        """Re-render while streaming; stay at the bottom only if the reader was there."""
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        self.setMarkdown(text)
        if at_end:
            bar.setValue(bar.maximum())


class SourcePane(QWidget):
    """The text a point came from, shown beside the summary when its source is clicked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourcePane")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.title = QLabel("")
        self.title.setObjectName("sourceTitle")
        self.title.setWordWrap(True)
        header.addWidget(self.title, 1)
        self.close_button = QToolButton()
        self.close_button.setText(self.tr("Close"))
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        header.addWidget(self.close_button)
        layout.addLayout(header)
        self.text = QPlainTextEdit()
        self.text.setObjectName("sourceText")
        self.text.setReadOnly(True)
        layout.addWidget(self.text, 1)

    def show_source(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.text.setPlainText(text)
        self.text.moveCursor(self.text.textCursor().MoveOperation.Start)
        self.show()


class ResultArea(QWidget):
    """Summary view + source pane + Copy/Export; knows the finished result, if any."""

    status_message = Signal(str)
    error = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: SummaryResult | None = None
        self.document_name = "summary"
        self.chunk_lookup: ChunkLookup = lambda _i: None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view = SummaryView()
        self.view.setPlaceholderText(self.tr("The summary appears here, one point per part of the document. "
                                             "Click a point's source to read the text it came from."))
        self.source_pane = SourcePane()
        self.source_pane.setVisible(False)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.source_pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)
        buttons = QHBoxLayout()
        self.copy_button = QPushButton(self.tr("Copy"))
        self.copy_button.setObjectName("copySummaryButton")
        self.copy_button.setToolTip(self.tr("Copy the summary as Markdown"))
        self.export_button = QPushButton(self.tr("Export…"))
        self.export_button.setObjectName("exportSummaryButton")
        self.export_button.setToolTip(self.tr("Save the summary as Markdown or plain text"))
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.copy_button.clicked.connect(self.copy)
        self.export_button.clicked.connect(lambda: self.export())  # noqa: PLW0108 - not clicked's bool as the path
        self.view.source_clicked.connect(self.show_source)
        self.streamed_points: list[str] = []
        self._partial = ""
        self._single = False
        self._render_timer = make_timer(self, RENDER_MS, self._render_stream)
        self._update_buttons()

    def reset(self) -> None:
        """Forget the result (a new document, or a new run starting)."""
        self.result = None
        self.view.clear()
        self.source_pane.hide()
        self._update_buttons()

    def begin_stream(self, single: bool) -> None:
        """A run starts: finished chunk summaries and the one being written will stream in."""
        self.reset()
        self.streamed_points, self._partial, self._single = [], "", single

    def add_progress(self, p: SummaryProgress) -> None:
        self._single = self._single or p.phase == "single"
        self._partial += p.delta
        if p.point is not None:
            chunk = p.point.source.chunks[0]
            self.streamed_points.append(f"- {flat(p.point.text)} ([{p.point.source.label}](chunk:{chunk}))")
            self._partial = ""
        if not self._render_timer.isActive():
            self._render_timer.start()

    def end_stream(self) -> None:
        self._render_timer.stop()

    def _render_stream(self) -> None:
        if self._single:
            text = self._partial
        else:
            partial = " ".join(self._partial.split())
            text = "\n".join(self.streamed_points) + (f"\n- {flat(partial)} …" if partial else "")
        self.view.set_markdown_keeping_scroll(text)

    def show_result(self, result: SummaryResult) -> None:
        self._render_timer.stop()
        self.result = result
        self.view.setMarkdown(render_markdown(result, links=True))
        self._update_buttons()

    def show_source(self, link: str) -> None:
        """Show the text behind a point ('source:N') or a chunk ('chunk:N')."""
        kind, _, number = link.partition(":")
        if not number.isdigit():
            return
        n = int(number)
        result = self.result
        if kind == "source" and result is not None and n < len(result.points):
            point = result.points[n]
            chunks = set(point.source.chunks)
            texts, label = [i.text for i in result.chunk_infos if i.index in chunks], point.source.label
        elif kind == "chunk" and (found := self.chunk_lookup(n)) is not None:
            label, text = found
            texts = [text]
        else:
            return
        body = "\n\n⋯\n\n".join(t for t in texts if t) or self.tr(
            "The text of a very large document is not kept in memory: open the file at %1.").replace("%1", label)
        self.source_pane.show_source(self.tr("Source: %1").replace("%1", label), body)

    def copy(self) -> None:
        if self.result is not None:
            QGuiApplication.clipboard().setText(self.result.summary)
            self.status_message.emit(self.tr("Summary copied to the clipboard"))

    def export(self, path: Path | None = None) -> Path | None:
        """Save as Markdown (.md) or plain text (.txt); asks for a file name when none is given."""
        if self.result is None:
            return None
        if path is None:
            name, chosen = QFileDialog.getSaveFileName(
                self, self.tr("Export summary"), str(Path.home() / f"{Path(self.document_name).stem} - summary.md"),
                self.tr("Markdown (*.md);;Plain text (*.txt)"))
            if not name:
                return None
            path = Path(name)
            if not path.suffix:
                path = path.with_suffix(".txt" if "txt" in chosen else ".md")
        text = render_text(self.result) if path.suffix.lower() == ".txt" else render_markdown(self.result)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.error.emit(self.tr("Could not save %1: %2").replace("%1", str(path)).replace(
                "%2", exc.strerror or str(exc)))
            return None
        self.status_message.emit(self.tr("Summary exported to %1").replace("%1", str(path)))
        return path

    def _update_buttons(self) -> None:
        self.copy_button.setEnabled(self.result is not None)
        self.export_button.setEnabled(self.result is not None)
