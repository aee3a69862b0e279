"""The ``kestrel`` command: the desktop app's companion on the command line.

Every subcommand reports bad input on stderr with a one-line reason and a non-zero
exit status; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from app import __version__

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kestrel",
        description="Kestrel runs language models on your own machine. "
        "With no command it opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"kestrel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("--model", help="GGUF file to load (default: the model chosen in settings)")

    chat = sub.add_parser("chat", help="chat with a model; the answer streams to stdout")
    chat.add_argument("prompt", nargs="?", help="the message (read from stdin when omitted)")
    chat.add_argument("--model", help="GGUF file (default: the model chosen in settings)")
    chat.add_argument("--system", help="system prompt (default: from settings)")
    chat.add_argument("--max-tokens", type=int, help="longest reply in tokens")
    chat.add_argument("--temperature", type=float, help="0 for greedy decoding")
    chat.add_argument("--seed", type=int, help="random seed for reproducible sampling")
    chat.add_argument("--n-ctx", type=int, help="context size in tokens (rounded up to 256)")
    chat.add_argument("--threads", type=int, help="CPU threads (default: automatic)")
    chat.add_argument("--gpu-layers", type=int, help="layers to offload to the GPU (-1: all)")
    chat.add_argument("--turns", type=Path, metavar="FILE.json",
                      help="play a JSON list of user turns as one conversation")
    chat.add_argument("--json", action="store_true",
                      help="after each answer print one JSON line with its speed figures")

    models = sub.add_parser("models", help="list known models with quantization, size and memory fit")
    models.add_argument("--json", action="store_true", help="print one JSON array")

    quant = sub.add_parser("quantize", help="make a smaller copy of an F16/BF16/Q8_0 model")
    quant.add_argument("input", type=Path, metavar="IN.gguf")
    quant.add_argument("--to", required=True, choices=["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"], dest="target")
    quant.add_argument("-o", "--output", type=Path, metavar="OUT.gguf",
                       help="where to write (default: Kestrel's models folder)")
    quant.add_argument("--json", action="store_true", help="print one JSON object at the end")

    comp = sub.add_parser("compare", help="measure quantizations of one model side by side on this machine")
    comp.add_argument("models", nargs="+", type=Path, metavar="MODEL")
    comp.add_argument("--n-ctx", type=int, default=2048)
    comp.add_argument("--max-tokens", type=int, default=64)
    comp.add_argument("--gpu-layers", type=int, default=-1)
    comp.add_argument("--json", action="store_true", help="print one JSON object at the end")

    from app.cli_download import add_parser as add_download_parser  # noqa: PLC0415 - it imports app.cli

    add_download_parser(sub)

    from app.cli_translate import add_parser as add_translate_parser  # noqa: PLC0415 - it imports app.cli

    add_translate_parser(sub)

    from app.cli_summarize import add_parser as add_summarize_parser  # noqa: PLC0415 - it imports app.cli

    add_summarize_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kestrel`` console script."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["_quantize-child"]:  # the quantizer's child process inside a frozen bundle
        from app.llm.quantize import child_main  # noqa: PLC0415

        return child_main(raw[1:])
    args = build_parser().parse_args(raw)
    from app.core.models import ModelNotFound  # noqa: PLC0415
    from app.core.starter import StarterModelMissing  # noqa: PLC0415
    from app.llm.types import EngineError  # noqa: PLC0415

    try:
        if args.command == "chat":
            from app.cli_chat import run_chat  # noqa: PLC0415 - keeps `--help` instant

            return run_chat(args)
        if args.command == "models":
            return run_models(args)
        if args.command == "translate":
            from app.cli_translate import run as run_translate  # noqa: PLC0415

            return run_translate(args)
        if args.command == "quantize":
            return run_quantize(args)
        if args.command == "compare":
            return run_compare(args)
        if args.command == "summarize":
            from app.cli_summarize import run as run_summarize  # noqa: PLC0415 - keeps `--help` instant

            return run_summarize(args)
        if args.command == "download":
            from app.cli_download import run as run_download  # noqa: PLC0415 - keeps `--help` instant

            return run_download(args)
        return run_gui(getattr(args, "model", None))
    except (CliError, EngineError, ModelNotFound, StarterModelMissing) as exc:
        print(f"kestrel: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("kestrel: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def gui_main() -> int:
    """Entry point of the ``kestrel-gui`` launcher (desktop entries use it)."""
    return main(["gui", *sys.argv[1:]])


def run_gui(model: str | None) -> int:
    try:
        from app.ui.application import run  # noqa: PLC0415
    except ImportError as exc:
        raise CliError(f"the desktop app cannot start: {exc}") from exc
    return run(model)


def run_models(args: argparse.Namespace) -> int:
    from app.core.models import list_models  # noqa: PLC0415

    from app.llm.native import gpu_offload_supported  # noqa: PLC0415

    rows = list_models(gpu_capable=gpu_offload_supported())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not rows:
        print("No models yet. Run `kestrel chat` once to set up the starter model.")
        return 0
    _print_table(rows, sys.stdout)
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    import time  # noqa: PLC0415

    from app.core import paths  # noqa: PLC0415
    from app.core.library import Library  # noqa: PLC0415
    from app.llm.quantize import QuantizeError, default_output, quantize  # noqa: PLC0415

    source: Path = args.input
    if not source.is_file():
        raise CliError(f"model file not found: {source}")
    output = args.output or default_output(source, args.target, paths.models_dir())
    if output.exists():
        raise CliError(f"{output} already exists; choose another name with -o")
    stop = threading.Event()
    install_sigint(stop)
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
    Library().add(result.path, "quantized")
    if args.json:
        print(json.dumps({"path": str(result.path), "quant": result.quant, "size_bytes": result.size_bytes,
                          "seconds": round(result.seconds, 3), "source": str(source)}))
    else:
        print(f"{result.path} ({result.quant}, {result.size_bytes / 2**20:,.1f} MiB, {result.seconds:.1f} s)")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from app.core.gguf_info import GGUFError, read_gguf_info  # noqa: PLC0415
    from app.llm.compare import compare  # noqa: PLC0415

    if len(args.models) < 2:
        raise CliError("give at least two model files to compare")
    for path in args.models:
        if not path.is_file():
            raise CliError(f"model file not found: {path}")
        try:
            read_gguf_info(path)
        except GGUFError as exc:
            raise CliError(str(exc)) from exc
    stop = threading.Event()
    install_sigint(stop)
    result = compare(args.models, n_ctx=args.n_ctx, max_tokens=args.max_tokens, n_gpu_layers=args.gpu_layers,
                     stop=stop, report=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    print(f"{'QUANT':8} {'SIZE':>10} {'TTFT':>8} {'PROMPT':>12} {'DECODE':>12} {'MEMORY':>10} {'KL':>8}  FILE")
    for v in result.variants:
        if v.error:
            print(f"{v.quant:8} error: {v.error}")
            continue
        kl = "ref" if v.reference else ("n/a" if v.kl_divergence is None else f"{v.kl_divergence:.4f}")
        print(f"{v.quant:8} {v.size_bytes / 2**20:8.0f} M {v.ttft_s * 1000:6.0f}ms {v.prefill_tps:8.1f} t/s "
              f"{v.decode_tps:8.1f} t/s {v.memory_bytes / 2**20:8.0f} M {kl:>8}  {v.path}")
    print(result.reason)
    return 0


def _print_table(rows: list[dict[str, Any]], out: TextIO) -> None:
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
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] + "\n")


def install_sigint(stop: threading.Event) -> None:
    """First Ctrl+C stops the reply cleanly; a second one interrupts at once."""

    def handler(_signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    sys.exit(main())
