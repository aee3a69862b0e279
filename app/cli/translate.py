"""``kestrel translate``: text or a TXT/Markdown/DOCX/HTML file, offline, segment by segment.

A positional argument that names an existing file is a document; anything else is the
text itself ("-" reads stdin). Documents are written next to the input with the target
language before the extension (``report.docx`` -> ``report.fr.docx``), never over it;
text goes to stdout. Bad input is one line on stderr and exit status 1 (via CliError).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from app.base.atomic import write_atomic
from app.base.files import NotAFileError, regular_file
from app.base.languages import Language, get_language, language_codes, resolve_language
from app.base.settings import Settings
from app.cli.engine import add_endpoint_arguments, model_name, open_engine, parallel_width
from app.cli.errors import EXIT_INTERRUPTED, EXIT_OK, CliError, install_sigint
from app.translate.formats import DocumentError, SourceDocument, document_from_text, load_document
from app.translate.glossary import Glossary, GlossaryError
from app.translate.runner import SegmentDone, TranslationResult, translate_document

# Names that look like a file the user meant (a typo must not be translated as text).
_DOCUMENT_LIKE = (".txt", ".text", ".md", ".markdown", ".docx", ".doc", ".html", ".htm", ".xhtml", ".pdf",
                  ".rtf", ".odt", ".epub", ".json", ".csv")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``translate`` on the ``kestrel`` parser's subcommands."""
    parser = commands.add_parser(
        "translate", help="translate text or a TXT, Markdown, DOCX or HTML file, offline",
        description="Translate text, or a document keeping its structure, with a local model.")
    parser.add_argument("input", metavar="TEXT|FILE", help="the text, a file to translate, or - for stdin")
    parser.add_argument("--to", required=True, metavar="LANG", help="target language code (fr, de, zh-Hans, ...)")
    parser.add_argument("--from", dest="source", default="auto", metavar="LANG",
                        help="source language code (default: detect it)")
    parser.add_argument("--glossary", type=Path, metavar="FILE",
                        help="JSON or TSV list of terms with fixed translations (empty: keep as is)")
    parser.add_argument("--model", help="GGUF file (default: the model chosen in settings), "
                        "or with --endpoint the id of a model on that server")
    add_endpoint_arguments(parser, parallel=True)
    parser.add_argument("-o", "--output", type=Path, metavar="OUT",
                        help="where to write the translation (default for files: NAME.LANG.EXT beside the input)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with segment counts, languages and timing last")
    parser.set_defaults(run=run)
    return parser


def default_output(path: Path, lang: str) -> Path:
    """``report.docx`` -> ``report.fr.docx`` in the same folder."""
    return path.with_name(f"{path.stem}.{lang}{path.suffix}")


def _language(code: str, option: str) -> Language:
    lang = resolve_language(code)
    if lang is None:
        raise CliError(f"unknown language code {code!r} for {option} (known: {', '.join(language_codes())})")
    return lang


def _names_a_file(path: Path) -> bool:
    """True for a regular file; a folder, pipe or device is refused here, before anything opens it."""
    try:
        regular_file(path)
    except NotAFileError as exc:
        if exc.missing:
            return False  # not a file: the argument may be the text itself
        raise CliError(str(exc)) from exc
    return True


def _read_input(args: argparse.Namespace) -> tuple[SourceDocument, Path | None]:
    """The document to translate and its path (None for text)."""
    value: str = args.input
    if value == "-":
        value = sys.stdin.read()
        if not value.strip():
            raise CliError("the text on stdin is empty")
    else:
        path = Path(value).expanduser()
        is_path_like = "\n" not in value and len(value) < 4096
        if is_path_like and _names_a_file(path):
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


def _output_path(args: argparse.Namespace, in_path: Path | None, lang: str) -> Path | None:
    """Where the translation goes (None: stdout); never the input file, never a folder."""
    out_path: Path | None = args.output
    if in_path is not None and out_path is None:
        out_path = default_output(in_path, lang)
    if in_path is not None and out_path is not None and out_path.expanduser().resolve() == in_path.resolve():
        raise CliError(f"refusing to overwrite the input file {in_path}; choose another -o")
    if out_path is not None and out_path.expanduser().is_dir():
        raise CliError(f"{out_path} is a folder; -o needs a file name")
    return out_path


def run(args: argparse.Namespace) -> int:
    """Translate, write the result, print the JSON summary; CliError for anything the user must fix."""
    target = _language(args.to, "--to")
    source = None if args.source.strip().lower() in ("", "auto") else _language(args.source, "--from")
    if source is not None and source.code == target.code:
        raise CliError(f"--from and --to are both {target.code}")
    document, in_path = _read_input(args)
    out_path = _output_path(args, in_path, target.code)
    glossary = Glossary()
    if args.glossary is not None:
        try:
            glossary = Glossary.load(args.glossary)
        except GlossaryError as exc:
            raise CliError(str(exc)) from exc

    settings = Settings.load_default()
    show_progress = sys.stderr.isatty()

    def report(payload: object) -> None:
        if show_progress and isinstance(payload, SegmentDone):
            eta = f", about {payload.eta_s:,.0f} s left" if payload.eta_s is not None else ""
            sys.stderr.write(f"\rkestrel: segment {payload.index + 1}/{payload.total}{eta}   ")
            sys.stderr.flush()

    with open_engine(settings, args.model, endpoint=args.endpoint,
                     api_key_env=args.api_key_env, parallel=args.parallel) as (engine, loaded):
        stop = threading.Event()
        restore_sigint = install_sigint(stop)  # the first Ctrl+C stops after the current token, keeping what is done
        try:
            result = translate_document(engine, document, target.code, source.code if source else None,
                                        glossary, stop, report)
            width = parallel_width(engine)
        finally:
            restore_sigint()
            if show_progress:
                sys.stderr.write("\n")
    if result.same_language:
        name = get_language(result.target_lang).name
        raise CliError(f"the text is already in {name}; nothing to translate (choose another --to)")
    _write(result, out_path)
    if args.json:
        print(json.dumps(_summary(result, out_path, model_name(loaded), width), ensure_ascii=False), flush=True)
    else:
        for warning in result.warnings:
            print(f"kestrel: warning: segment {warning.segment + 1}: {warning.message}", file=sys.stderr)
    if result.error:
        raise CliError(f"{result.error} ({result.segments_translated} of {result.segments} segments done)")
    return EXIT_INTERRUPTED if result.cancelled else EXIT_OK


def _write(result: TranslationResult, out_path: Path | None) -> None:
    """The translated document to ``out_path`` (atomically), or the text to stdout."""
    if out_path is None:
        sys.stdout.write(result.text().rstrip("\n") + "\n")
        return
    try:
        write_atomic(out_path.expanduser(), result.render())
    except OSError as exc:
        raise CliError(f"cannot write {out_path}: {exc.strerror or exc}") from exc


def _summary(result: TranslationResult, out_path: Path | None, model: str, width: int) -> dict[str, object]:
    """The ``--json`` object: counts, languages, timing, where the output went."""
    return {
        "segments": result.segments, "segments_translated": result.segments_translated,
        "from": result.source_lang, "to": result.target_lang, "detected": result.detected,
        "seconds": round(result.seconds, 3), "output": str(out_path) if out_path is not None else None,
        "cancelled": result.cancelled, "warnings": [w.to_dict() for w in result.warnings],
        "model": model, "parallel": width,
    }
