"""Where llama.cpp's own tools are, once ``packaging/build_llama_tools.sh`` has built them.

The tools (``llama-server``, ``ggml-rpc-server``, ``llama-bench``) are built from the llama.cpp
vendored in the installed llama-cpp-python's sdist and cached by version, flags and machine
outside the checkout. The script itself says where (``--where``), so the cache key is computed
in one place; the version passed to it is the one this interpreter has installed, so tests never
pair the engine with tools from another llama.cpp. ``KESTREL_LLAMA_TOOLS=/folder`` points at a
folder of tools directly.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "packaging" / "build_llama_tools.sh"
HOW_TO_BUILD = "bash packaging/build_llama_tools.sh"


@dataclass(frozen=True)
class LlamaTools:
    """Paths of the built tools; ``bench`` is None when it was not built."""

    folder: Path
    server: Path
    rpc_server: Path
    bench: Path | None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def tools_folder() -> Path | None:
    """The folder the build script uses for this llama-cpp-python version and these flags."""
    override = os.environ.get("KESTREL_LLAMA_TOOLS")
    if override:
        return Path(override)
    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return None
    try:
        done = subprocess.run(["bash", str(SCRIPT), "--where"], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "KESTREL_LLAMA_VERSION": version}, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    return Path(lines[-1]) if lines else None


@functools.lru_cache(maxsize=1)
def llama_tools() -> LlamaTools | None:
    """The built tools, or None when ``llama-server`` or ``ggml-rpc-server`` is missing."""
    folder = tools_folder()
    if folder is None:
        return None
    server, rpc_server, bench = folder / "llama-server", folder / "ggml-rpc-server", folder / "llama-bench"
    if not (_executable(server) and _executable(rpc_server)):
        return None
    return LlamaTools(folder, server, rpc_server, bench if _executable(bench) else None)
