"""The one place that imports llama.cpp's bindings and owns process-wide native state.

Why this exists:
- ``GGML_NO_BACKTRACE`` must be set before the library loads, or a native abort
  starts gdb and hangs the app.
- llama-cpp-python maps ggml's log levels wrongly and hides loading errors when it is
  quiet, so we install our own log callback (kept referenced: a collected ctypes
  callback segfaults) and keep recent lines, so llama.cpp's own reasons
  ("tensor ... data is not within the file bounds") reach the user.
"""

from __future__ import annotations

import collections
import ctypes
import os
import re
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("GGML_NO_BACKTRACE", "1")

# ggml's real levels (ggml.h): NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5.
LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_CONT = 1, 2, 3, 4, 5

class _Native:
    """The process-wide state: the loaded bindings and the log they write into."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lib: ModuleType | None = None
        self.log_callback: Any = None  # the ctypes callback; must stay referenced for the process lifetime
        self.last_level = LOG_INFO
        self.echo_level = int(os.environ.get("KESTREL_LLAMA_LOG", "0") or 0)  # 0: silent; e.g. 3 echoes WARN+


_native = _Native()
_lines: collections.deque[tuple[int, str]] = collections.deque(maxlen=2000)


def _on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    """llama.cpp's log lines, with ggml's continuation lines joined to the line they continue."""
    if level == LOG_CONT:
        level = _native.last_level
        continuing = True
    else:
        _native.last_level = level
        continuing = False
    if _native.echo_level and level >= _native.echo_level:
        os.write(2, text or b"")
    if level <= LOG_DEBUG:
        return  # debug output is thousands of lines per load; keep the buffer for what matters
    message = text.decode("utf-8", errors="replace") if text else ""
    if continuing and _lines:
        old_level, old = _lines.pop()
        _lines.append((old_level, old + message))
    else:
        _lines.append((level, message))


def lib() -> ModuleType:
    """Import llama_cpp once, install our logger and initialise the backends."""
    with _native.lock:
        if _native.lib is not None:
            return _native.lib
        import llama_cpp  # noqa: PLC0415 - deliberately late: env must be set first

        _native.log_callback = llama_cpp.llama_log_callback(_on_log)
        llama_cpp.llama_log_set(_native.log_callback, ctypes.c_void_p(0))
        _load_backend_modules(llama_cpp)
        llama_cpp.llama_backend_init()
        _native.lib = llama_cpp
        return llama_cpp


def _load_backend_modules(llama_cpp: ModuleType) -> None:
    """Register ggml's backends when llama.cpp was built with ``GGML_BACKEND_DL`` (installers).

    Such a build links no backend in: each one (the CPU in several variants, CUDA, Vulkan...)
    is a module that ggml loads on request, picking the best CPU variant for this processor.
    llama-cpp-python never asks, so we do, from beside libllama (an installer bundle) or from
    the ``bin`` folder a pip install puts them in. A default build has its backends already.
    """
    native = llama_cpp.llama_cpp._lib  # dlsym through libllama reaches the libggml it loaded
    try:
        count, load_all = native.ggml_backend_reg_count, native.ggml_backend_load_all_from_path
    except AttributeError:
        return
    count.restype = ctypes.c_size_t
    count.argtypes = []
    if count() > 0:
        return
    load_all.restype = None
    load_all.argtypes = [ctypes.c_char_p]
    package = Path(str(llama_cpp.__file__)).resolve().parent
    for folder in (package / "lib", package.parent / "bin"):
        if folder.is_dir():
            load_all(os.fsencode(folder))
            if count() > 0:
                return


def clear_log() -> None:
    """Forget earlier lines so the next call's messages can be read alone."""
    _lines.clear()


def log_lines(min_level: int = LOG_DEBUG) -> list[str]:
    """Log lines seen since the last ``clear_log``, at or above ``min_level``."""
    return [text.rstrip("\n") for level, text in list(_lines) if level >= min_level and text.strip()]


def failure_reason() -> str:
    """The most telling error lines llama.cpp printed, joined for a user message."""
    errors = log_lines(LOG_ERROR)
    if not errors:
        errors = log_lines(LOG_WARN)
    # drop the generic wrapper lines, keep the cause
    useful = [e.split(": ", 1)[-1] if ": " in e else e for e in errors]
    seen: list[str] = []
    for line in useful:
        if line and line not in seen:
            seen.append(line)
    return "; ".join(seen[-3:])


_OFFLOAD_RE = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_DEVICE_RE = re.compile(r"using device (\w+?)\d* \(")


def offload_from_log() -> tuple[int, str | None]:
    """Layers offloaded and the GPU backend name, read from the load log."""
    layers, backend = 0, None
    for line in log_lines(LOG_DEBUG):
        match = _OFFLOAD_RE.search(line)
        if match:
            layers = int(match.group(1))
        device = _DEVICE_RE.search(line)
        if device and backend is None:
            backend = device.group(1)
    return layers, backend


def gpu_offload_supported() -> bool:
    """Whether this build of llama.cpp can offload layers to a GPU at all."""
    return bool(lib().llama_supports_gpu_offload())


def system_info() -> str:
    """llama.cpp's own summary of the CPU features and backends it was built with."""
    raw = lib().llama_print_system_info()
    return raw.decode("utf-8", errors="replace") if raw else ""
