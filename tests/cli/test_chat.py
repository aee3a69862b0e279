"""``kestrel chat``: real processes on the real starter model, and the fake engine in process."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import app.cli.engine
from app.base.settings import Settings
from app.cli.main import main
from app.engines.contract import ChatMessage, GenerationParams, LocalModel, ModelSpec, ProgressCallback
from app.engines.fake import FakeEngine
from tests import gguf_files
from tests.engine_children import ASSERT_REASON, CrashOnName

REQUIRED = {"prompt_tokens", "cached_tokens", "completion_tokens", "ttft_s", "prefill_tps", "decode_tps",
            "stop_reason", "n_ctx", "backend", "gpu_layers", "model", "sources"}


def kestrel(args: list[str], home: Path, *, stdin: str | None = None,
            preamble: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{preamble}\nimport sys\nfrom app.cli.main import main\nsys.exit(main({args!r}))"
    env = {**os.environ, "KESTREL_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True,
                          env=env, timeout=300, cwd=Path(__file__).resolve().parents[2])


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
    assert last.keys() >= REQUIRED
    assert last["completion_tokens"] > 0 and last["backend"] == "CPU" and last["n_ctx"] == 4096
    assert last["stop_reason"] in {"length", "eos", "stop"}
    assert last["sources"]["ttft_s"] == "engine" and last["model_path"].endswith(".gguf")


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
    for before, after in itertools.pairwise(lines):
        assert after["cached_tokens"] >= before["prompt_tokens"]
        assert after["prompt_tokens"] - after["cached_tokens"] < 40


#: Installed in the CLI process and in the engine's child process (both import sitecustomize):
#: every socket event is appended to a file at once (the child ends with os._exit).
SITECUSTOMIZE = """
import os, sys
_log = os.environ["KESTREL_SOCKET_AUDIT"]
def _hook(event, args):
    if event.startswith("socket."):
        family = getattr(args[1], "value", args[1]) if event == "socket.__new__" else ""
        with open(_log, "a") as file:
            file.write(f"{os.getpid()} {event} {family}\\n")
sys.addaudithook(_hook)
with open(_log, "a") as file:
    file.write(f"{os.getpid()} started\\n")
"""


@pytest.mark.real_model
def test_no_network_socket_is_opened_during_load_and_generation(home_with_starter: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI and its engine child open only the private pipe between them (AF_UNIX), nothing else."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "sockets.log"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("KESTREL_SOCKET_AUDIT", str(log))
    result = kestrel(["chat", "--max-tokens", "8", "Hello"], home_with_starter)
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    assert len({pid for pid, *_ in lines}) >= 2, "the engine child was not audited"
    events = [rest for _pid, *rest in lines if rest != ["started"]]
    assert events, "the pipe to the engine child was not seen: the audit is not working"
    assert all(event == ["socket.__new__", str(int(socket.AF_UNIX))] for event in events), events


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


# ---- in process, on the fake engine -------------------------------------------------


class RecordingEngine(FakeEngine):
    """The fake engine, keeping the sampling parameters of every reply."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply=reply, tokens_per_s=0, prefill_tps=0)
        self.params: list[GenerationParams] = []

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams,
               stop: threading.Event | None = None, on_progress: ProgressCallback | None = None) -> Iterator[str]:
        self.params.append(params)
        return super().stream(messages, params, stop=stop, on_progress=on_progress)


@pytest.fixture
def fake_model(tmp_path: Path, kestrel_home: Path) -> Path:
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"GGUF")
    return path


def use_engine(monkeypatch: pytest.MonkeyPatch, engine: FakeEngine) -> list[ModelSpec]:
    """Put ``engine`` behind the CLI's factory; returns the specs the factory was asked for."""
    asked: list[ModelSpec] = []

    def factory(spec: ModelSpec) -> FakeEngine:
        asked.append(spec)
        return engine

    monkeypatch.setattr(app.cli.engine, "make_engine", factory)
    return asked


def test_json_line_keeps_its_keys_and_unknown_figures_are_null(
        fake_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    engine = RecordingEngine(reply="Hello")  # one token: no decode rate can be measured
    use_engine(monkeypatch, engine)
    assert main(["chat", "--model", str(fake_model), "--json", "Hi there"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Hello"
    line = json.loads(out[-1])
    assert line.keys() >= REQUIRED
    assert line["completion_tokens"] == 1 and line["decode_tps"] is None
    assert line["sources"]["completion_tokens"] == "engine" and "decode_tps" not in line["sources"]
    assert (line["model_path"], line["quant"], line["text"]) == (str(fake_model), "Q4_K_M", "Hello")
    assert engine.loaded is None  # unloaded on the way out


def test_settings_and_flags_reach_the_engine_through_one_path(
        fake_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    Settings.load_default().update({"n_ctx": 8192, "flash_attn": "off", "n_gpu_layers": 0, "temperature": 0.3,
                                    "top_k": 7, "max_tokens": 99, "seed": 42})
    engine = RecordingEngine(reply="Fine, thanks.")
    asked = use_engine(monkeypatch, engine)
    assert main(["chat", "--model", str(fake_model), "How are you?"]) == 0
    assert main(["chat", "--model", str(fake_model), "--n-ctx", "1024", "--temperature", "0", "--seed", "7",
                 "--max-tokens", "5", "--gpu-layers", "3", "Again?"]) == 0
    assert capsys.readouterr().out.splitlines() == ["Fine, thanks.", "Fine, thanks."]
    assert asked == engine.loads == [
        LocalModel(path=fake_model, n_ctx=8192, n_gpu_layers=0, flash_attn=False),
        LocalModel(path=fake_model, n_ctx=1024, n_gpu_layers=3, flash_attn=False),
    ]
    first, second = engine.params
    assert (first.temperature, first.top_k, first.max_tokens, first.seed) == (0.3, 7, 99, 42)
    assert (second.temperature, second.top_k, second.max_tokens, second.seed) == (0.0, 7, 5, 7)


def test_an_engine_that_cannot_load_is_one_line(
        fake_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_engine(monkeypatch, FakeEngine(load_error="fake.gguf: not enough memory"))
    assert main(["chat", "--model", str(fake_model), "Hi"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "kestrel: error: fake.gguf: not enough memory\n" and captured.out == ""


def test_a_model_that_crashes_the_engine_is_one_line_and_exit_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    crash = gguf_files.write_tiny_llama(tmp_path / "crash.gguf")
    monkeypatch.setattr(app.cli.engine, "make_engine", lambda _spec: CrashOnName())
    assert main(["chat", "--model", str(crash), "hi"]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"kestrel: error: The engine stopped while loading crash.gguf: {ASSERT_REASON}.\n"
    assert captured.out == ""


def test_speculative_flag_and_settings_reach_the_engine(
        fake_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    draft = tmp_path / "draft.gguf"
    draft.write_bytes(b"GGUF")
    engine = RecordingEngine(reply="Fine.")
    asked = use_engine(monkeypatch, engine)
    assert main(["chat", "--model", str(fake_model), "Hi"]) == 0
    Settings.load_default().update({"speculative": "off"})
    assert main(["chat", "--model", str(fake_model), "Hi"]) == 0
    assert main(["chat", "--model", str(fake_model), "--speculative", "ngram", "Hi"]) == 0
    assert main(["chat", "--model", str(fake_model), "--speculative", str(draft), "Hi"]) == 0
    assert [p.speculative for p in engine.params] == ["auto", "off", "ngram", "draft"]
    assert [spec.draft_model for spec in asked if isinstance(spec, LocalModel)] == [None, None, None, draft]
    capsys.readouterr()
    assert main(["chat", "--model", str(fake_model), "--speculative", "fast", "Hi"]) == 1
    err = capsys.readouterr().err
    assert err == ("kestrel: error: --speculative must be off, auto, ngram or a draft model file; "
                   "'fast' is none of these\n")


@pytest.mark.real_model
def test_chat_json_line_reports_drafted_and_accepted_tokens(home_with_starter: Path) -> None:
    prompt = "one two three four five six seven eight nine ten. " * 4 + "one two three"
    lines = {}
    for mode in ("off", "ngram"):
        result = kestrel(["chat", "--max-tokens", "24", "--temperature", "0", "--speculative", mode, "--json", prompt],
                         home_with_starter)
        assert result.returncode == 0, result.stderr
        lines[mode] = json.loads(result.stdout.strip().splitlines()[-1])
    assert lines["off"]["drafted_tokens"] is None and lines["off"]["accepted_tokens"] is None
    assert lines["ngram"]["drafted_tokens"] >= lines["ngram"]["accepted_tokens"] > 0
    assert lines["ngram"]["text"] == lines["off"]["text"]
