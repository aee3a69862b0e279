"""Smoke test of the built installer bundle: the same checks as ``packaging/smoke_test.sh``.

Skipped unless ``KESTREL_BUNDLE_DIR`` points at a built ``dist/Kestrel`` folder:

    bash packaging/build_linux.sh --no-archive
    KESTREL_BUNDLE_DIR=dist/Kestrel .venv/bin/python -m pytest -m bundle tests/packaging -s

Each check starts the bundle with an empty HOME and no network (see packaging/smoke_test.py).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = os.environ.get("KESTREL_BUNDLE_DIR")

pytestmark = [
    pytest.mark.bundle,
    pytest.mark.skipif(not BUNDLE, reason="set KESTREL_BUNDLE_DIR to a built dist/Kestrel folder"),
    pytest.mark.timeout(600),
]


def _load_smoke() -> ModuleType:
    # By path: a top-level "packaging" import would find the PyPI package of that name.
    spec = importlib.util.spec_from_file_location("kestrel_smoke_test", ROOT / "packaging" / "smoke_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smoke = _load_smoke()


@pytest.fixture(scope="module")
def bundle() -> Path:
    path = Path(BUNDLE or "").resolve()
    if not (path / "kestrel").is_file() and not (path / "kestrel.exe").is_file():
        pytest.fail(f"KESTREL_BUNDLE_DIR={BUNDLE} holds no kestrel executable; build it first")
    return path


@pytest.fixture(scope="module")
def isolation():  # type: ignore[no-untyped-def]
    return smoke.network_isolation()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd check is Linux-only")
def test_every_library_resolves(bundle: Path) -> None:
    result = smoke.check_libraries(bundle)
    print(f"\n{result.details['elf_files']} ELF files resolve their libraries")


def test_cli_answers_offline_from_the_bundled_starter_model(bundle: Path, isolation) -> None:  # type: ignore[no-untyped-def]
    result = smoke.check_cli(bundle, isolation)
    print(f"\nfirst start to first token: {result.details['first_token_s']:.2f} s "
          f"(total {result.details['total_s']:.2f} s, {result.details['completion_tokens']} tokens, "
          f"{result.details['network']})")
    assert result.details["completion_tokens"] >= 1


@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
                    reason="needs Xvfb and xdotool on PATH")
def test_gui_opens_a_window_answers_and_quits_cleanly(bundle: Path, isolation) -> None:  # type: ignore[no-untyped-def]
    screenshot = ROOT / "build" / "smoke" / "kestrel-window.png"
    result = smoke.check_gui(bundle, screenshot, isolation)
    d = result.details
    print(f"\nwindow after {d['window_s']} s, model loaded after {d['model_loaded_s']} s, reply stored "
          f"{d['reply_stored_s']} s after Return, quit in {d['quit_s']} s; screenshot: {d['screenshot']}")
    assert d["reply"].strip()
