"""``kestrel quantize``: a smaller copy of an F16/BF16/Q8_0 model, added to the library."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from app.base import paths
from app.base.files import NotAFileError, regular_file
from app.cli.errors import EXIT_OK, CliError, install_sigint
from app.engines.llama.quantize import QuantizeError, default_output, quantize
from app.models.library import Library

TARGETS = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``quantize`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser("quantize", help="make a smaller copy of an F16/BF16/Q8_0 model")
    parser.add_argument("input", type=Path, metavar="IN.gguf")
    parser.add_argument("--to", required=True, choices=TARGETS, dest="target")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT.gguf",
                        help="where to write (default: Kestrel's models folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Quantize with progress on stderr about once a second; never writes over an existing file."""
    source: Path = args.input
    try:
        regular_file(source, "model file")  # a pipe or a folder is named as such, never opened
    except NotAFileError as exc:
        raise CliError(f"model file not found: {source}" if exc.missing else str(exc)) from exc
    output = args.output or default_output(source, args.target, paths.models_dir())
    if output.exists():
        raise CliError(f"{output} already exists; choose another name with -o")
    stop = threading.Event()
    restore_sigint = install_sigint(stop)
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or fraction >= 1.0:
            last[0] = now
            print(f"quantizing to {args.target}: {fraction:5.0%}", file=sys.stderr, flush=True)

    try:
        result = quantize(source, args.target, output, progress=progress, stop=stop)
    except QuantizeError as exc:
        raise CliError(str(exc)) from exc
    finally:
        restore_sigint()
    Library().add(result.path, "quantized")
    if args.json:
        print(json.dumps({"path": str(result.path), "quant": result.quant, "size_bytes": result.size_bytes,
                          "seconds": round(result.seconds, 3), "source": str(source)}))
    else:
        print(f"{result.path} ({result.quant}, {result.size_bytes / 2**20:,.1f} MiB, {result.seconds:.1f} s)")
    return EXIT_OK
