"""``kestrel translate``: text or a TXT/Markdown/DOCX/HTML file, offline, segment by segment.

A positional argument that names an existing file is a document; anything else is the
text itself ("-" reads stdin). Documents are written next to the input with the target
language before the extension (``report.docx`` -> ``report.fr.docx``), never over it;
text goes to stdout. Bad input is one line on stderr and exit status 1 (via CliError).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from app.cli import EXIT_INTERRUPTED, CliError, install_sigint

# Names that look like a file the user meant (a typo must not be translated as text).
_DOCUMENT_LIKE = (".txt", ".text", ".md", ".markdown", ".docx", ".doc", ".html", ".htm", ".xhtml", ".pdf",
                  ".rtf", ".odt", ".epub", ".json", ".csv")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``translate`` on the main parser's subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "translate", help="translate text or a TXT, Markdown, DOCX or HTML file, offline",
        description="Translate text, or a document keeping its structure, with a local model.")
    parser.add_argument("input", metavar="TEXT|FILE", help="the text, a file to translate, or - for stdin")
    parser.add_argument("--to", required=True, metavar="LANG", help="target language code (fr, de, zh-Hans, ...)")
    parser.add_argument("--from", dest="source", default="auto", metavar="LANG",
                        help="source language code (default: detect it)")
    parser.add_argument("--glossary", type=Path, metavar="FILE",
                        help="JSON or TSV list of terms with fixed translations (empty: keep as is)")
    parser.add_argument("--model", help="GGUF file (default: the model chosen in settings)")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT",
                        help="where to write the translation (default for files: NAME.LANG.EXT beside the input)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with segment counts, languages and timing last")
    return parser


def make_engine() -> Any:
    """The real engine (tests replace this function with a fake one)."""
    from app.llm.engine import LlamaEngine  # noqa: PLC0415 - keeps `kestrel --help` instant

    return LlamaEngine()


def default_output(path: Path, lang: str) -> Path:
    """``report.docx`` -> ``report.fr.docx`` in the same folder."""
    return path.with_name(f"{path.stem}.{lang}{path.suffix}")


def _language(code: str, option: str) -> Any:
    from app.core.languages import language_codes, resolve_language  # noqa: PLC0415

    lang = resolve_language(code)
    if lang is None:
        raise CliError(f"unknown language code {code!r} for {option} (known: {', '.join(language_codes())})")
    return lang


def _read_input(args: argparse.Namespace) -> tuple[Any, Path | None]:
    """The document to translate and its path (None for text)."""
    from app.core.translate import DocumentError, document_from_text, load_document  # noqa: PLC0415

    value: str = args.input
    if value == "-":
        value = sys.stdin.read()
        if not value.strip():
            raise CliError("the text on stdin is empty")
    else:
        path = Path(value).expanduser()
        is_path_like = "\n" not in value and len(value) < 4096
        if is_path_like and path.is_dir():
            raise CliError(f"{path} is a folder, not a file")
        if is_path_like and path.is_file():
            try:
                return load_document(path), path
            except DocumentError as exc:
                raise CliError(str(exc)) from exc
        if is_path_like and " " not in value.strip() and path.suffix.lower() in _DOCUMENT_LIKE:
            raise CliError(f"file not found: {path}")
        if not value.strip():
            raise CliError("the text is empty (pass TEXT, a FILE, or - to read stdin)")
    if "\x00" in value:
        raise CliError("the input is binary data, not text")
    document = document_from_text(value)
    if not document.segments:
        raise CliError("nothing to translate: the text has no words")
    return document, None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    """Translate, write the result, print the JSON summary; CliError for anything the user must fix."""
    from app.core.glossary import Glossary, GlossaryError  # noqa: PLC0415
    from app.core.models import resolve_model_path  # noqa: PLC0415
    from app.core.settings import Settings  # noqa: PLC0415
    from app.core.translate import SegmentDone, translate_document  # noqa: PLC0415
    from app.llm.types import EngineError, LoadParams  # noqa: PLC0415

    target = _language(args.to, "--to")
    source = None if args.source.strip().lower() in ("", "auto") else _language(args.source, "--from")
    if source is not None and source.code == target.code:
        raise CliError(f"--from and --to are both {target.code}")
    document, in_path = _read_input(args)
    out_path: Path | None = args.output
    if in_path is not None and out_path is None:
        out_path = default_output(in_path, target.code)
    if in_path is not None and out_path is not None and out_path.expanduser().resolve() == in_path.resolve():
        raise CliError(f"refusing to overwrite the input file {in_path}; choose another -o")
    if out_path is not None and out_path.expanduser().is_dir():
        raise CliError(f"{out_path} is a folder; -o needs a file name")
    glossary = Glossary()
    if args.glossary is not None:
        try:
            glossary = Glossary.load(args.glossary)
        except GlossaryError as exc:
            raise CliError(str(exc)) from exc

    settings = Settings.load_default()
    model_path = resolve_model_path(args.model, settings)
    engine = make_engine()
    try:
        engine.load(LoadParams(
            model_path=model_path, n_ctx=settings.get_int("n_ctx"),
            n_threads=settings.get_int("n_threads") or None, n_gpu_layers=settings.get_int("n_gpu_layers"),
            flash_attn={"auto": None, "on": True, "off": False}[settings.get_str("flash_attn")],
        ))
    except EngineError as exc:
        raise CliError(str(exc)) from exc

    stop = threading.Event()
    previous_handler = signal.getsignal(signal.SIGINT)
    install_sigint(stop)  # the first Ctrl+C stops after the current token and keeps what is done
    show_progress = sys.stderr.isatty()

    def report(payload: object) -> None:
        if show_progress and isinstance(payload, SegmentDone):
            eta = f", about {payload.eta_s:,.0f} s left" if payload.eta_s is not None else ""
            sys.stderr.write(f"\rkestrel: segment {payload.index + 1}/{payload.total}{eta}   ")
            sys.stderr.flush()

    try:
        result = translate_document(engine, document, target.code, source.code if source else None,
                                    glossary, stop, report)
    finally:
        engine.unload()
        signal.signal(signal.SIGINT, previous_handler)
        if show_progress:
            sys.stderr.write("\n")
    if out_path is not None:
        try:
            _write_atomic(out_path.expanduser(), result.render())
        except OSError as exc:
            raise CliError(f"cannot write {out_path}: {exc.strerror or exc}") from exc
    else:
        sys.stdout.write(result.text().rstrip("\n") + "\n")
    if not args.json:
        for warning in result.warnings:
            print(f"kestrel: warning: segment {warning.segment + 1}: {warning.message}", file=sys.stderr)
    if args.json:
        summary = {
            "segments": result.segments, "segments_translated": result.segments_translated,
            "from": result.source_lang, "to": result.target_lang, "detected": result.detected,
            "seconds": round(result.seconds, 3), "output": str(out_path) if out_path is not None else None,
            "cancelled": result.cancelled, "warnings": [w.to_dict() for w in result.warnings],
            "model": str(model_path),
        }
        print(json.dumps(summary, ensure_ascii=False), flush=True)
    if result.error:
        raise CliError(f"{result.error} ({result.segments_translated} of {result.segments} segments done)")
    if result.cancelled:
        return EXIT_INTERRUPTED
    return 0
