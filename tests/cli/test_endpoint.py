"""``--endpoint URL --model ID [--api-key-env VAR]``: the CLI's way onto a server, and its one-line refusals.

The engine is replaced by a fake one that records the spec it was asked to load; the
remote engine itself is tested against real servers in tests/engines/remote/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import app.cli.engine
from app.base import credentials
from app.cli.main import main
from app.engines.contract import Endpoint, Engine, ModelSpec
from app.engines.fake import FakeEngine


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[ModelSpec]:
    specs: list[ModelSpec] = []

    def factory(spec: ModelSpec) -> Engine:
        specs.append(spec)
        if isinstance(spec, Endpoint):
            credentials.resolve(spec.credential)  # as the real factory does before connecting
        return FakeEngine(reply="Hello there")

    monkeypatch.setattr(app.cli.engine, "make_engine", factory)
    return specs


@pytest.mark.parametrize("command", [["chat", "hi"], ["summarize", "DOC"], ["translate", "Hello", "--to", "fr"]])
def test_every_command_takes_a_model_on_a_server(command: list[str], asked: list[ModelSpec], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("The kestrel hovers over the field. " * 20, encoding="utf-8")
    monkeypatch.setenv("MY_KEY", "sk-test")
    args = [str(doc) if part == "DOC" else part for part in command]
    assert main([*args, "--endpoint", "http://127.0.0.1:8080/v1/", "--model", "qwen", "--api-key-env", "MY_KEY"]) == 0
    assert asked == [Endpoint(url="http://127.0.0.1:8080/v1", model_id="qwen", credential="env:MY_KEY")]
    assert "sk-test" not in repr(asked)  # the spec names where the key is, never the key
    capsys.readouterr()


@pytest.mark.parametrize(("args", "message"), [
    (["--endpoint", "ftp://host/v1", "--model", "m"], "--endpoint must be an http:// or https:// URL, not 'ftp://host/v1'"),
    (["--endpoint", "http://", "--model", "m"], "--endpoint must be an http:// or https:// URL, not 'http://'"),
    (["--endpoint", "http://127.0.0.1:8080/v1"], "--endpoint needs --model ID: the id of a model the server serves"),
    (["--api-key-env", "MY_KEY"], "--api-key-env only applies with --endpoint"),
    (["--parallel", "0"], "--parallel must be between 1 and 64, not 0"),
    (["--endpoint", "http://127.0.0.1:8080/v1", "--model", "m", "--parallel", "0"],
     "--parallel must be between 1 and 64, not 0"),
    (["--endpoint", "http://127.0.0.1:8080/v1", "--model", "m", "--api-key-env", "NOT_SET_ANYWHERE"],
     "the API key was to come from the environment variable NOT_SET_ANYWHERE, which is not set"),
])
def test_bad_endpoint_arguments_are_one_line(args: list[str], message: str, asked: list[ModelSpec],
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    doc = tmp_path / "doc.txt"
    doc.write_text("The kestrel hovers over the field.", encoding="utf-8")
    command = ["summarize", str(doc)] if "--parallel" in args else ["chat", "hi"]  # summaries send parts at once
    assert main([*command, *args]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"kestrel: error: {message}\n" and captured.out == ""


def test_credential_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K", "secret")
    assert credentials.resolve(credentials.env_reference("K")) == "secret"
    assert credentials.resolve(None) is None
    assert credentials.describe("env:K") == "the environment variable K"
    with pytest.raises(credentials.CredentialError, match="unknown kind of stored API key: 'vault'"):
        credentials.resolve("vault:x")


def test_summarize_sends_as_many_parts_at_once_as_asked(asked: list[ModelSpec], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("The kestrel hovers over the field. " * 20, encoding="utf-8")
    assert main(["summarize", str(doc), "--endpoint", "http://127.0.0.1:8080/v1", "--model", "m",
                 "--parallel", "3"]) == 0
    assert asked == [Endpoint(url="http://127.0.0.1:8080/v1", model_id="m", parallel=3)]
    capsys.readouterr()
