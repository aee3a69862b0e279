"""``kestrel download REPO FILENAME``: fetch one GGUF file from the Hugging Face hub.

Exit 0 only for a complete file whose SHA-256 matches the hub's LFS metadata and that is now
in the library. Ctrl+C stops and keeps the ``.part`` (exit 130); running the same command
again resumes it. A file that fails verification is deleted (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from app.cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, CliError, install_sigint

if TYPE_CHECKING:
    from app.models.download import DownloadProgress

_PLAIN_INTERVAL = 2.0  # seconds between progress lines when stderr is a file or a pipe


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``download`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser(
        "download",
        help="download a GGUF model from the Hugging Face hub (resumable, SHA-256 verified)",
        description="Download one GGUF file, verify its SHA-256 against the hub and add it to "
        "the library. An interrupted download resumes when the command is run again.",
    )
    parser.add_argument("repo", metavar="REPO", help="repository id, e.g. bartowski/Llama-3.2-1B-Instruct-GGUF")
    parser.add_argument("filename", metavar="FILENAME", help="the .gguf file in that repository")
    parser.add_argument("--endpoint", metavar="URL",
                        help="hub address (default: https://huggingface.co, or HF_ENDPOINT)")
    parser.add_argument("--revision", default="main", metavar="REV",
                        help="branch, tag or commit (default: main)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with the result on stdout")
    parser.set_defaults(run=run)
    return parser


class _Reporter:
    """Progress on stderr: one rewritten line on a terminal, a line every ~2 s otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.last_print = 0.0
        self.last_phase = ""
        self.open_line = False

    def __call__(self, progress: DownloadProgress) -> None:
        text = f"{progress.filename}: {progress.line()}"
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
            self.open_line = True
        else:
            now = time.monotonic()
            if progress.phase == self.last_phase and progress.phase != "retrying" \
                    and now - self.last_print < _PLAIN_INTERVAL:
                return
            self.last_print, self.last_phase = now, progress.phase
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False


def run(args: argparse.Namespace) -> int:
    """Run ``kestrel download``; raises CliError for a one-line failure (exit 1)."""
    from app.models.download import (  # noqa: PLC0415 - huggingface_hub takes a third of a second to import
        DownloadCancelled,
        DownloadError,
        download_file,
    )

    stop = threading.Event()
    reporter = _Reporter(sys.stderr)
    restore = install_sigint(stop)  # the first Ctrl+C stops cleanly and keeps the .part
    try:
        result = download_file(args.repo, args.filename, endpoint=args.endpoint,
                               revision=args.revision, progress=reporter, stop=stop)
    except DownloadCancelled as exc:
        reporter.finish()
        print(f"kestrel: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DownloadError as exc:
        reporter.finish()
        raise CliError(str(exc)) from exc
    finally:
        restore()
    reporter.finish()
    resumed = f", resumed from {result.resumed_from} bytes" if result.resumed_from else ""
    print(f"kestrel: {result.filename}: SHA-256 verified ({result.sha256}){resumed}; "
          "added to the library", file=sys.stderr)
    if args.json:
        print(json.dumps({
            "path": str(result.path),
            "repo": result.repo_id,
            "filename": result.filename,
            "revision": result.revision,
            "size_bytes": result.size,
            "sha256": result.sha256,
            "seconds": round(result.seconds, 3),
            "resumed_from": result.resumed_from,
            "bytes_transferred": result.bytes_transferred,
        }, ensure_ascii=False))
    else:
        print(result.path)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.cli.library.download download ...``: the subcommand on its own, same conventions."""
    parser = argparse.ArgumentParser(prog="kestrel")
    add_parser(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CliError as exc:
        print(f"kestrel: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("kestrel: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
