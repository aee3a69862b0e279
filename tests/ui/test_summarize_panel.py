"""The summarize panel end to end: real drops, the real engine thread, the fake engine."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.engines.contract import ChatMessage, LocalModel
from app.engines.fake import FakeEngine
from app.ui.engine.controller import EngineController
from app.ui.summarize import SummarizePanel
from app.ui.summarize.panel import eta_text
from tests.documents.test_extract import make_docx, make_image_pdf, make_pdf

MAP_MARK = "Summary of this part:"


def reply(messages: Sequence[ChatMessage]) -> str:
    content = messages[-1].content
    if content.endswith(MAP_MARK):
        tags = re.findall(r"\bP(\d+)\b", content)
        return f"The kestrel part from P{tags[0]} to P{tags[-1]}."
    return "The whole story of the kestrel."


def long_text(paragraphs: int = 40) -> str:
    filler = "the kestrel hovers over the field and watches the grass " * 5
    return "\n\n".join(f"# Chapter {s}\n\n" + "\n\n".join(f"P{i} {filler}" for i in range(s * 5, s * 5 + 5))
                       for s in range(paragraphs // 5))


class Env:
    def __init__(self, qtbot: QtBot, tmp_path: Path, engine: FakeEngine, load: bool = True) -> None:
        self.qtbot = qtbot
        self.tmp = tmp_path
        self.engine = engine
        self.controller = EngineController(lambda _spec: engine)
        if load:
            with qtbot.waitSignal(self.controller.loaded, timeout=5000):
                self.controller.load(LocalModel(path=Path("fake.gguf")))
        self.panel = SummarizePanel(self.controller, Settings(tmp_path / "settings.json"))
        qtbot.addWidget(self.panel)
        self.panel.resize(1000, 720)
        self.panel.show()

    def drop(self, *paths: Path) -> QDropEvent:
        """A real drag enter + drop carrying file URLs, as a file manager sends them."""
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        zone = self.panel.zone
        enter = QDragEnterEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(zone, enter)
        drop = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(zone, drop)
        return drop

    def wait_planned(self) -> None:
        self.qtbot.waitUntil(lambda: self.panel.plan is not None and not self.controller.busy, timeout=10000)

    def summarize(self) -> None:
        with self.qtbot.waitSignal(self.controller.finished, timeout=20000):
            self.qtbot.mouseClick(self.panel.start_button, Qt.MouseButton.LeftButton)
        self.qtbot.waitUntil(lambda: not self.panel.running)

    def map_requests(self) -> int:
        return sum(1 for r in self.engine.requests if r[-1].content.endswith(MAP_MARK))

    def close(self) -> None:
        self.panel.shutdown()
        assert self.controller.shutdown()


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path) -> Iterator[Env]:
    e = Env(qtbot, tmp_path, FakeEngine(reply=reply, tokens_per_s=3000, prefill_tps=0, n_ctx=512,
                                        chat_format="gguf-template"))
    yield e
    e.close()


def test_dropped_file_is_summarized_end_to_end(env: Env) -> None:
    path = env.tmp / "kestrel.md"
    path.write_text(long_text(), encoding="utf-8")
    event = env.drop(path)
    assert event.isAccepted()
    env.qtbot.waitUntil(lambda: env.panel.document is not None, timeout=5000)
    assert env.panel.info_label.text().startswith("kestrel.md · ")
    env.wait_planned()
    plan = env.panel.plan
    assert plan is not None and plan.mode == "map-reduce"
    assert f"{plan.total_tokens:,} tokens" in env.panel.plan_label.text()
    assert "about" in env.panel.plan_label.text()  # an ETA before starting
    assert env.panel.start_button.isEnabled()

    env.summarize()
    result = env.panel.result
    assert result is not None and result.chunks_summarized == result.chunks == plan.chunk_count
    shown = env.panel.view.toPlainText()
    assert "The kestrel part from P0" in shown and result.points[0].source.label in shown
    assert f"{result.chunks} parts" in env.panel.progress_label.text()
    assert env.panel.copy_button.isEnabled() and env.panel.export_button.isEnabled()

    # each point's source is a link that shows the text it came from
    html = env.panel.view.toHtml()
    assert 'href="source:0"' in html and f'href="source:{result.chunks - 1}"' in html
    env.panel.view.anchorClicked.emit(QUrl("source:1"))
    assert env.panel.source_pane.isVisible()
    assert env.panel.source_pane.title.text() == f"Source: {result.points[1].source.label}"
    assert env.panel.source_pane.text.toPlainText() == result.chunk_infos[1].text

    env.qtbot.mouseClick(env.panel.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == result.summary


def test_export_markdown_and_text(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.panel.load_text(long_text())
    env.wait_planned()
    env.summarize()
    for suffix, chosen in ((".md", "Markdown (*.md)"), (".txt", "Plain text (*.txt)")):
        target = env.tmp / f"out{suffix}"
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, t=target, c=chosen: (str(t), c))
        env.qtbot.mouseClick(env.panel.export_button, Qt.MouseButton.LeftButton)
        text = target.read_text(encoding="utf-8")
        assert "The kestrel part from P0" in text
        assert ("- " in text and "*" in text) if suffix == ".md" else ("•" in text and "*" not in text)
    no_suffix = env.tmp / "plain"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a: (str(no_suffix), "Plain text (*.txt)"))
    assert env.panel.export() == no_suffix.with_suffix(".txt")


def test_unsupported_drops_are_refused_with_a_reason(env: Env) -> None:
    exe = env.tmp / "setup.exe"
    exe.write_bytes(b"MZ" + bytes(100))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(exe))])
    enter = QDragEnterEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(env.panel.zone, enter)
    assert not enter.isAccepted()
    assert ".exe files are not supported" in env.panel.zone.hint.text()
    assert env.panel.notice.isVisible() and ".exe files are not supported" in env.panel.notice.text()
    env.panel.notice.clear_message()
    drop = env.drop(exe)  # a refused drag never gets its drop delivered
    assert not drop.isAccepted()
    assert env.panel.notice.isVisible() and ".exe files are not supported" in env.panel.notice.text()
    assert env.panel.document is None
    env.drop(env.tmp / "a.txt", env.tmp / "b.txt")
    assert "one document at a time" in env.panel.notice.text()


@pytest.mark.parametrize(("kind", "words"), [
    ("encrypted", "the PDF is encrypted"), ("image", "needs OCR"), ("empty", "empty"), ("binary", "binary"),
    ("corrupt", "damaged"),
])
def test_bad_documents_show_a_clear_error_and_the_panel_keeps_working(env: Env, kind: str, words: str) -> None:
    folder = env.tmp
    if kind == "encrypted":
        path = make_pdf(folder / "locked.pdf", ["Secret"], encrypt="pw")
    elif kind == "image":
        path = make_image_pdf(folder / "scan.pdf")
    elif kind == "empty":
        path = folder / "empty.txt"
        path.write_bytes(b"")
    elif kind == "binary":
        path = folder / "blob.txt"
        path.write_bytes(bytes(range(256)) * 10)
    else:
        path = folder / "broken.docx"
        path.write_bytes(make_docx(folder / "good.docx").read_bytes()[:400])
    env.drop(path)
    env.qtbot.waitUntil(lambda: env.panel.notice.isVisible(), timeout=5000)
    assert words in env.panel.notice.text() and env.panel.notice.kind == "error"
    assert env.panel.document is None and not env.panel.start_button.isEnabled()
    good = make_pdf(folder / "fine.pdf", ["Page one words."] * 1 + ["Page two words."])
    env.drop(good)
    env.qtbot.waitUntil(lambda: env.panel.document is not None, timeout=5000)
    assert not env.panel.notice.isVisible()
    assert "2 pages" in env.panel.info_label.text()


def test_ctrl_v_in_the_zone_pastes_text(env: Env, qtbot: QtBot) -> None:
    QApplication.clipboard().setText("# Pasted\n\nSome words about kestrels to summarize.")
    env.panel.zone.setFocus()
    qtbot.keyClick(env.panel.zone, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: env.panel.document is not None, timeout=5000)
    assert env.panel.document.kind == "pasted"
    env.wait_planned()
    assert env.panel.plan is not None and env.panel.plan.mode == "single"
    env.summarize()
    assert env.panel.result is not None and env.panel.result.chunks_summarized == 1
    QApplication.clipboard().setText("   ")
    qtbot.mouseClick(env.panel.zone.paste_button, Qt.MouseButton.LeftButton)
    assert "no text" in env.panel.notice.text()


def test_changing_the_format_after_a_summary_reuses_the_chunk_summaries(env: Env) -> None:
    env.panel.load_text(long_text())
    env.wait_planned()
    env.summarize()
    before = env.map_requests()
    with env.qtbot.waitSignal(env.controller.finished, timeout=10000):
        env.panel.preset_combo.setCurrentIndex(0)  # TL;DR
    env.qtbot.waitUntil(lambda: env.panel.result is not None and env.panel.result.preset == "tldr")
    assert env.map_requests() == before
    result = env.panel.result
    assert result.cached_chunks == result.chunks and len(result.points) == 1
    assert "The whole story of the kestrel." in env.panel.view.toPlainText()


def test_cancel_keeps_the_parts_already_summarized(qtbot: QtBot, tmp_path: Path) -> None:
    slow = FakeEngine(reply=lambda m: reply(m) + " " + " ".join(["more"] * 40), tokens_per_s=150, prefill_tps=0,
                      n_ctx=512, chat_format="gguf-template")
    e = Env(qtbot, tmp_path, slow)
    try:
        e.panel.load_text(long_text())
        e.wait_planned()
        e.qtbot.mouseClick(e.panel.start_button, Qt.MouseButton.LeftButton)
        assert e.panel.cancel_button.isEnabled() and not e.panel.start_button.isEnabled()
        qtbot.waitUntil(lambda: len(e.panel.results.streamed_points) >= 1, timeout=10000)
        assert "Part " in e.panel.progress_label.text() and " of " in e.panel.progress_label.text()
        with qtbot.waitSignal(e.controller.finished, timeout=5000):
            qtbot.mouseClick(e.panel.cancel_button, Qt.MouseButton.LeftButton)
        result = e.panel.result
        assert result is not None and result.cancelled and result.chunks_summarized >= 1
        assert result.chunks_summarized < result.chunks
        assert e.panel.progress_label.text().startswith(f"Stopped: {result.chunks_summarized} of {result.chunks} parts")
        assert "The kestrel part from P0" in e.panel.view.toPlainText()
        assert e.panel.start_button.isEnabled()
    finally:
        e.close()


def test_without_a_model_the_panel_says_so(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(reply=reply), load=False)
    try:
        e.panel.load_text("Some words.")
        qtbot.waitUntil(lambda: e.panel.document is not None, timeout=5000)
        assert "Load a model" in e.panel.plan_label.text()
        assert not e.panel.start_button.isEnabled()
        with qtbot.waitSignal(e.controller.loaded, timeout=5000):
            e.controller.load(LocalModel(path=Path("fake.gguf")))
        e.wait_planned()
        assert e.panel.start_button.isEnabled()
    finally:
        e.close()


def test_eta_text() -> None:
    assert eta_text(12.4) == "about 12 s"
    assert eta_text(125) == "about 2 min"
    assert eta_text(3 * 3600 + 20 * 60) == "about 3 h 20 min"


def test_a_failing_engine_is_reported_and_the_panel_is_ready_again(qtbot: QtBot, tmp_path: Path) -> None:
    e = Env(qtbot, tmp_path, FakeEngine(reply=reply, fail_after_tokens=2, n_ctx=512))
    try:
        with qtbot.waitSignal(e.controller.finished, timeout=10000):  # the plan measures speeds: it fails
            e.panel.load_text(long_text())
        assert e.panel.notice.kind == "error" and "failed on purpose" in e.panel.notice.text()
        QApplication.processEvents()  # a retry would be queued now: a failing plan is not retried in a loop
        assert e.panel.plan is None and e.panel.plan_label.text() == "" and not e.controller.busy
        e.panel.notice.clear_message()
        e.summarize()  # the job fails; its handle still finishes
        assert e.panel.notice.kind == "error" and "failed on purpose" in e.panel.notice.text()
        assert e.panel.result is None and "could not be made" in e.panel.progress_label.text()
        assert not e.panel.running and e.panel.start_button.isEnabled() and not e.panel.cancel_button.isEnabled()
        assert e.panel.zone.isEnabled()
    finally:
        e.close()


def test_a_models_list_markup_stays_one_flat_point_with_its_source_in_view(qtbot: QtBot, tmp_path: Path) -> None:
    """'1. 2. 3.' from a base model once became a staircase of nested lists pushing the source away."""
    e = Env(qtbot, tmp_path, FakeEngine(reply="1. 2. 3. 4.\n- five\n# six <b>seven</b>", tokens_per_s=3000,
                                        prefill_tps=0, n_ctx=512))
    try:
        e.panel.load_text(long_text())
        e.wait_planned()
        e.summarize()
        result = e.panel.result
        assert result is not None and result.chunks > 1
        document = e.panel.view.document()
        lists = {document.findBlockByNumber(i).textList() for i in range(document.blockCount())} - {None}
        assert len(lists) <= 1  # one list of points, nothing nested in it
        first = document.firstBlock().text()
        assert first == f"{' '.join(result.points[0].text.split())} ({result.points[0].source.label})"
        assert first[:1].isdigit()  # a number that would have started a nested list is shown as text
        assert "<b>" in e.panel.view.toPlainText()  # shown as text, never as markup
    finally:
        e.close()


def test_a_one_pass_summary_stopped_early_says_so_not_zero_of_one_parts(qtbot: QtBot, tmp_path: Path) -> None:
    slow = FakeEngine(reply=lambda _m: "- first point\n- second point\n- " + " ".join(["more"] * 200),
                      tokens_per_s=150, prefill_tps=0, n_ctx=4096)
    e = Env(qtbot, tmp_path, slow)
    try:
        e.panel.load_text("The kestrel hovers over the field, then dives for a vole.")
        e.wait_planned()
        assert e.panel.plan is not None and e.panel.plan.mode == "single"
        e.qtbot.mouseClick(e.panel.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "second point" in e.panel.view.toPlainText(), timeout=10000)
        with qtbot.waitSignal(e.controller.finished, timeout=5000):
            qtbot.mouseClick(e.panel.cancel_button, Qt.MouseButton.LeftButton)
        assert e.panel.result is not None and e.panel.result.cancelled
        assert e.panel.progress_label.text() == "Stopped before the end: what was written so far is kept below."
    finally:
        e.close()
