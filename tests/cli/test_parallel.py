"""``--parallel N`` with a local model: the sequences decoded together, said in the ``--json`` line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

import app.cli.engine
from app.cli.main import main
from app.engines.contract import ChatMessage, LocalModel, ModelSpec
from app.engines.fake import FakeEngine
from app.translate.runner import prompt_segment


@pytest.fixture
def engines(tmp_path: Path, kestrel_home: Path, monkeypatch: pytest.MonkeyPatch) -> list[FakeEngine]:
    """Fake engines behind the CLI, each as wide as its spec's ``parallel_sequences`` (automatic: 4)."""
    made: list[FakeEngine] = []

    def make(spec: ModelSpec) -> FakeEngine:
        assert isinstance(spec, LocalModel)

        def answer(messages: Sequence[ChatMessage]) -> str:
            return prompt_segment(messages).upper() if "French" in messages[0].content else "A short summary."

        engine = FakeEngine(reply=answer, tokens_per_s=0, prefill_tps=0, n_ctx=512, chat_format="gguf-template",
                            batch_width=spec.parallel_sequences or 4)
        engine.spec = spec  # type: ignore[attr-defined]
        made.append(engine)
        return engine

    monkeypatch.setattr(app.cli.engine, "make_engine", make)
    return made


def model(tmp_path: Path) -> str:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return str(path)


def last_json(out: str) -> dict[str, object]:
    line: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return line


def test_summarize_parallel_sets_the_local_models_sequences(engines: list[FakeEngine], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "essay.md"
    doc.write_text("\n\n".join(f"# Part {i}\n\n" + "Words about kestrels and fields. " * 60 for i in range(8)),
                   encoding="utf-8")
    assert main(["summarize", str(doc), "--model", model(tmp_path), "--json", "--no-cache", "--parallel", "3"]) == 0
    line = last_json(capsys.readouterr().out)
    assert engines[-1].spec.parallel_sequences == 3  # type: ignore[attr-defined]
    assert line["parallel"] == 3 and engines[-1].batch_runs == [line["chunks"]] and engines[-1].max_in_flight == 3
    assert main(["summarize", str(doc), "--model", model(tmp_path), "--json", "--no-cache", "--parallel", "1"]) == 0
    assert last_json(capsys.readouterr().out)["parallel"] == 1 and engines[-1].batch_runs == []
    assert main(["summarize", str(doc), "--model", model(tmp_path), "--json", "--no-cache"]) == 0
    assert engines[-1].spec.parallel_sequences == 0  # type: ignore[attr-defined]  # the setting: automatic
    assert last_json(capsys.readouterr().out)["parallel"] == 4


def test_translate_parallel_sets_the_local_models_sequences(engines: list[FakeEngine], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n\n".join(f"Paragraph number {i}." for i in range(5))
    assert main(["translate", "--model", model(tmp_path), "--to", "fr", "--from", "en", "--json",
                 "--parallel", "2", text]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PARAGRAPH NUMBER 0.") and last_json(out)["parallel"] == 2
    assert engines[-1].spec.parallel_sequences == 2 and engines[-1].batch_runs == [5]  # type: ignore[attr-defined]
    assert main(["translate", "--model", model(tmp_path), "--to", "fr", "--from", "en", "--json",
                 "--parallel", "1", text]) == 0
    assert last_json(capsys.readouterr().out)["parallel"] == 1 and engines[-1].batch_runs == []


def test_a_bad_count_is_one_line(engines: list[FakeEngine], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["translate", "--model", model(tmp_path), "--to", "fr", "--parallel", "0", "Hello."]) == 1
    assert capsys.readouterr().err == "kestrel: error: --parallel must be between 1 and 64, not 0\n"
    assert engines == []
