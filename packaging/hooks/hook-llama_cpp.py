"""PyInstaller hook for llama-cpp-python.

llama_cpp loads its native libraries with ctypes from ``llama_cpp/lib`` beside its own
``__file__``, so PyInstaller's import analysis never sees them. Collect them into the same
relative folder, plus the package's data files (a Metal shader, when one is not embedded).

A ``GGML_BACKEND_DL`` build (the installers': ``-DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON``)
has its backends as separate modules (``libggml-cpu-haswell.so``, ``ggml-cuda.dll``, ...) that
llama-cpp-python 0.3.x installs into ``site-packages/bin``; they go to ``llama_cpp/lib`` in the
bundle, where app/engines/llama/native.py loads them. The Sapphire Rapids (AMX) CPU variant is left
out unless KESTREL_KEEP_AMX=1: ggml picks it wherever CPUID reports AMX, and on VMs that do
not hand AMX state to guests it dies with SIGILL (seen on this project's build machine).

On Windows llama.cpp's CPU backend links the OpenMP runtime (``vcomp140.dll`` with MSVC,
``libgomp-1.dll`` with MinGW), which is not part of a bare Windows: ship it too.
"""

from __future__ import annotations

import ctypes.util
import glob
import os
import sys
from pathlib import Path

from PyInstaller.compat import is_win
from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs, get_package_paths

# 'lib*.so' on Linux (the names llama_cpp asks for), '*.dylib' on macOS, '*.dll' on Windows.
binaries = collect_dynamic_libs("llama_cpp")


def _backend_modules() -> list[tuple[str, str]]:
    _, pkg_dir = get_package_paths("llama_cpp")
    bin_dir = Path(pkg_dir).parent / "bin"
    patterns = ("libggml-*.so", "libggml-*.dylib", "ggml-*.dll")
    found = sorted({p for pattern in patterns for p in bin_dir.glob(pattern)}) if bin_dir.is_dir() else []
    keep_amx = os.environ.get("KESTREL_KEEP_AMX") == "1"
    modules = []
    for path in found:
        if "sapphirerapids" in path.name and not keep_amx:
            print(f"hook-llama_cpp: leaving out {path.name} (AMX; set KESTREL_KEEP_AMX=1 to ship it)")
            continue
        modules.append((str(path), "llama_cpp/lib"))
    return modules


binaries += _backend_modules()

# Everything else that is not Python or a library (py.typed, ggml-metal.metal / default.metallib).
datas = collect_data_files(
    "llama_cpp",
    excludes=["**/*.so", "**/*.so.*", "**/*.dll", "**/*.dylib", "**/*.lib", "**/*.exp", "server/**"],
)

# The OpenAI-compatible server pulls in fastapi/uvicorn; Kestrel never imports it.
excludedimports = ["llama_cpp.server"]

_OPENMP_DLLS = ("vcomp140.dll", "libgomp-1.dll", "libomp140.x86_64.dll", "libiomp5md.dll")


def _find_openmp_dlls() -> list[tuple[str, str]]:
    _, pkg_dir = get_package_paths("llama_cpp")
    lib_dir = Path(pkg_dir) / "lib"
    found: list[tuple[str, str]] = []
    # A Visual Studio developer shell names the redistributable folder (VCToolsRedistDir).
    redist = os.environ.get("VCToolsRedistDir", "")  # noqa: SIM112 - the variable Visual Studio sets
    redist_dirs = [Path(p) for p in glob.glob(os.path.join(redist, "x64", "Microsoft.VC*.OpenMP"))] if redist else []
    search = [lib_dir, *redist_dirs, Path(sys.base_prefix), Path(sys.base_prefix) / "DLLs",
              *(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p),
              Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32"]  # noqa: SIM112 - Windows spells it so
    for name in _OPENMP_DLLS:
        for folder in search:
            candidate = folder / name
            if candidate.is_file():
                found.append((str(candidate), "llama_cpp/lib"))
                break
        else:
            located = ctypes.util.find_library(name.removesuffix(".dll"))
            if located and os.path.isfile(located):
                found.append((located, "llama_cpp/lib"))
    return found


if is_win:
    _omp = _find_openmp_dlls()
    if not any(Path(src).name.lower() in ("vcomp140.dll", "libgomp-1.dll") for src, _ in _omp):
        # Not fatal: a llama.cpp built with -DGGML_OPENMP=OFF needs none. Say it loudly anyway.
        print("hook-llama_cpp: WARNING: no OpenMP runtime DLL found (vcomp140.dll / libgomp-1.dll); "
              "install the Visual C++ Redistributable on the build machine if llama.dll needs it")
    binaries += _omp
