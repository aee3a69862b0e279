"""``kestrel models``: every known model with its quantization, size and memory fit."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from app.cli.errors import EXIT_OK
from app.engines.llama.native import gpu_offload_supported
from app.models.selection import list_models


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``models`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser("models", help="list known models with quantization, size and memory fit")
    parser.add_argument("--json", action="store_true", help="print one JSON array")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the table (or one JSON array); the starter model is set up on first use."""
    rows = list_models(gpu_capable=gpu_offload_supported())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    elif not rows:
        print("No models yet. Run `kestrel chat` once to set up the starter model.")
    else:
        print_table(rows, sys.stdout)
    return EXIT_OK


def print_table(rows: list[dict[str, Any]], out: TextIO) -> None:
    """Aligned columns; the path comes last and unpadded, so long paths do not widen the rest."""
    header = ("", "NAME", "QUANT", "SIZE", "PARAMS", "CONTEXT", "TEMPLATE", "RAM (est.)", "FIT", "PATH")
    table = [header]
    for row in rows:
        table.append((
            "*" if row["default"] else "",
            row["name"],
            row["quant"],
            f"{row['size_bytes'] / 2**20:,.0f} MiB",
            f"{row['params'] / 1e6:,.0f} M" if row["params"] else "?",
            str(row["n_ctx_train"] or "?"),
            "yes" if row["chat_template"] else "no",
            f"{row['est_ram_bytes'] / 2**20:,.0f} MiB" if row["est_ram_bytes"] else "?",
            row["fit"] or "?",
            row["path"] + (f"  ({row['problem']})" if row["problem"] else ""),
        ))
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    for r in table:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] + "\n")
