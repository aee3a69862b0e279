"""Helpers for the Models tab tests: synthetic models, a fixed machine, and a panel harness."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.base import paths
from app.base.settings import Settings
from app.engines.contract import Engine, LocalModel, ModelSpec
from app.engines.fake import FakeEngine
from app.gguf.memory import MachineMemory
from app.models.library import Library
from app.ui.engine.controller import EngineController
from app.ui.models import ModelsPanel
from app.ui.models import panel as panel_module
from app.ui.models.common import Machine
from tests import gguf_files

GiB = 1 << 30
CPU_MACHINE = Machine(MachineMemory(16 * GiB, 8 * GiB, None, None, None), False, False, "CPU : test")
GPU_MACHINE = Machine(MachineMemory(16 * GiB, 8 * GiB, 8 * GiB, 8 * GiB, "Test GPU"), True, True, "CUDA : test")
TINY_MACHINE = Machine(MachineMemory(1 << 20, 1 << 20, None, None, None), False, False, "")
QWEN_NAME = "Qwen2.5 0.5B Instruct"
QWEN_FILE = "qwen2.5-0.5b-instruct-f16.gguf"


def write_qwen_like(folder: Path, name: str = QWEN_FILE) -> Path:
    """A tiny F16 llama named like a catalog family; n_embd=256 so K-quants work."""
    folder.mkdir(parents=True, exist_ok=True)
    return gguf_files.write_tiny_llama(folder / name, name=QWEN_NAME, n_layer=2, n_embd=256, n_head=4,
                                       n_head_kv=2, n_vocab=1024, n_ctx_train=512,
                                       chat_template="{% for m in messages %}{{ m.content }}{% endfor %}")


def as_downloaded(source: Path, repo_folder: str = "acme__Tiny-GGUF") -> Path:
    """A copy of ``source`` where Kestrel's downloads go (the file Kestrel owns)."""
    target = paths.models_dir() / repo_folder / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


class Harness:
    """A ModelsPanel on a real EngineController over the fake engine, with a fixed machine.

    ``engines_made`` counts the engines the controller's factory made (one: the window's).
    """

    def __init__(self, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, library: Library,
                 engine: Engine | None = None, model: Path | None = None, machine: Machine = CPU_MACHINE) -> None:
        self.qtbot = qtbot
        monkeypatch.setattr(panel_module, "probe_machine", lambda: machine)  # no nvidia-smi, same figures
        self.settings = Settings.load_default()
        self.library = library
        self.engine = engine or FakeEngine(tokens_per_s=2000)
        self.engines_made = 0
        self.controller = EngineController(self._make_engine)
        if model is not None:
            self.settings.set("model_path", str(model))
            with qtbot.waitSignal(self.controller.loaded, timeout=5000):
                self.controller.load(LocalModel(path=model))
        self.panel = ModelsPanel(self.controller, self.settings, library)
        qtbot.addWidget(self.panel)
        self.panel.resize(1100, 720)
        self.panel.show()
        self.wait_scan(0)
        qtbot.waitUntil(lambda: self.panel.machine is machine, timeout=5000)

    def _make_engine(self, _spec: ModelSpec) -> Engine:
        self.engines_made += 1
        return self.engine

    def wait_scan(self, after: int | None = None) -> None:
        """Wait for the library scan in flight (after ``after`` finished scans) to land."""
        done = self.panel.scans if after is None else after
        self.qtbot.waitUntil(lambda: self.panel.scans > done, timeout=5000)

    def refresh(self) -> None:
        before = self.panel.scans
        self.panel.refresh()
        self.wait_scan(before)

    def close(self) -> None:
        self.panel.shutdown()
        assert self.controller.shutdown()
