"""Quantizing a GGUF with llama.cpp's own quantizer, cancellable, with progress.

``llama_model_quantize`` has no progress or cancel hook, so it runs in a child process
(no llama.cpp state is shared with the app): Cancel kills the child, and progress is
the output file's growth against the size the target type will have. The child writes to
``OUT.partial`` and only a finished, readable result is renamed to ``OUT``: llama.cpp can
leave a partial file behind on failure, which we always delete.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.base.child_flags import QUANTIZE_CHILD_FLAG
from app.gguf.reader import FTYPE_NAMES, GGUFError, GGUFInfo, read_gguf_info

TARGETS: dict[str, int] = {"Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18, "Q8_0": 7}
# average bits per weight of the result, for the progress estimate (llama.cpp's figures)
_BPW = {"Q4_K_M": 4.89, "Q5_K_M": 5.70, "Q6_K": 6.56, "Q8_0": 8.5}
SOURCES = {"F32", "F16", "BF16", "Q8_0"}


class QuantizeError(RuntimeError):
    """Quantization could not be done; the message says why."""


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    quant: str
    size_bytes: int
    seconds: float


def default_output(source: Path, target: str, folder: Path) -> Path:
    stem = source.stem
    for name in FTYPE_NAMES.values():
        for sep in ("-", ".", "_"):
            if stem.lower().endswith(f"{sep}{name.lower()}"):
                stem = stem[: -len(name) - 1]
    return folder / f"{stem}-{target}.gguf"


def check_source(info: GGUFInfo, target: str) -> None:
    """Refuse what llama.cpp would quantize badly or not at all."""
    if target not in TARGETS:
        raise QuantizeError(f"unknown target type {target!r}; choose one of {', '.join(TARGETS)}")
    if info.quant not in SOURCES:
        raise QuantizeError(
            f"{info.path.name} is already {info.quant}; quantize from an F16, BF16, F32 or Q8_0 file "
            "(re-quantizing a quantized model loses quality)")
    if info.quant == target:
        raise QuantizeError(f"{info.path.name} is already {target}")


def _expected_size(info: GGUFInfo, target: str) -> int:
    return int(info.params * _BPW[target] / 8) + info.data_offset


CHILD_FLAG = QUANTIZE_CHILD_FLAG


def child_main(argv: list[str]) -> int:
    """The child process: quantize, print llama.cpp's reason on failure, exit non-zero."""
    source, output, ftype, threads, requantize = argv
    os.environ.setdefault("GGML_NO_BACKTRACE", "1")
    from app.engines.llama import native  # noqa: PLC0415

    ll = native.lib()
    params = ll.llama_model_quantize_default_params()
    params.ftype = int(ftype)
    params.nthread = int(threads)
    params.allow_requantize = requantize == "1"
    rc = ll.llama_model_quantize(source.encode(), output.encode(), params)
    if rc != 0:
        print(native.failure_reason() or f"llama.cpp returned {rc} and gave no reason", file=sys.stderr)
        return 1
    return 0


def _child_command(args: list[str]) -> list[str]:
    """How to start the child: the bundle's own executable when frozen, else this module."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG, *args]
    return [sys.executable, "-m", "app.engines.llama.quantize", CHILD_FLAG, *args]


def quantize(
    source: Path,
    target: str,
    output: Path,
    *,
    threads: int = 0,
    progress: Callable[[float], None] | None = None,
    stop: threading.Event | None = None,
) -> QuantizeResult:
    """Quantize ``source`` to ``target`` into ``output``; raises QuantizeError, cleans up on failure."""
    try:
        info = read_gguf_info(source)
    except GGUFError as exc:
        raise QuantizeError(str(exc)) from exc
    check_source(info, target)
    if output.resolve() == Path(source).resolve():
        raise QuantizeError("the output must be a different file from the input")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.unlink(missing_ok=True)
    expected = _expected_size(info, target)
    started = time.perf_counter()
    args = [str(source), str(partial), str(TARGETS[target]), str(threads or os.cpu_count() or 1),
            "1" if info.quant == "Q8_0" else "0"]
    child = subprocess.Popen(_child_command(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "GGML_NO_BACKTRACE": "1"})
    try:
        while child.poll() is None:
            try:
                child.wait(0.2)
            except subprocess.TimeoutExpired:
                pass
            if stop is not None and stop.is_set():
                child.kill()
                child.wait(5)
                raise QuantizeError("quantization cancelled")
            if progress is not None and partial.exists():
                progress(min(0.99, partial.stat().st_size / expected))
        if child.returncode != 0:
            reason = (child.stderr.read() if child.stderr else "").strip().splitlines()
            raise QuantizeError(f"quantizing {Path(source).name} to {target} failed: "
                                f"{reason[-1] if reason else f'exit code {child.returncode}'}")
        try:
            result_info = read_gguf_info(partial)
        except GGUFError as exc:
            raise QuantizeError(f"the quantized file is not readable: {exc.reason}") from exc
        if result_info.quant != target:
            raise QuantizeError(f"llama.cpp produced {result_info.quant}, not {target}")
        os.replace(partial, output)
    except BaseException:
        if child.poll() is None:
            child.kill()
            child.wait(5)
        partial.unlink(missing_ok=True)
        raise
    finally:
        if child.stderr:
            child.stderr.close()
    if progress is not None:
        progress(1.0)
    return QuantizeResult(output, target, output.stat().st_size, time.perf_counter() - started)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == CHILD_FLAG:
        sys.exit(child_main(sys.argv[2:]))
    sys.exit("usage: kestrel quantize IN.gguf --to TYPE")
