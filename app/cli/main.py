"""The ``kestrel`` command: the desktop app's companion on the command line.

This module only assembles the parser from each command module's ``add_parser`` and
runs the chosen command's ``run``; with no command the desktop app opens. Every command
reports bad input as one line on stderr and a non-zero exit status (see
:mod:`app.cli.errors`); tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from app import __version__
from app.base.child_flags import ENGINE_CHILD_FLAG, QUANTIZE_CHILD_FLAG
from app.base.messages import one_line
from app.cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, CliError
from app.engines.contract import EngineError

# Each command and the module that declares it, in the order ``kestrel --help`` lists them.
# A command's module is imported only when it runs (or for the full help): the desktop app
# then starts without loading the engines, HTTP clients and document readers of the others.
COMMANDS = {
    "gui": "app.cli.gui",
    "chat": "app.cli.chat",
    "models": "app.cli.library.listing",
    "quantize": "app.cli.library.quantize",
    "compare": "app.cli.library.compare",
    "download": "app.cli.library.download",
    "translate": "app.cli.translate",
    "summarize": "app.cli.summarize",
    "ask": "app.cli.ask",
    "serve": "app.cli.serve",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """``kestrel`` and its subcommands (just ``only`` when given); each one's ``run`` is the ``run`` default."""
    parser = argparse.ArgumentParser(
        prog="kestrel",
        description="Kestrel runs language models on your own machine. "
        "With no command it opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"kestrel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kestrel`` console script."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == [QUANTIZE_CHILD_FLAG]:
        from app.engines.llama import quantize as quantize_child  # noqa: PLC0415 - only in that child
        return quantize_child.child_main(raw[1:])
    if raw[:1] == [ENGINE_CHILD_FLAG]:
        from app.engines.process import child as engine_child  # noqa: PLC0415 - only in that child
        return engine_child.child_main(raw[1:])
    raw = raw or ["gui"]
    args = build_parser(raw[0] if raw[0] in COMMANDS else None).parse_args(raw)
    try:
        status: int = args.run(args)
    except (CliError, EngineError) as exc:
        print(f"kestrel: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("kestrel: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


def gui_main() -> int:
    """Entry point of the ``kestrel-gui`` launcher (desktop entries use it)."""
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
