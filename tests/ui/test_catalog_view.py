"""The Models tab's catalog: every model with sizes, fit badges and licence, the pick recommended for this
machine, and a download from the stand-in hub on 127.0.0.1 with progress, pause and resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi
from huggingface_hub.utils import httpx
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import QLabel, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from app.models.catalog import RECOMMENDED_QUANT, load_catalog
from app.models.download import target_path
from app.models.library import Library
from app.ui.models.catalog_view import COL_FIT, COL_NAME, COL_SIZE, COL_STATUS, CatalogView
from app.ui.models.common import FIT_ROLE
from tests.hub_server import FakeHub, model_bytes
from tests.ui.models_fixtures import CPU_MACHINE, GPU_MACHINE, TINY_MACHINE, Harness, as_downloaded, write_qwen_like

pytestmark = [pytest.mark.qt_log_ignore("propagateSizeHints"), pytest.mark.usefixtures("loopback_guard")]

FAMILY = "qwen2.5-0.5b-instruct"
REPO = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture
def library() -> Library:
    return Library()


@pytest.fixture
def make(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, library: Library) -> Iterator[Any]:
    made: list[Harness] = []

    def factory(**kwargs: Any) -> Harness:
        h = Harness(qtbot, monkeypatch, library, **kwargs)
        made.append(h)
        return h

    yield factory
    for h in made:
        h.close()


def shown(label: QLabel) -> str:
    """What a rich-text label reads as."""
    return QTextDocumentFragment.fromHtml(label.text()).toPlainText()


def families_shown(catalog: CatalogView) -> list[QTreeWidgetItem]:
    items = [catalog.tree.topLevelItem(i) for i in range(catalog.tree.topLevelItemCount())]
    assert all(item is not None for item in items)
    return [item for item in items if item is not None]


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(max_seconds=60) as h:
        h.add_file(REPO, FILE, model_bytes())  # a tiny GGUF under the catalog's name
        yield h


def test_every_catalog_model_is_listed_with_sizes_fit_badges_and_licence(make: Any) -> None:
    h = make(machine=CPU_MACHINE)
    catalog = h.panel.catalog
    assert h.panel.details.currentWidget() is catalog  # the first thing under the library
    families = load_catalog()
    assert len(families_shown(catalog)) == len(families)
    for top, family in zip(families_shown(catalog), families, strict=True):
        assert top.text(COL_NAME).startswith(f"{family.name}  ·  ") and family.license in top.text(COL_NAME)
        assert top.isFirstColumnSpanned() and top.isExpanded()
        assert [catalog.item(family.id, v.quant).parent() is top for v in family.variants] == [True] * top.childCount()
        for variant in family.variants:
            row = catalog.item(family.id, variant.quant)
            assert row.text(COL_NAME) == variant.quant and row.text(COL_SIZE).endswith(("MiB", "GiB"))
            assert row.data(COL_FIT, FIT_ROLE) in ("ram", "too_large") and row.text(COL_FIT)
    assert catalog.item(FAMILY, "Q4_K_M").text(COL_SIZE).startswith("~")  # an estimate until the hub says
    assert catalog.item("qwen2.5-7b-instruct", "F16").data(COL_FIT, FIT_ROLE) == "too_large"  # 15 GB, 8 GB free
    assert catalog.item(FAMILY, "Q4_K_M").text(COL_FIT) == "Fits in RAM"
    starter = next(f for f in families if f.bundled)
    assert catalog.button(starter.id, "Q4_K_M").text() == "—" and not catalog.button(starter.id, "Q4_K_M").isEnabled()
    assert catalog.button(FAMILY, "Q4_K_M").text() == "Download"

    h.panel.set_machine(GPU_MACHINE)
    assert catalog.item(FAMILY, "Q4_K_M").data(COL_FIT, FIT_ROLE) == "gpu_full"


def test_the_recommended_pick_is_shown_on_top_and_is_never_a_base_model(make: Any) -> None:
    h = make(machine=CPU_MACHINE)
    catalog: CatalogView = h.panel.catalog
    rec = catalog.recommendation
    assert rec is not None and rec.family is not None and rec.variant is not None
    assert not rec.family.base and not rec.family.bundled and rec.variant.quant == RECOMMENDED_QUANT
    assert catalog.rec_button.isVisible() and catalog.rec_button.text() == "Download"
    assert shown(catalog.rec_text).startswith(f"{rec.family.name} · {RECOMMENDED_QUANT} · ")
    assert "fits comfortably" in catalog.rec_why.text() and "60 %" in catalog.rec_why.text()
    tags = [item.text(COL_NAME).rsplit("  ·  ", 1)[-1] for item in families_shown(catalog)]
    assert [t for t in tags if t in ("Base model", "Recommended")] == ["Base model", "Recommended"]
    top = next(item for item in families_shown(catalog) if item.text(COL_NAME).endswith("Recommended"))
    assert top.text(COL_NAME).startswith(rec.family.name + "  ·  ")

    h.panel.details.setCurrentIndex(1)
    h.panel.show_recommended()  # what "Get a chat model…" on a base-model note leads to
    assert h.panel.details.currentWidget() is catalog
    assert catalog.tree.currentItem() is catalog.item(rec.family.id, RECOMMENDED_QUANT)

    h.panel.set_machine(TINY_MACHINE)  # 1 MiB free: nothing fits
    assert catalog.recommendation is not None and catalog.recommendation.family is None
    assert not catalog.rec_button.isVisible()
    assert shown(catalog.rec_text).startswith("No chat model in the catalog fits comfortably in this computer's "
                                              "free memory: 1.00 MiB is free, the smallest needs about ")
    assert "use a model you already have" in catalog.rec_why.text()


def test_a_model_already_on_this_computer_offers_use_not_a_second_download(make: Any, library: Library,
                                                                           tmp_path: Path) -> None:
    mine = as_downloaded(write_qwen_like(tmp_path / "src"), "Qwen__Qwen2.5-0.5B-Instruct-GGUF")  # an F16 copy
    library.add(mine, "downloaded")
    h = make(machine=CPU_MACHINE)
    catalog = h.panel.catalog
    assert catalog.item(FAMILY, "F16").text(COL_STATUS) == "On this computer"
    button = catalog.button(FAMILY, "F16")
    assert button.text() == "Use" and button.isEnabled()
    assert catalog.button(FAMILY, "Q4_K_M").text() == "Download"  # other quantizations are still downloadable
    h.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert h.settings.get_str("model_path") == str(mine)
    h.qtbot.waitUntil(lambda: catalog.item(FAMILY, "F16").text(COL_STATUS) == "In use", timeout=5000)
    assert not catalog.button(FAMILY, "F16").isEnabled()


def test_download_from_the_catalog_with_progress_pause_and_resume(make: Any, library: Library, hub: FakeHub) -> None:
    h = make(machine=CPU_MACHINE)
    catalog: CatalogView = h.panel.catalog
    h.panel.download.set_endpoint(hub.url)  # Download › Advanced › Hub address applies to the catalog too
    assert hub.requests == []  # nothing is fetched before a button is pressed
    hub.rate = 1.5e6  # about three seconds for the file: time to watch it and pause it
    done_bytes: list[int] = []
    catalog.runner.progress.connect(lambda p: done_bytes.append(p.done))
    h.qtbot.mouseClick(catalog.button(FAMILY, "Q4_K_M"), Qt.MouseButton.LeftButton)
    assert catalog.runner.running and catalog.button(FAMILY, "Q4_K_M").text() == "Pause"
    assert not catalog.button(FAMILY, "Q5_K_M").isEnabled()  # one download at a time
    h.qtbot.waitUntil(lambda: bool(done_bytes) and done_bytes[-1] > 500_000, timeout=10000)
    assert catalog.progress.isVisible() and 0 < catalog.progress.value() < 1000
    assert "MiB/s" in catalog.status.text() and catalog.status.text().startswith(FILE)
    assert catalog.item(FAMILY, "Q4_K_M").text(COL_STATUS).startswith("Downloading ")

    h.qtbot.mouseClick(catalog.button(FAMILY, "Q4_K_M"), Qt.MouseButton.LeftButton)  # Pause
    h.qtbot.waitUntil(lambda: not catalog.runner.running, timeout=5000)
    part = target_path(REPO, FILE).with_name(FILE + ".part")
    kept = part.stat().st_size
    assert kept > 500_000 and not target_path(REPO, FILE).exists()
    assert "partial file is kept" in catalog.status.text()
    assert catalog.button(FAMILY, "Q4_K_M").text() == "Resume"
    assert catalog.item(FAMILY, "Q4_K_M").text(COL_STATUS).startswith("Paused at ")
    assert catalog.button(FAMILY, "Q5_K_M").isEnabled()

    hub.rate = None
    with h.qtbot.waitSignal(catalog.downloaded, timeout=20000) as done:
        h.qtbot.mouseClick(catalog.button(FAMILY, "Q4_K_M"), Qt.MouseButton.LeftButton)  # Resume
    path = done.args[0]
    assert path == target_path(REPO, FILE) and path.read_bytes() == model_bytes()
    assert hub.transfers(FILE)[-1].range == f"bytes={kept}-"  # continued from the bytes kept, not from zero
    assert "verified" in catalog.status.text() and "resumed from" in catalog.status.text()
    assert library.entries()[-1].source == "downloaded"
    h.wait_scan()
    assert catalog.item(FAMILY, "Q4_K_M").text(COL_STATUS) == "On this computer"
    assert catalog.button(FAMILY, "Q4_K_M").text() == "Use"
    assert h.panel.table.selected_path() == path


def test_a_download_paused_in_an_earlier_session_offers_resume(make: Any) -> None:
    part = target_path(REPO, FILE).with_name(FILE + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"\0" * 300_000)
    h = make(machine=CPU_MACHINE)
    catalog: CatalogView = h.panel.catalog
    h.qtbot.waitUntil(lambda: catalog.button(FAMILY, "Q4_K_M").text() == "Resume", timeout=5000)
    assert catalog.item(FAMILY, "Q4_K_M").text(COL_STATUS) == "Paused at 293 KiB"
    assert catalog.button(FAMILY, "Q5_K_M").text() == "Download"


def test_being_offline_is_said_plainly_and_the_button_offers_download_again(make: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*_args: Any, **_kwargs: Any) -> Any:
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(HfApi, "model_info", offline)
    h = make(machine=CPU_MACHINE)
    catalog: CatalogView = h.panel.catalog
    catalog.rec_button.click()  # the recommended pick's one button
    h.qtbot.waitUntil(lambda: not catalog.runner.running, timeout=10000)
    text = catalog.status.text()
    assert text.startswith("Could not reach the hub: no network connection") and "Errno" not in text
    assert "Kestrel works offline with the models you already have" in text
    assert catalog.rec_button.text() == "Download" and catalog.rec_button.isEnabled()
