"""``kestrel translate`` on the fake engine: output files, the JSON summary, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

import app.cli.engine
import app.cli.translate as cli_translate
from app.cli.errors import EXIT_ERROR
from app.cli.main import main
from app.engines.contract import ChatMessage
from app.engines.fake import FakeEngine
from app.translate import runner as runner_module
from app.translate.runner import prompt_segment

ROOT = Path(__file__).resolve().parents[2]


def upper(messages: Sequence[ChatMessage]) -> str:
    return prompt_segment(messages).upper()


@pytest.fixture
def model(tmp_path: Path, kestrel_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model path that exists, and the fake engine behind the CLI's engine factory."""
    monkeypatch.setattr(app.cli.engine, "make_engine",
                        lambda spec: FakeEngine(reply=upper, tokens_per_s=0, prefill_tps=0))
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"GGUF")
    return path


def kestrel(argv: list[str]) -> int:
    """``kestrel translate ...`` in process, through the main entry point."""
    return main(["translate", *argv])


def test_text_goes_to_stdout_and_json_comes_last(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = kestrel(["--model", str(model), "--to", "fr", "--json", "Hello there.\n\nSecond paragraph."])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[:3] == ["HELLO THERE.", "", "SECOND PARAGRAPH."]
    summary = json.loads(out[-1])
    assert {"segments", "segments_translated", "from", "to", "seconds", "output", "warnings"} <= summary.keys()
    assert (summary["segments"], summary["segments_translated"], summary["from"], summary["to"]) == (2, 2, "en", "fr")
    assert summary["output"] is None and summary["seconds"] >= 0


def test_a_markdown_file_is_written_beside_the_input_and_never_over_it(
        model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "notes.md"
    source.write_text("# Title\n\nSome text with `code`.\n\n```\nkeep me\n```\n", encoding="utf-8")
    code = kestrel(["--model", str(model), "--to", "de", "--from", "en", "--json", str(source)])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    target = tmp_path / "notes.de.md"
    assert code == 0 and summary["output"] == str(target) and summary["segments_translated"] == 2
    assert target.read_text(encoding="utf-8") == "# TITLE\n\nSOME TEXT WITH `code`.\n\n```\nkeep me\n```\n"
    assert source.read_text(encoding="utf-8").startswith("# Title")
    assert kestrel(["--model", str(model), "--to", "de", "-o", str(source), str(source)]) == EXIT_ERROR
    assert "refusing to overwrite" in capsys.readouterr().err


def test_a_docx_comes_back_as_a_docx(model: Path, tmp_path: Path) -> None:
    import docx

    source = tmp_path / "report.docx"
    doc = docx.Document()
    doc.add_heading("Quarterly report", level=1)
    doc.add_paragraph("Sales went up.", style="List Bullet")
    doc.save(str(source))
    out = tmp_path / "out" / "translated.docx"
    assert kestrel(["--model", str(model), "--to", "ja", "-o", str(out), str(source)]) == 0
    paragraphs = docx.Document(str(out)).paragraphs
    assert [(p.style.name if p.style else "", p.text) for p in paragraphs] == [("Heading 1", "QUARTERLY REPORT"),
                                                            ("List Bullet", "SALES WENT UP.")]


def test_glossary_warnings_are_in_the_json(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    glossary = tmp_path / "terms.tsv"
    glossary.write_text("Kestrel\t\nengine\tmoteur\n", encoding="utf-8")
    code = kestrel(["--model", str(model), "--to", "fr", "--glossary", str(glossary), "--json",
                    "Kestrel has an engine."])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0
    assert [(w["segment"], w["kind"]) for w in summary["warnings"]] == [(0, "glossary"), (0, "glossary")]


def _make_bad(tmp_path: Path, kind: str) -> str:
    if kind == "empty file":
        (tmp_path / "empty.txt").write_bytes(b"")
        return str(tmp_path / "empty.txt")
    if kind == "binary":
        (tmp_path / "data.txt").write_bytes(bytes(range(256)) * 8)
        return str(tmp_path / "data.txt")
    if kind == "unsupported":
        (tmp_path / "slides.pdf").write_bytes(b"%PDF-1.7 ...")
        return str(tmp_path / "slides.pdf")
    if kind == "missing":
        return str(tmp_path / "missing.docx")
    if kind == "folder":
        return str(tmp_path)
    return "   "


@pytest.mark.parametrize(("kind", "message"), [
    ("empty text", "the text is empty"),
    ("empty file", "is empty"),
    ("binary", "not a text file"),
    ("unsupported", "unsupported file type .pdf"),
    ("missing", "file not found"),
    ("folder", "is a folder"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_1(
        model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str) -> None:
    code = kestrel(["--model", str(model), "--to", "fr", _make_bad(tmp_path, kind)])
    captured = capsys.readouterr()
    assert code == EXIT_ERROR and captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize(("argv", "message"), [
    (["--to", "xx", "Hello"], "unknown language code 'xx' for --to"),
    (["--to", "fr", "--from", "klingon", "Hello"], "unknown language code 'klingon' for --from"),
    (["--to", "fr", "--from", "fr", "Hello"], "--from and --to are both fr"),
    (["--to", "fr", "--glossary", "nope.json", "Hello"], "glossary file not found"),
    (["--to", "fr", "12345"], "nothing to translate"),
])
def test_bad_options_are_one_line_errors(
        model: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert kestrel(["--model", str(model), *argv]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_missing_model_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kestrel(["--model", str(tmp_path / "none.gguf"), "--to", "fr", "Hello"]) == EXIT_ERROR
    assert "model file not found" in capsys.readouterr().err


def test_the_output_file_is_written_atomically(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    written: list[Path] = []
    real = cli_translate.write_atomic

    def spy(path: Path, data: bytes | str, *, fsync: bool = True) -> None:
        written.append(path)
        real(path, data, fsync=fsync)

    monkeypatch.setattr(cli_translate, "write_atomic", spy)
    out = tmp_path / "hello.fr.txt"
    assert kestrel(["--model", str(model), "--to", "fr", "-o", str(out), "Hello."]) == 0
    assert written == [out] and out.read_text(encoding="utf-8") == "HELLO."
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert capsys.readouterr().out == ""


# ---- paths that are not regular files: named, never opened ----------------------------------
def _kestrel_process(argv: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """A separate process, so that a regression blocking on a pipe fails by timeout, not hangs."""
    code = "import sys\nfrom app.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "translate", *argv], capture_output=True, text=True,
                          env={**os.environ, "KESTREL_HOME": str(home)}, timeout=30, cwd=ROOT)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("name", ["pipe.txt", "pipe"])
def test_a_named_pipe_is_refused_by_name_not_read(tmp_path: Path, kestrel_home: Path, name: str) -> None:
    pipe = tmp_path / name
    os.mkfifo(pipe)
    result = _kestrel_process(["--model", str(tmp_path / "none.gguf"), "--to", "fr", str(pipe)], kestrel_home)
    assert result.returncode == EXIT_ERROR and result.stdout == ""
    assert result.stderr == f"kestrel: error: {name}: this is a named pipe, not a document; " \
                            "Kestrel reads only regular files\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_glossary_that_is_a_pipe_or_a_folder_is_refused(tmp_path: Path, kestrel_home: Path) -> None:
    pipe = tmp_path / "terms.tsv"
    os.mkfifo(pipe)
    for glossary, words in ((pipe, "terms.tsv: this is a named pipe, not a glossary"),
                            (tmp_path, "this is a folder, not a glossary")):
        result = _kestrel_process(["--model", str(tmp_path / "none.gguf"), "--to", "fr", "--glossary",
                                   str(glossary), "Hello"], kestrel_home)
        assert result.returncode == EXIT_ERROR and result.stderr.count("\n") == 1 and words in result.stderr


def test_text_too_long_to_be_a_file_name_is_translated_as_text(model: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    text = "-".join(f"kestrel{i}" for i in range(40))  # 389 characters, no spaces
    # os.stat says "file name too long": no such file can exist, so the argument is the text
    assert kestrel(["--model", str(model), "--to", "fr", text]) == 0
    assert capsys.readouterr().out == text.upper() + "\n"


def test_text_already_in_the_target_language_is_a_one_line_error(model: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert kestrel(["--model", str(model), "--to", "zh-Hans", "今天天气很好，我们去公园散步吧。"]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("kestrel: error: the text is already in Simplified Chinese; nothing to translate "
                            "(choose another --to)\n")


@pytest.fixture(autouse=True)
def echoes_count_as_translations(monkeypatch: pytest.MonkeyPatch) -> None:
    """This module's fake engine "translates" by echoing the text (upper-cased or not); the
    language check would rightly mark that untranslated, and these tests are about the rest."""
    monkeypatch.setattr(runner_module, "UNTRANSLATED_CONFIDENCE", 2.0)
