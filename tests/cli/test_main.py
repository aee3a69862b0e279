"""The ``kestrel`` entry point: one parser built from the command modules, one way to fail."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import pytest

import app.cli
import app.cli.chat
import app.ui.application
from app.cli.errors import EXIT_INTERRUPTED, CliError
from app.cli.main import build_parser, gui_main, main
from app.engines.contract import EngineError

CLI = Path(app.cli.__file__).parent
COMMANDS = {"gui", "chat", "models", "quantize", "compare", "download", "translate", "summarize", "ask", "serve"}
#: Where each command lives: ``app/cli/<name>.py``, the model-library ones in ``app/cli/library/``.
MODULES = {name: f"app.cli.{name}" for name in COMMANDS} | {
    "models": "app.cli.library.listing", "quantize": "app.cli.library.quantize",
    "compare": "app.cli.library.compare", "download": "app.cli.library.download"}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_command_is_registered_by_its_own_module() -> None:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == COMMANDS
    for name in COMMANDS:
        assert (CLI.parent.parent / (MODULES[name].replace(".", "/") + ".py")).is_file(), name
        args = build_parser().parse_args([name, *{"quantize": ["in.gguf", "--to", "Q8_0"], "compare": ["a", "b"],
                                                  "download": ["repo", "file"], "translate": ["hi", "--to", "fr"],
                                                  "summarize": ["doc.txt"], "ask": ["doc.txt", "Why?"]
                                                  }.get(name, [])])
        assert args.run.__module__ == MODULES[name]


def test_no_command_imports_main_and_only_engine_makes_engines() -> None:
    for path in sorted(CLI.rglob("*.py")):  # the library/ commands too
        found = imports(path)
        assert "app.cli.main" not in found, f"{path.name} imports app.cli.main (a cycle)"
        if path.name != "engine.py":
            assert not any(name.startswith(("app.engines.factory", "app.engines.llama.engine")) for name in found), \
                f"{path.name} makes its own engine; use app.cli.engine"


def test_no_command_opens_the_desktop_app(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str | None] = []
    monkeypatch.setattr(app.ui.application, "run", lambda model=None: opened.append(model) or 0)
    assert main([]) == 0
    assert main(["gui", "--model", "a.gguf"]) == 0
    monkeypatch.setattr(sys, "argv", ["kestrel-gui", "--model", "b.gguf"])
    assert gui_main() == 0
    assert opened == [None, "a.gguf", "b.gguf"]


@pytest.mark.parametrize(("raised", "status", "message"), [
    (CliError("the prompt is empty"), 1, "kestrel: error: the prompt is empty\n"),
    (EngineError("Out of memory while loading."), 1, "kestrel: error: Out of memory while loading.\n"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "kestrel: interrupted\n"),
])
def test_failures_are_one_line_on_stderr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                         raised: BaseException, status: int, message: str) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise raised

    monkeypatch.setattr(app.cli.chat, "run", fail)
    assert main(["chat", "hi"]) == status
    captured = capsys.readouterr()
    assert captured.err == message and captured.out == ""


def test_help_and_version_exit_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in COMMANDS)
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("kestrel ")
