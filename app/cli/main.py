"""The ``kestrel`` command: the desktop app's companion on the command line.

This module only assembles the parser from each command module's ``add_parser`` and
runs the chosen command's ``run``; with no command the desktop app opens. Every command
reports bad input as one line on stderr and a non-zero exit status (see
:mod:`app.cli.errors`); tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app import __version__
from app.cli import chat, gui, serve, summarize, translate
from app.cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, CliError
from app.cli.library import compare, download, quantize
from app.cli.library import listing as models
from app.engines.contract import EngineError
from app.engines.llama import quantize as quantize_child
from app.engines.process import child as engine_child

# In the order ``kestrel --help`` lists them.
COMMANDS = (gui.add_parser, chat.add_parser, models.add_parser, quantize.add_parser, compare.add_parser,
            download.add_parser, translate.add_parser, summarize.add_parser, serve.add_parser)


def build_parser() -> argparse.ArgumentParser:
    """``kestrel`` and every subcommand; each one's ``run`` is stored as the ``run`` default."""
    parser = argparse.ArgumentParser(
        prog="kestrel",
        description="Kestrel runs language models on your own machine. "
        "With no command it opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"kestrel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_parser in COMMANDS:
        add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kestrel`` console script."""
    raw = list(sys.argv[1:] if argv is None else argv)
    # the frozen bundle's executable is also its own child processes
    if raw[:1] == [quantize_child.CHILD_FLAG]:
        return quantize_child.child_main(raw[1:])
    if raw[:1] == [engine_child.CHILD_FLAG]:
        return engine_child.child_main(raw[1:])
    args = build_parser().parse_args(raw or ["gui"])
    try:
        status: int = args.run(args)
    except (CliError, EngineError) as exc:
        print(f"kestrel: error: {exc}", file=sys.stderr)
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
