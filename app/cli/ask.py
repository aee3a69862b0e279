"""``kestrel ask FILE "QUESTION"``: a question answered from the whole document, every part read.

Bad input (missing, empty, binary, encrypted, damaged, image-only, too large without
``--allow-large``, an empty question) ends with one line on stderr and exit status 1,
never a traceback. With ``--json`` one JSON object is printed last on stdout: it names
every part read (index, pages or sections, whether it had the answer) and the sources
of the answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from app.ask.render import render_answer
from app.ask.results import AskOptions
from app.ask.run import ask
from app.base.settings import Settings
from app.cli.engine import add_endpoint_arguments, model_name, open_engine
from app.cli.errors import EXIT_INTERRUPTED, EXIT_OK, CliError, install_sigint
from app.cli.summarize import MIN_CTX, open_document
from app.documents.document import ExtractedDocument
from app.engines.contract import EngineError
from app.summarize.results import SummaryProgress


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``ask`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser(
        "ask", help="answer a question from a whole document (PDF, DOCX, TXT, Markdown, HTML, RTF)",
        description="Answer a question from a document. Every part is read (not a few retrieved ones); "
        "the answer says which pages or sections it came from.")
    parser.add_argument("file", type=Path, metavar="FILE", help="the document to read")
    parser.add_argument("question", metavar="QUESTION", help="the question to answer from it")
    parser.add_argument("--model", help="GGUF file (default: the model chosen in settings), "
                        "or with --endpoint the id of a model on that server")
    add_endpoint_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object: the answer, every part read and the answer's sources")
    parser.add_argument("--n-ctx", type=int, help="context size in tokens (default: from settings)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: automatic)")
    parser.add_argument("--max-tokens", type=int, default=AskOptions().answer_tokens,
                        help="longest answer in tokens (default: %(default)s)")
    parser.add_argument("--allow-large", action="store_true",
                        help="read a very large text file even though it will take hours")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Extract, load the model, ask; raises CliError with a one-line reason on bad input."""
    question = " ".join(str(args.question).split())
    if not question:
        raise CliError("the question is empty")
    if args.n_ctx is not None and args.n_ctx < MIN_CTX:
        raise CliError(f"--n-ctx must be at least {MIN_CTX}")
    if args.threads is not None and args.threads < 1:
        raise CliError("--threads must be at least 1")
    if args.max_tokens < 8:
        raise CliError("--max-tokens must be at least 8")
    return _ask(args, open_document(args.file, args.allow_large, "reading"), question)


def _ask(args: argparse.Namespace, document: ExtractedDocument, question: str) -> int:
    settings = Settings.load_default()
    tty = sys.stderr.isatty()

    def progress(p: SummaryProgress) -> None:
        if tty and (p.point is not None or not p.delta):
            eta = f", about {p.eta_s:,.0f} s left" if p.eta_s is not None else ""
            where = f"part {p.chunk}/{'~' if p.estimated else ''}{p.chunks}" if p.phase == "map" else p.phase
            sys.stderr.write(f"\r\x1b[K{where}{eta}")
            sys.stderr.flush()

    options = AskOptions(answer_tokens=args.max_tokens)
    with open_engine(settings, args.model, n_ctx=args.n_ctx, n_threads=args.threads,
                     endpoint=args.endpoint, api_key_env=args.api_key_env) as (engine, loaded):
        stop = threading.Event()
        restore_sigint = install_sigint(stop)
        try:
            result = ask(engine, document, question, options, stop=stop, on_progress=progress)
        except EngineError as exc:
            raise CliError(str(exc)) from exc
        finally:
            restore_sigint()
            if tty:
                sys.stderr.write("\r\x1b[K")
    if args.json:
        line = result.to_json()
        line.update(file=str(args.file), name=document.name, kind=document.kind, pages=document.pages,
                    characters=document.characters, model=model_name(loaded))
        print(json.dumps(line, ensure_ascii=False), flush=True)
    else:
        print(render_answer(result), end="", flush=True)
    return EXIT_INTERRUPTED if result.cancelled else EXIT_OK
