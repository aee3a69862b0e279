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
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub.utils import httpx

from tests.openai_servers import stop_process

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "packaging" / "build_llama_tools.sh"
HOW_TO_BUILD = "bash packaging/build_llama_tools.sh"
START_S = 60.0  # how long a tool may take to start listening


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


# ---- running them -----------------------------------------------------------------------------
@contextmanager
def run_process(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` with its output in ``log``; terminate it afterwards (kill if it lingers)."""
    with log.open("wb") as output:
        process = subprocess.Popen(list(args), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **(env or {})})
    try:
        yield process
    finally:
        stop_process(process)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until something accepts connections on 127.0.0.1:``port`` (an RPC server)."""
    deadline = time.monotonic() + START_S
    while True:
        assert process.poll() is None, f"the RPC server exited:\n{tail(log)}"
        assert time.monotonic() < deadline, f"the RPC server did not listen within {START_S:g} s:\n{tail(log)}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)


def wait_healthy(process: subprocess.Popen[bytes], root: str, log: Path) -> None:
    """Until llama-server's ``/health`` says ok (its model is loaded)."""
    deadline = time.monotonic() + START_S
    while True:
        assert process.poll() is None, f"llama-server exited:\n{tail(log)}"
        assert time.monotonic() < deadline, f"llama-server was not ready within {START_S:g} s:\n{tail(log)}"
        try:
            answer = httpx.get(f"{root}/health", timeout=1.0, trust_env=False)
            if answer.status_code == 200 and answer.json().get("status") == "ok":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)


def model_id(url: str) -> str:
    """The first model a server lists at ``{url}/models``."""
    listed = httpx.get(f"{url}/models", timeout=5.0, trust_env=False).json()
    return str(listed["data"][0]["id"])
