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
from typing import Any

from app.cli import EXIT_INTERRUPTED, CliError, install_sigint

PRESET_CHOICES = ("tldr", "bullets", "detailed")  # kept here too: `kestrel --help` stays instant
LANG_CHOICES = ("auto", "en", "zh")
MIN_CTX = 512


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``summarize`` on the ``kestrel`` parser's subcommands."""
    parser = subparsers.add_parser(
        "summarize", help="summarize a whole document (PDF, DOCX, TXT, Markdown, HTML, RTF)",
        description="Summarize every part of a document; each point says which pages or sections it came from.")
    parser.add_argument("file", type=Path, metavar="FILE", help="the document to summarize")
    parser.add_argument("--model", help="GGUF file (default: the model chosen in settings)")
    parser.add_argument("--preset", choices=PRESET_CHOICES, default="bullets",
                        help="tldr: a few sentences; bullets: one point per part (default); detailed: overview + parts")
    parser.add_argument("--lang", choices=LANG_CHOICES, default="auto",
                        help="language of the summary (auto: the document's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the summary and figures")
    parser.add_argument("--n-ctx", type=int, help="context size in tokens (default: from settings)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: automatic)")
    parser.add_argument("--allow-large", action="store_true",
                        help="summarize a very large text file even though it will take hours")
    parser.add_argument("--no-cache", action="store_true", help="ignore and do not store cached chunk summaries")
    parser.set_defaults(run=run)
    return parser


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
    from app.core.extract import ExtractionError, extract  # noqa: PLC0415

    if args.n_ctx is not None and args.n_ctx < MIN_CTX:
        raise CliError(f"--n-ctx must be at least {MIN_CTX}")
    if args.threads is not None and args.threads < 1:
        raise CliError("--threads must be at least 1")
    try:
        document = extract(args.file)
    except ExtractionError as exc:
        raise CliError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - a hostile file must not end in a traceback
        raise CliError(f"{Path(args.file).name}: the file could not be read ({type(exc).__name__}: {exc})") from exc
    if document.large:
        tokens = _rough_tokens(document.characters, document.sample())
        message = (f"{document.name} is very large ({document.size_bytes / 2**20:,.0f} MB, about {tokens:,} tokens): "
                   f"summarizing all of it would take roughly {_hours(tokens)} at a CPU's ~250 tokens/s")
        if not args.allow_large:
            raise CliError(message + "; pass --allow-large to go ahead")
        print(f"kestrel: warning: {message}", file=sys.stderr)
    return _summarize(args, document)


def _summarize(args: argparse.Namespace, document: Any) -> int:
    from app.core.models import ModelNotFound, resolve_model_path  # noqa: PLC0415
    from app.core.settings import Settings  # noqa: PLC0415
    from app.core.starter import StarterModelMissing  # noqa: PLC0415
    from app.core.summarize import SummaryCache, SummaryOptions, SummaryProgress, summarize  # noqa: PLC0415
    from app.llm.engine import LlamaEngine  # noqa: PLC0415
    from app.llm.types import EngineError, LoadParams  # noqa: PLC0415

    settings = Settings.load_default()
    try:
        model_path = resolve_model_path(args.model, settings)
    except (ModelNotFound, StarterModelMissing) as exc:
        raise CliError(str(exc)) from exc
    engine = LlamaEngine()
    try:
        engine.load(LoadParams(
            model_path=model_path, n_ctx=args.n_ctx or settings.get_int("n_ctx"),
            n_threads=args.threads or settings.get_int("n_threads") or None,
            n_gpu_layers=settings.get_int("n_gpu_layers"),
            flash_attn={"auto": None, "on": True, "off": False}[settings.get_str("flash_attn")],
        ))
    except EngineError as exc:
        raise CliError(str(exc)) from exc
    stop = threading.Event()
    install_sigint(stop)
    tty = sys.stderr.isatty()

    def progress(p: SummaryProgress) -> None:
        if tty and (p.point is not None or not p.delta):
            eta = f", about {p.eta_s:,.0f} s left" if p.eta_s is not None else ""
            sys.stderr.write(f"\r\x1b[K{p.phase} {p.chunk}/{'~' if p.estimated else ''}{p.chunks}{eta}")
            sys.stderr.flush()

    options = SummaryOptions(preset=args.preset, lang=args.lang)
    cache = _no_cache() if args.no_cache else SummaryCache()
    try:
        result = summarize(engine, document, options, stop=stop, on_progress=progress, cache=cache)
    except EngineError as exc:
        raise CliError(str(exc)) from exc
    finally:
        if tty:
            sys.stderr.write("\r\x1b[K")
        engine.unload()
    if args.json:
        line = result.to_json()
        line.update(file=str(args.file), name=document.name, kind=document.kind, pages=document.pages,
                    characters=document.characters, model=str(model_path))
        print(json.dumps(line, ensure_ascii=False), flush=True)
    else:
        print(result.summary, flush=True)
    return EXIT_INTERRUPTED if result.cancelled else 0


def _no_cache() -> Any:
    """``--no-cache``: every chunk is summarized again and nothing is stored."""
    from app.core.summarize import SummaryCache  # noqa: PLC0415

    class NoCache(SummaryCache):
        def get(self, key: str, name: str) -> str | None:
            return None

        def put(self, key: str, name: str, text: str) -> None:
            return None

    return NoCache()
