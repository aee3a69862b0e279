"""``kestrel summarize FILE``: a summary of the whole document, every part read.

Bad input (missing, empty, binary, encrypted, damaged, image-only, too large without
``--allow-large``) ends with one line on stderr and exit status 1, never a traceback.
With ``--json`` one JSON object is printed last on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from app.base.settings import Settings
from app.cli.engine import add_endpoint_arguments, model_name, open_engine, parallel_width
from app.cli.errors import EXIT_INTERRUPTED, EXIT_OK, CliError, install_sigint
from app.documents.document import ExtractedDocument, ExtractionError
from app.documents.extract import extract
from app.engines.contract import EngineError
from app.summarize.cache import SummaryCache
from app.summarize.options import LANGS, PRESETS, SummaryOptions
from app.summarize.results import SummaryProgress
from app.summarize.run import summarize

MIN_CTX = 512


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``summarize`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser(
        "summarize", help="summarize a whole document (PDF, DOCX, TXT, Markdown, HTML, RTF)",
        description="Summarize every part of a document; each point says which pages or sections it came from.")
    parser.add_argument("file", type=Path, metavar="FILE", help="the document to summarize")
    parser.add_argument("--model", help="GGUF file (default: the model chosen in settings), "
                        "or with --endpoint the id of a model on that server")
    add_endpoint_arguments(parser, parallel=True)
    parser.add_argument("--preset", choices=PRESETS, default="bullets",
                        help="tldr: a few sentences; bullets: one point per part (default); detailed: overview + parts")
    parser.add_argument("--lang", choices=LANGS, default="auto",
                        help="language of the summary (auto: the document's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the summary and figures")
    parser.add_argument("--n-ctx", type=int, help="context size in tokens (default: from settings)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: automatic)")
    parser.add_argument("--allow-large", action="store_true",
                        help="summarize a very large text file even though it will take hours")
    parser.add_argument("--no-cache", action="store_true", help="ignore and do not store cached chunk summaries")
    parser.set_defaults(run=run)
    return parser


class NoCache(SummaryCache):
    """``--no-cache``: every chunk is summarized again and nothing is stored."""

    def get(self, key: str, name: str) -> str | None:
        return None

    def put(self, key: str, name: str, text: str) -> None:
        return None


def _rough_tokens(characters: int, sample: str) -> int:
    """Tokens without a tokenizer: ~1 per CJK character, ~1 per 4 other characters."""
    cjk = sum(1 for ch in sample if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    share = cjk / len(sample) if sample else 0.0
    return int(characters * (share + (1 - share) / 4))


def _hours(tokens: int, tps: float = 250.0) -> str:
    hours = tokens / tps / 3600
    return f"{hours:,.0f} hours" if hours >= 2 else f"{hours * 60:,.0f} minutes"


def run(args: argparse.Namespace) -> int:
    """Extract, load the model, summarize; raises CliError with a one-line reason on bad input."""
    if args.n_ctx is not None and args.n_ctx < MIN_CTX:
        raise CliError(f"--n-ctx must be at least {MIN_CTX}")
    if args.threads is not None and args.threads < 1:
        raise CliError("--threads must be at least 1")
    return _summarize(args, open_document(args.file, args.allow_large, "summarizing"))


def open_document(file: str, allow_large: bool, doing: str) -> ExtractedDocument:
    """The document in ``file`` (``kestrel summarize``, ``kestrel ask``); one that cannot be read is a CliError.

    A very large one needs ``allow_large`` (it is then a warning): ``doing`` all of it ("summarizing",
    "reading") would take hours on a CPU.
    """
    try:
        document = extract(file)
    except ExtractionError as exc:
        raise CliError(str(exc)) from exc
    except Exception as exc:  # a hostile file must not end in a traceback
        raise CliError(f"{Path(file).name}: the file could not be read ({type(exc).__name__}: {exc})") from exc
    if document.large:
        tokens = _rough_tokens(document.characters, document.sample())
        message = (f"{document.name} is very large ({document.size_bytes / 2**20:,.0f} MB, about {tokens:,} tokens): "
                   f"{doing} all of it would take roughly {_hours(tokens)} at a CPU's ~250 tokens/s")
        if not allow_large:
            raise CliError(message + "; pass --allow-large to go ahead")
        print(f"kestrel: warning: {message}", file=sys.stderr)
    return document


def _summarize(args: argparse.Namespace, document: ExtractedDocument) -> int:
    settings = Settings.load_default()
    tty = sys.stderr.isatty()

    def progress(p: SummaryProgress) -> None:
        if tty and (p.point is not None or not p.delta):
            eta = f", about {p.eta_s:,.0f} s left" if p.eta_s is not None else ""
            sys.stderr.write(f"\r\x1b[K{p.phase} {p.chunk}/{'~' if p.estimated else ''}{p.chunks}{eta}")
            sys.stderr.flush()

    options = SummaryOptions(preset=args.preset, lang=args.lang)
    cache = NoCache() if args.no_cache else SummaryCache()
    with open_engine(settings, args.model, n_ctx=args.n_ctx, n_threads=args.threads,
                     endpoint=args.endpoint, api_key_env=args.api_key_env,
                     parallel=args.parallel) as (engine, loaded):
        stop = threading.Event()
        restore_sigint = install_sigint(stop)
        try:
            result = summarize(engine, document, options, stop=stop, on_progress=progress, cache=cache)
            width = parallel_width(engine)
        except EngineError as exc:
            raise CliError(str(exc)) from exc
        finally:
            restore_sigint()
            if tty:
                sys.stderr.write("\r\x1b[K")
    if args.json:
        line = result.to_json()
        line.update(file=str(args.file), name=document.name, kind=document.kind, pages=document.pages,
                    characters=document.characters, model=model_name(loaded),
                    parallel=width)
        print(json.dumps(line, ensure_ascii=False), flush=True)
    else:
        print(result.summary, flush=True)
    return EXIT_INTERRUPTED if result.cancelled else EXIT_OK
