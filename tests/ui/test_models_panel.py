"""The Models tab end to end: library, drop import, use/delete, picker, download, quantize, A/B, GPU.

Real EngineController over the fake engine; real llama.cpp only where the feature is llama.cpp
(quantize, compare) on tiny synthetic models; downloads from the stand-in hub on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.base.settings import Settings
from app.engines.contract import ChatMessage, GenerationParams, LoadedModel, LocalModel
from app.engines.fake import FakeEngine
from app.engines.llama.quantize import quantize
from app.gguf.reader import read_gguf_info
from app.models.download import target_path
from app.models.library import Library
from app.ui.engine.controller import EngineController
from app.ui.models import ModelsPanel
from app.ui.models import panel as panel_module
from app.ui.models.common import FIT_ROLE, Machine, format_params
from app.ui.models.library_view import COL_FIT, COL_MEMORY, LibraryTable
from tests.hub_server import FakeHub, model_bytes
from tests.ui.models_fixtures import (
    CPU_MACHINE,
    GPU_MACHINE,
    TINY_MACHINE,
    Harness,
    as_downloaded,
    write_qwen_like,
)

pytestmark = [pytest.mark.qt_log_ignore("propagateSizeHints"), pytest.mark.usefixtures("loopback_guard")]

REPO = "acme/Tiny-GGUF"
FILE = "tiny-F16.gguf"




@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An F16 model named like a catalog family, and its Q8_0 made by llama.cpp."""
    folder = tmp_path_factory.mktemp("variants")
    f16 = write_qwen_like(folder)
    return f16, quantize(f16, "Q8_0", folder / "qwen2.5-0.5b-instruct-q8_0.gguf").path


@pytest.fixture
def f16(tmp_path: Path) -> Path:
    return write_qwen_like(tmp_path / "models")


@pytest.fixture
def library() -> Library:
    return Library()


@pytest.fixture
def make(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, library: Library) -> Iterator:  # type: ignore[type-arg]
    made: list[Harness] = []

    def factory(**kwargs: object) -> Harness:
        h = Harness(qtbot, monkeypatch, library, **kwargs)  # type: ignore[arg-type]
        made.append(h)
        return h

    yield factory
    for h in made:
        h.close()


def row_index(h: Harness, path: Path) -> int:
    return next(i for i, r in enumerate(h.panel.table.rows()) if r.path.resolve() == path.resolve())


# ---- lazy construction -------------------------------------------------------------------------

def test_the_tab_is_built_and_the_machine_probed_only_when_first_shown(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
                                                                      library: Library, f16: Path) -> None:
    probes: list[Machine] = []

    def probe() -> Machine:
        probes.append(CPU_MACHINE)
        return CPU_MACHINE

    monkeypatch.setattr(panel_module, "probe_machine", probe)
    library.add(f16, "imported")
    controller = EngineController(lambda _spec: FakeEngine())
    panel = ModelsPanel(controller, Settings.load_default(), library)
    qtbot.addWidget(panel)
    try:
        assert not panel.built and panel.findChild(LibraryTable) is None
        assert probes == [] and panel.scans == 0
        panel.shutdown()  # a tab never shown has nothing to stop

        panel.show()
        assert panel.built and panel.findChild(LibraryTable) is panel.table
        qtbot.waitUntil(lambda: panel.scans == 1 and panel.machine is CPU_MACHINE, timeout=5000)
        assert panel.table.selected_path() == f16
        panel.hide()
        panel.show()  # shown again: nothing is built or probed twice
        assert probes == [CPU_MACHINE] and panel.findChildren(LibraryTable) == [panel.table]
        panel.shutdown()
    finally:
        assert controller.shutdown()


# ---- library ---------------------------------------------------------------------------------

def test_the_library_lists_a_model_with_quant_params_memory_and_fit(make, library: Library, f16: Path,
                                                                   tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00oops")
    library.add(f16, "imported")
    library.add(broken, "discovered")
    h = make(model=f16)
    cells = h.panel.table.row_text(f16)
    info = read_gguf_info(f16)
    assert cells[:3] == ["●", "Qwen2.5 0.5B Instruct", "F16"]  # the current model is marked
    assert cells[3] == format_params(info.params) and cells[6] == "yes" and cells[7] == "Imported"
    assert "RAM" in cells[8] and cells[9] == "Fits in RAM"
    assert h.panel.table.item(row_index(h, f16), COL_FIT).data(FIT_ROLE) == "ram"
    bad = h.panel.table.row_text(broken)
    assert bad[2] == "?" and bad[9] == "Unreadable"
    h.panel.table.selectRow(row_index(h, broken))
    assert not h.panel.use_button.isEnabled()

    h.panel.set_machine(GPU_MACHINE)
    cells = h.panel.table.row_text(f16)
    assert cells[9] == "Fits fully on GPU" and "VRAM" in cells[8]
    h.panel.set_machine(TINY_MACHINE)
    assert h.panel.table.row_text(f16)[9] == "Too large"

    before = h.panel.table.item(row_index(h, f16), COL_MEMORY).text()
    h.settings.set("n_ctx", 32768)  # estimates follow the context size
    assert h.panel.table.item(row_index(h, f16), COL_MEMORY).text() != before


def _drag(h: Harness, files: list[Path]) -> tuple[QDragEnterEvent, QDropEvent]:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    actions = Qt.DropAction.CopyAction | Qt.DropAction.LinkAction
    viewport = h.panel.table.viewport()
    enter = QDragEnterEvent(QPointF(viewport.rect().center()), actions, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, enter)
    drop = QDropEvent(QPointF(viewport.rect().center()), actions, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, drop)
    return enter, drop


def test_dropping_gguf_files_imports_them_in_place(make, library: Library, f16: Path, tmp_path: Path) -> None:
    h = make()
    assert h.panel.table.rowCount() == 0
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    enter, drop = _drag(h, [notes])
    assert not enter.isAccepted() and not drop.isAccepted()  # nothing to import: refused

    before = h.panel.scans
    enter, drop = _drag(h, [f16, notes])
    assert enter.isAccepted() and drop.isAccepted()
    h.wait_scan(before)
    assert [Path(e.path) for e in library.entries()] == [f16] and library.entries()[0].source == "imported"
    assert h.panel.table.selected_path() == f16  # linked where it is, never copied
    assert not list(h.panel.library.path.parent.rglob("*.gguf"))
    assert "Added 1 model" in h.panel.notice.text()

    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not gguf")
    before = h.panel.scans
    _drag(h, [junk])
    h.wait_scan(before)
    assert "Not added" in h.panel.notice.text() and len(library.entries()) == 1


def test_rescan_links_models_found_in_other_apps(make, library: Library, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hf-cache"
    found = write_qwen_like(cache / "models--Qwen--X" / "snapshots" / "abc", "found-f16.gguf")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no LM Studio folder
    h = make()
    before = h.panel.scans
    h.qtbot.mouseClick(h.panel.rescan_button, Qt.MouseButton.LeftButton)
    h.wait_scan(before)
    assert "Found 1 new model" in h.panel.notice.text()
    assert h.panel.table.row_text(found)[7] == "Other app" and library.entries()[0].source == "discovered"
    h.panel.table.selectRow(0)
    assert h.panel.remove_button.isEnabled() and not h.panel.delete_button.isEnabled()


def test_use_this_model_sets_model_path_and_shows_the_reload(make, library: Library, f16: Path,
                                                             tmp_path: Path) -> None:
    other = write_qwen_like(tmp_path / "other", "other-f16.gguf")
    library.add(f16, "imported")
    library.add(other, "imported")
    h = make(model=f16)
    # what the main window does: reload when model_path changes
    h.settings.subscribe(lambda key, value: key == "model_path"
                         and h.controller.load(LocalModel(path=Path(str(value)))))
    h.panel.table.selectRow(row_index(h, other))
    assert h.panel.use_button.isEnabled()
    with h.qtbot.waitSignal(h.controller.loaded, timeout=5000):
        h.qtbot.mouseClick(h.panel.use_button, Qt.MouseButton.LeftButton)
        assert not h.panel.load_bar.isHidden()
    assert h.settings.get_str("model_path") == str(other)
    assert h.panel.table.row_text(other)[0] == "●" and h.panel.table.row_text(f16)[0] == ""
    assert h.panel.load_bar.isHidden() and h.panel.engine_label.text().startswith("In use")
    assert not h.panel.use_button.isEnabled()


def test_delete_only_for_kestrels_own_files(make, library: Library, f16: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    owned = as_downloaded(f16)
    library.add(f16, "imported")
    library.add(owned, "downloaded")
    h = make()
    p = h.panel
    p.table.selectRow(row_index(h, f16))
    assert not p.delete_button.isEnabled() and p.remove_button.isEnabled()
    p.table.selectRow(row_index(h, owned))
    assert p.delete_button.isEnabled() and not p.remove_button.isEnabled()

    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    h.qtbot.mouseClick(p.delete_button, Qt.MouseButton.LeftButton)
    assert owned.exists()  # cancelled
    before = p.scans
    h.qtbot.mouseClick(p.delete_button, Qt.MouseButton.LeftButton)
    h.wait_scan(before)
    assert not owned.exists() and [Path(e.path) for e in library.entries()] == [f16]

    p.table.selectRow(row_index(h, f16))
    before = p.scans
    h.qtbot.mouseClick(p.remove_button, Qt.MouseButton.LeftButton)
    h.wait_scan(before)
    assert f16.exists() and library.entries() == [] and p.table.rowCount() == 0


# ---- picker ------------------------------------------------------------------------------------

def test_picker_shows_local_and_catalog_variants_of_the_family(make, library: Library,  # type: ignore[no-untyped-def]
                                                               variants) -> None:
    f16, q8 = variants
    library.add(f16, "imported")
    library.add(q8, "quantized")
    h = make(model=f16)
    picker = h.panel.picker
    h.panel.table.selectRow(row_index(h, f16))
    assert "Qwen2.5 0.5B Instruct" in picker.title.text()
    lines = {(c.quant, c.local is not None) for c in picker.choices}
    assert lines == {("Q4_K_M", False), ("Q5_K_M", False), ("Q6_K", False), ("Q8_0", True), ("F16", True)}
    texts = [[picker.table.item(r, c).text() for c in range(5)] for r in range(picker.table.rowCount())]
    remote = next(t for t in texts if t[0] == "Q4_K_M")
    assert remote[1].startswith("~") and remote[3].startswith("~") and remote[4] == "Fits in RAM"
    assert picker.table.item(0, 4).data(FIT_ROLE) == "ram"
    assert picker.action_button("F16").text() == "In use" and not picker.action_button("F16").isEnabled()

    before = picker.table.item(0, 3).text()
    picker.context.setValue(131072)
    assert picker.table.item(0, 3).text() != before  # KV cache from the local header grows

    h.qtbot.mouseClick(picker.action_button("Q8_0"), Qt.MouseButton.LeftButton)
    assert h.settings.get_str("model_path") == str(q8)  # one click switches

    h.qtbot.mouseClick(picker.action_button("Q5_K_M"), Qt.MouseButton.LeftButton)
    d = h.panel.download
    assert h.panel.details.currentWidget() is d
    assert d.repo() == "Qwen/Qwen2.5-0.5B-Instruct-GGUF" and d.filename() == "qwen2.5-0.5b-instruct-q5_k_m.gguf"
    assert not d.running  # prefilled only: nothing is fetched until Download is pressed


# ---- download ----------------------------------------------------------------------------------

@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(max_seconds=60) as h:
        h.add_file(REPO, FILE, model_bytes())
        h.add_file(REPO, "bad-F16.gguf", model_bytes(256, 64))
        h.tamper(REPO, "bad-F16.gguf")
        yield h


def test_download_from_the_hub_end_to_end(make, library: Library, hub: FakeHub) -> None:
    h = make()
    d = h.panel.download
    d.set_endpoint(hub.url)
    d.repo_edit.setText(REPO)
    assert hub.requests == []  # nothing happens before a button is pressed
    h.qtbot.mouseClick(d.list_button, Qt.MouseButton.LeftButton)
    h.qtbot.waitUntil(lambda: d.file_combo.count() == 2, timeout=5000)
    assert "2 GGUF files" in d.status.text()
    d.file_combo.setCurrentIndex(d.file_combo.findText(FILE))
    lines: list[str] = []
    d.runner.progress.connect(lambda p: lines.append(d.status.text()))
    hub.rate = 8e6  # about half a second, so progress is reported
    with h.qtbot.waitSignal(d.downloaded, timeout=20000) as done:
        h.qtbot.mouseClick(d.download_button, Qt.MouseButton.LeftButton)
        assert d.running and not d.download_button.isEnabled() and d.cancel_button.isEnabled()
    assert any("MiB/s" in line and "ETA" in line for line in lines), lines
    path = done.args[0]
    assert path == target_path(REPO, FILE) and "verified" in d.status.text()
    assert library.entries()[0].source == "downloaded"
    h.wait_scan()
    assert h.panel.table.selected_path() == path and h.panel.table.row_text(path)[7] == "Downloaded"

    d.file_combo.setEditText("bad-F16.gguf")  # a file whose bytes do not match the hub's SHA-256
    h.qtbot.mouseClick(d.download_button, Qt.MouseButton.LeftButton)
    h.qtbot.waitUntil(lambda: not d.running, timeout=10000)
    assert "checksum mismatch" in d.status.text() and not target_path(REPO, "bad-F16.gguf").exists()

    d.set_endpoint("http://127.0.0.1:9")  # nothing listens there
    h.qtbot.mouseClick(d.list_button, Qt.MouseButton.LeftButton)
    h.qtbot.waitUntil(lambda: d.list_button.isEnabled(), timeout=10000)
    assert d.status.text().startswith("Could not reach the hub: ")


def test_cancel_keeps_the_partial_and_resume_finishes(make, hub: FakeHub) -> None:
    h = make()
    d = h.panel.download
    d.set_endpoint(hub.url)
    d.prefill(REPO, FILE)
    hub.rate = 1.5e6
    seen: list[int] = []
    d.runner.progress.connect(lambda p: seen.append(p.done))
    h.qtbot.mouseClick(d.download_button, Qt.MouseButton.LeftButton)
    h.qtbot.waitUntil(lambda: bool(seen) and seen[-1] > 500_000, timeout=10000)
    h.qtbot.mouseClick(d.cancel_button, Qt.MouseButton.LeftButton)
    h.qtbot.waitUntil(lambda: not d.running, timeout=5000)
    assert "partial file is kept" in d.status.text() and d.download_button.text() == "Resume"
    part = target_path(REPO, FILE).with_name(FILE + ".part")
    assert part.stat().st_size > 500_000

    hub.rate = None
    with h.qtbot.waitSignal(d.downloaded, timeout=20000):
        h.qtbot.mouseClick(d.download_button, Qt.MouseButton.LeftButton)
    assert "resumed from" in d.status.text() and d.download_button.text() == "Download"
    assert target_path(REPO, FILE).read_bytes() == model_bytes()


# ---- quantize -----------------------------------------------------------------------------------

def test_make_a_smaller_copy_f16_to_q8_0(make, library: Library, f16: Path) -> None:
    library.add(f16, "imported")
    h = make()
    h.panel.table.selectRow(row_index(h, f16))
    box = h.panel.quantize
    h.panel.details.setCurrentWidget(box.parentWidget())  # the Catalog page comes first
    assert box.start_button.isEnabled() and box.target.findData("F16") == -1
    box.target.setCurrentIndex(box.target.findData("Q8_0"))
    with h.qtbot.waitSignal(box.quantized, timeout=60000) as done:
        h.qtbot.mouseClick(box.start_button, Qt.MouseButton.LeftButton)
        assert box.progress.isVisible() and box.cancel_button.isVisible()
    out = done.args[0]
    assert read_gguf_info(out).quant == "Q8_0" and "Made" in box.status.text()
    h.wait_scan()
    assert h.panel.table.selected_path() == out
    assert h.panel.table.row_text(out)[2] == "Q8_0" and h.panel.table.row_text(out)[7] == "Made here"
    assert box.target.findData("Q8_0") == -1 and box.target.findData("Q4_K_M") >= 0  # Q8_0 is a source too

    h.panel.table.selectRow(row_index(h, f16))
    box.target.setCurrentIndex(box.target.findData("Q4_K_M"))
    h.qtbot.mouseClick(box.start_button, Qt.MouseButton.LeftButton)
    h.qtbot.mouseClick(box.cancel_button, Qt.MouseButton.LeftButton)
    h.qtbot.waitUntil(lambda: not box.running, timeout=20000)
    assert "Cancelled" in box.status.text() and not list(out.parent.glob("*Q4_K_M*"))


# ---- compare ------------------------------------------------------------------------------------

def test_compare_two_variants_end_to_end(make, library: Library, variants) -> None:  # type: ignore[no-untyped-def]
    f16, q8 = variants
    library.add(f16, "imported")
    library.add(q8, "quantized")
    engine = FakeEngine(reply=" ".join(["word"] * 200), tokens_per_s=100)
    h = make(engine=engine, model=f16)
    view = h.panel.compare
    view.n_ctx, view.max_tokens = 512, 8
    h.panel.table.selectRow(row_index(h, f16))
    assert len(view.checked_paths()) == 2 and view.run_button.isEnabled()

    h.controller.generate([ChatMessage("user", "hi")], GenerationParams(max_tokens=200))
    assert not view.run_button.isEnabled()  # not while the chat engine is busy
    with h.qtbot.waitSignal(h.controller.finished, timeout=5000):
        h.controller.stop()
    assert view.run_button.isEnabled()

    loads_before = len(engine.loads)
    h.qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    assert view.running and view.stop_button.isEnabled() and h.controller.busy
    h.qtbot.waitUntil(lambda: not view.running, timeout=60000)
    # measured in the window's one engine, on its thread, then the user's model is loaded again
    assert h.engines_made == 1
    assert [Path(spec.path).resolve() for spec in engine.loads[loads_before:]] == [f16.resolve(), q8.resolve(),
                                                                                     f16.resolve()]
    assert h.controller.model is not None and h.controller.model.path == f16 and not h.controller.busy
    rows = view.result_rows()
    assert [r[0].lstrip("★ ") for r in rows] == ["F16", "Q8_0"], view.status.text()
    assert rows[0][6] == "reference" and float(rows[1][6]) >= 0
    assert all(float(r[4]) > 0 for r in rows)  # decode t/s
    assert view.recommended in {str(f16), str(q8)}
    assert view.recommendation.text().startswith("Recommended: ") and not view.use_button.isHidden()
    assert len(view.chart.bars) == 2 and sum(b.recommended for b in view.chart.bars) == 1
    assert "Measured in" in view.status.text()

    view.set_group([])  # shown again later: the figures are remembered for this machine
    h.panel.table.selectRow(row_index(h, q8))
    h.panel._update_details()
    assert view.remembered_shown and len(view.result_rows()) == 2 and "earlier" in view.status.text()


# ---- GPU ---------------------------------------------------------------------------------------

class AdjustingEngine(FakeEngine):
    def load(self, spec, on_progress=None, cancel=None) -> LoadedModel:  # type: ignore[no-untyped-def]
        loaded = super().load(spec, on_progress, cancel)
        self._loaded = dataclasses.replace(loaded, adjustments=("context 8192 -> 4096 to fit memory",))
        return self._loaded


def test_gpu_section_shows_the_load_and_the_slider_writes_n_gpu_layers(make, f16: Path) -> None:
    h = make(engine=AdjustingEngine(), model=f16)
    g = h.panel.gpu
    assert g.backend_label.text() == "CPU" and g.layers_label.text() == "0 of 3"
    assert "CPU only" in g.support_label.text()
    assert not g.adjustments.isHidden() and "context 8192 -> 4096" in g.adjustments.text()
    assert g.auto_radio.isChecked() and not g.slider.isEnabled() and g.slider.maximum() == 3
    g.manual_radio.click()
    assert h.settings.get_int("n_gpu_layers") == 0 and g.slider.isEnabled()
    g.slider.setValue(2)
    assert h.settings.get_int("n_gpu_layers") == 2 and g.slider_value.text() == "2 of 3"
    g.slider.setValue(3)
    assert h.settings.get_int("n_gpu_layers") == 3 and "(all)" in g.slider_value.text()
    g.auto_radio.click()
    assert h.settings.get_int("n_gpu_layers") == -1 and not g.slider.isEnabled()
    h.settings.set("n_gpu_layers", 1)  # changed elsewhere (the settings dialog): the tab follows
    assert g.manual_radio.isChecked() and g.slider.value() == 1
