"""``kestrel ask FILE QUESTION``: the JSON names every part read and the answer's sources; bad input is one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import app.cli.engine
from app.cli.main import main
from app.engines.contract import ModelSpec
from app.engines.fake import FakeEngine
from tests.ask.test_ask import FACT, QUESTION, document, reply
from tests.documents.samples import make_pdf

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model file in place and the fake engine behind it (answers only from parts holding the fact)."""
    def fake(_spec: ModelSpec) -> FakeEngine:
        return FakeEngine(reply=reply, tokens_per_s=0, prefill_tps=0, n_ctx=512)

    monkeypatch.setattr(app.cli.engine, "make_engine", fake)
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_json_names_every_part_read_and_the_sources_of_the_answer(tmp_path: Path, model: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "report.md"
    doc.write_text(document(), encoding="utf-8")
    code = main(["ask", str(doc), QUESTION, "--model", str(model), "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    last = json.loads(out[-1])
    assert last["question"] == QUESTION and last["mode"] == "map" and last["name"] == "report.md"
    assert last["answer"] == "The launch code is 4417-B." and last["model"] == str(model)
    chunks = last["chunks"]
    assert len(chunks) == last["chunk_count"] == last["chunks_read"] > 3
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert all(c["read"] and c["label"] and c["tokens"] > 0 for c in chunks)
    assert [c["answered"] for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1]["last"] == "§ Part 12" and chunks[-1]["answer"] == "The launch code is 4417-B."
    assert last["sources"] == [{"label": chunks[-1]["label"], "first": chunks[-1]["first"],
                                "last": "§ Part 12", "chunks": [len(chunks) - 1],
                                "sections": chunks[-1]["sections"], "text": "The launch code is 4417-B."}]
    assert last["chunks_answered"] == 1 and last["input_tokens"] > 0 and not last["cancelled"]


def test_plain_output_is_the_answer_with_its_pages(tmp_path: Path, model: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pdf = make_pdf(tmp_path / "report.pdf", [f"Page {i} about kestrels and voles. " * 30 for i in range(1, 9)]
                   + [f"Page 9. {FACT}"])
    assert main(["ask", str(pdf), QUESTION, "--model", str(model)]) == 0
    out = capsys.readouterr().out
    # cited by the page the fact is on (with the page before when both are in one part), no other pages
    assert re.fullmatch(r"The launch code is 4417-B\. \(\*(p\. 9|pp\. 8–9)\*\)", out.splitlines()[0]), out
    assert "parts of report.pdf; 1 had an answer." in out


@pytest.mark.parametrize(("args", "word"), [
    (["nowhere.pdf", QUESTION], "not found"),
    (["empty.txt", QUESTION], "empty"),
    (["ok.txt", "   "], "question is empty"),
    (["ok.txt", QUESTION, "--n-ctx", "64"], "--n-ctx"),
    (["ok.txt", QUESTION, "--max-tokens", "2"], "--max-tokens"),
])
def test_bad_input_is_one_line_and_exit_status_1(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str],
                                                 args: list[str], word: str) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "ok.txt").write_text("Some text.", encoding="utf-8")
    code = main(["ask", str(tmp_path / args[0]), *args[1:], "--model", str(model)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 1 and captured.out == ""
    assert len(lines) == 1 and lines[0].startswith("kestrel: error: ") and word in lines[0]


def test_a_missing_file_as_a_process_exits_non_zero_with_one_line(tmp_path: Path, kestrel_home: Path) -> None:
    env = {**os.environ, "KESTREL_HOME": str(kestrel_home)}
    result = subprocess.run([sys.executable, "-m", "app", "ask", str(tmp_path / "nowhere.pdf"), QUESTION, "--json"],
                            capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kestrel: error: nowhere.pdf: ") and "not found" in lines[0]
