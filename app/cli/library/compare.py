"""``kestrel compare``: quantizations of one model measured side by side on this machine."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from app.cli.engine import new_engine
from app.cli.errors import EXIT_OK, CliError, install_sigint
from app.engines.contract import LocalModel
from app.gguf.reader import GGUFError, read_gguf_info
from app.models.compare import VariantResult, compare


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``compare`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser("compare", help="measure quantizations of one model side by side on this machine")
    parser.add_argument("models", nargs="+", type=Path, metavar="MODEL")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--gpu-layers", type=int, default=-1)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Check every file first, then measure them one after another on one engine."""
    paths: list[Path] = args.models
    if len(paths) < 2:
        raise CliError("give at least two model files to compare")
    for path in paths:
        if not path.is_file():
            raise CliError(f"model file not found: {path}")
        try:
            read_gguf_info(path)
        except GGUFError as exc:
            raise CliError(str(exc)) from exc
    stop = threading.Event()
    restore_sigint = install_sigint(stop)
    try:
        result = compare(new_engine(LocalModel(path=paths[0])), paths, n_ctx=args.n_ctx, max_tokens=args.max_tokens,
                         n_gpu_layers=args.gpu_layers, stop=stop,
                         report=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        restore_sigint()
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return EXIT_OK
    print(f"{'QUANT':8} {'SIZE':>10} {'TTFT':>8} {'PROMPT':>12} {'DECODE':>12} {'MEMORY':>10} {'KL':>8}  FILE")
    for variant in result.variants:
        print(_row(variant))
    print(result.reason)
    return EXIT_OK


def _row(v: VariantResult) -> str:
    if v.error:
        return f"{v.quant:8} error: {v.error}"
    kl = "ref" if v.reference else ("n/a" if v.kl_divergence is None else f"{v.kl_divergence:.4f}")
    return (f"{v.quant:8} {v.size_bytes / 2**20:8.0f} M {_figure(v.ttft_s, '{:6.0f}', 1000):>6}ms "
            f"{_figure(v.prefill_tps, '{:8.1f}'):>8} t/s {_figure(v.decode_tps, '{:8.1f}'):>8} t/s "
            f"{v.memory_bytes / 2**20:8.0f} M {kl:>8}  {v.path}")


def _figure(value: float | None, spec: str, scale: float = 1.0) -> str:
    """A measured figure, or "?" when the engine could not measure it."""
    return "?" if value is None else spec.format(value * scale)
