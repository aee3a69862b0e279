"""``kestrel summarize``: the JSON contract, and one clean line on stderr for every bad input."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import app.cli.engine
from app.cli import summarize as cli_summarize
from app.cli.errors import CliError
from app.engines.contract import LocalModel, ModelSpec
from app.engines.fake import FakeEngine
from tests.documents.samples import make_docx, make_image_pdf, make_pdf

ROOT = Path(__file__).resolve().parents[2]
JSON_KEYS = {"summary", "chunks", "chunks_summarized", "sources", "input_tokens", "seconds"}
HARNESS = """
import sys
from app.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


MEASURED = """
import os
try:
    exec(compile(HARNESS, "harness", "exec"))
finally:  # VmHWM: this process image's peak RSS (ru_maxrss would include the forking parent's)
    status = open("/proc/self/status").read()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    with open(os.environ["KESTREL_TEST_RSS"], "w") as out:
        out.write(peak)
"""


def kestrel(args: list[str], home: Path, timeout: int = 300,
            rss_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KESTREL_HOME": str(home)}
    code = HARNESS
    if rss_file is not None:  # the child reports its own peak memory (KiB) as it exits
        env["KESTREL_TEST_RSS"] = str(rss_file)
        code = f"HARNESS = {HARNESS!r}\n{MEASURED}"
    return subprocess.run([sys.executable, "-c", code, "summarize", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kestrel")
    cli_summarize.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["summarize", *args])


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kestrel: error: ") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]
    assert result.stdout == ""


def bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every kind of bad input, as files on disk, with a word its message must contain."""
    folder.mkdir(exist_ok=True)
    empty = folder / "empty.txt"
    empty.write_bytes(b"")
    binary = folder / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 40)
    unknown = folder / "archive.xyz"
    unknown.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    corrupt_pdf = folder / "broken.pdf"
    corrupt_pdf.write_bytes(make_pdf(folder / "good.pdf", ["Fine."]).read_bytes()[:200])
    corrupt_docx = folder / "broken.docx"
    corrupt_docx.write_bytes(make_docx(folder / "good.docx").read_bytes()[:300])
    return {
        "missing": (folder / "nowhere.pdf", "not found"),
        "empty": (empty, "empty"),
        "binary": (binary, "binary"),
        "unknown type": (unknown, "not supported"),
        "encrypted pdf": (make_pdf(folder / "locked.pdf", ["Secret."], encrypt="pw"), "encrypted"),
        "image-only pdf": (make_image_pdf(folder / "scan.pdf"), "needs OCR"),
        "corrupt pdf": (corrupt_pdf, "damaged"),
        "corrupt docx": (corrupt_docx, "damaged"),
        "folder": (folder, "folder"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "binary", "unknown type", "encrypted pdf", "image-only pdf",
                                  "corrupt pdf", "corrupt docx", "folder"])
def test_bad_input_in_process_raises_one_line_cli_error(tmp_path: Path, case: str) -> None:
    path, word = bad_inputs(tmp_path / "docs")[case]
    with pytest.raises(CliError) as info:
        cli_summarize.run(parse([str(path), "--json"]))
    assert word in str(info.value) and "\n" not in str(info.value)


def test_every_bad_input_as_a_process_exits_non_zero_with_one_line(tmp_path: Path, kestrel_home: Path) -> None:
    for case, (path, word) in bad_inputs(tmp_path / "docs").items():
        result = kestrel([str(path), "--json"], kestrel_home)
        assert_one_line_error(result, word)
        assert case


def test_bad_options_and_a_missing_model(tmp_path: Path, kestrel_home: Path) -> None:
    doc = tmp_path / "ok.txt"
    doc.write_text("Some text.", encoding="utf-8")
    assert_one_line_error(kestrel([str(doc), "--n-ctx", "64"], kestrel_home), "--n-ctx")
    assert_one_line_error(kestrel([str(doc), "--model", str(tmp_path / "none.gguf")], kestrel_home), "not found")
    usage = kestrel([str(doc), "--preset", "haiku"], kestrel_home)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr and "invalid choice" in usage.stderr


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")
def test_a_200_mb_text_file_is_streamed_and_refused_with_the_time_it_would_take(tmp_path: Path,
                                                                                  kestrel_home: Path) -> None:
    path = tmp_path / "huge.txt"
    block = ("A kestrel hovers above the field and waits for the grass to move. " * 12 + "\n\n").encode() * 1000
    with open(path, "wb") as handle:
        while handle.tell() < 200 * 2**20:
            handle.write(block)
    rss = tmp_path / "rss.txt"
    result = kestrel([str(path), "--json"], kestrel_home, rss_file=rss)
    assert_one_line_error(result, "very large", "hours", "--allow-large")
    peak_mb = int(rss.read_text()) / 1024
    assert peak_mb < 150, f"the CLI used {peak_mb:.0f} MB for a 200 MB file: it was not streamed"
    path.unlink()


def test_json_has_the_contract_keys_in_process(tmp_path: Path, kestrel_home: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    specs: list[ModelSpec] = []

    def fake(spec: ModelSpec) -> FakeEngine:
        specs.append(spec)
        return FakeEngine(reply="A short summary of this part.", tokens_per_s=0, prefill_tps=0, n_ctx=512)

    monkeypatch.setattr(app.cli.engine, "make_engine", fake)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    doc = tmp_path / "essay.md"
    doc.write_text("\n\n".join(f"# Part {i}\n\n" + "Words about kestrels and fields. " * 60 for i in range(8)),
                   encoding="utf-8")
    code = cli_summarize.run(parse([str(doc), "--model", str(model), "--json", "--preset", "tldr"]))
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    last = json.loads(out[-1])
    assert last.keys() >= JSON_KEYS
    assert last["chunks"] > 1 and last["chunks_summarized"] == last["chunks"]
    assert {c for s in last["sources"] for c in s["chunks"]} == set(range(last["chunks"]))
    assert last["input_tokens"] > 0 and last["seconds"] >= 0 and last["preset"] == "tldr"
    assert last["model"] == str(model)
    # plain output is the Markdown summary
    code = cli_summarize.run(parse([str(doc), "--model", str(model), "--n-ctx", "1024", "--threads", "2"]))
    assert code == 0 and "A short summary of this part." in capsys.readouterr().out
    assert [(s.n_ctx, s.n_threads) for s in specs if isinstance(s, LocalModel)] == [(4096, None), (1024, 2)]


@pytest.mark.real_model
def test_json_on_the_starter_model(tmp_path: Path, kestrel_home: Path, starter_model: Path) -> None:
    doc = tmp_path / "notes.html"
    paragraphs = "".join(f"<h2>Part {i}</h2><p>" + "The kestrel hunts voles in open fields. " * 25 + "</p>"
                         for i in range(4))
    doc.write_text(f"<html><body>{paragraphs}</body></html>", encoding="utf-8")
    result = kestrel([str(doc), "--model", str(starter_model), "--n-ctx", "512", "--json"], kestrel_home)
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last.keys() >= JSON_KEYS
    assert last["chunks"] >= 2 and last["chunks_summarized"] == last["chunks"]
    assert {c for s in last["sources"] for c in s["chunks"]} == set(range(last["chunks"]))
    assert last["sources"][0]["first"] == "§ Part 0"


# ---- hostile files: each ends within seconds, in little memory, with one line ---------------
def hostile_files(folder: Path) -> dict[str, tuple[Path, str]]:
    from tests.documents.samples import make_raw_docx, make_zip_bomb_docx

    folder.mkdir(exist_ok=True)
    pipe = folder / "pipe.txt"
    os.mkfifo(pipe)
    directory = folder / "report.pdf"
    directory.mkdir()
    return {
        "named pipe": (pipe, "pipe.txt: this is a named pipe, not a document; Kestrel reads only regular files"),
        "folder": (directory, "report.pdf: this is a folder, not a document"),
        "zip bomb": (make_zip_bomb_docx(folder / "bomb.docx", 1024), "expands to 1.00 GiB when unpacked"),
        "four million paragraphs": (make_raw_docx(folder / "many.docx", b"<w:p/>", 4_000_000),
                                    "more than 1,000,000 XML elements"),
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/proc/self/status").exists(),
                    reason="named pipes and /proc are POSIX/Linux")
def test_hostile_files_end_in_seconds_with_one_line(tmp_path: Path, kestrel_home: Path) -> None:
    import time

    for case, (path, words) in hostile_files(tmp_path / "docs").items():
        rss = tmp_path / f"{case}.rss"
        began = time.monotonic()
        result = kestrel([str(path), "--json"], kestrel_home, timeout=60, rss_file=rss)
        took = time.monotonic() - began
        assert_one_line_error(result, words)
        assert took < 10, f"{case}: {took:.1f} s"
        peak_mb = int(rss.read_text()) / 1024
        assert peak_mb < 500, f"{case}: {peak_mb:.0f} MB"


@pytest.mark.parametrize("kind", ["20,000 divs", "100,000 nested divs"])
def test_hostile_html_is_summarized_end_to_end_in_seconds(tmp_path: Path, kestrel_home: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str], kind: str) -> None:
    import time

    from tests.documents.samples import many_divs_html, nested_divs_html

    monkeypatch.setattr(app.cli.engine, "make_engine", lambda spec: FakeEngine(
        reply="A short summary of this part.", tokens_per_s=0, prefill_tps=0, n_ctx=4096))
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    page = tmp_path / "page.html"
    page.write_text(many_divs_html() if kind.startswith("20") else nested_divs_html(), encoding="utf-8")
    began = time.monotonic()
    code = cli_summarize.run(parse([str(page), "--model", str(model), "--json", "--no-cache"]))
    took = time.monotonic() - began
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and last["chunks"] > 10 and last["chunks_summarized"] == last["chunks"]
    assert took < 10, f"{took:.1f} s"
