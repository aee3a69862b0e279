"""``kestrel gui`` (and ``kestrel`` with no command): open the desktop app."""

from __future__ import annotations

import argparse

from app.cli.errors import CliError


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``gui`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser("gui", help="open the desktop app (the default)")
    parser.add_argument("--model", help="GGUF file to load (default: the model chosen in settings)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the window until it closes; a missing Qt is a one-line error, not a traceback."""
    try:
        from app.ui.application import run as run_app  # noqa: PLC0415 - Qt loads only for the desktop app
    except ImportError as exc:
        raise CliError(f"the desktop app cannot start: {exc}") from exc
    return run_app(args.model)
