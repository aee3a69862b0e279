"""``kestrel chat|summarize|translate --endpoint`` against a real server (llama-cpp-python's, on 127.0.0.1).

Checks the promises a user sees on the command line: the ``--json`` line names where each
figure was measured (unknown figures are null with no source), the document commands run on
a server model, and Kestrel opens no connection but the one to the endpoint given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openai_servers import llama_cpp_server

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python's server extra is not installed")
pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[2]

#: Every socket event of the CLI process, appended to a file at once (see test_chat.py's audit).
SITECUSTOMIZE = """
import os, sys
_log = os.environ["KESTREL_SOCKET_AUDIT"]
def _hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.bind"):
        target = args[1] if event == "socket.connect" else args[:2]
        with open(_log, "a") as file:
            file.write(f"{event} {target!r}\\\\n")
sys.addaudithook(_hook)
"""


@pytest.fixture(scope="module")
def server(starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, model id) of a running server."""
    with llama_cpp_server(starter_model, 2048, tmp_path_factory.mktemp("server") / "server.log") as url:
        yield url, str(starter_model)  # llama-cpp-python names its model by the path it was given


def kestrel(args: list[str], home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = f"import sys\nfrom app.cli.main import main\nsys.exit(main({args!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "KESTREL_HOME": str(home), **(env or {})})


def test_chat_json_names_the_source_of_every_figure_and_connects_only_to_the_endpoint(
        server: tuple[str, str], kestrel_home: Path, tmp_path: Path) -> None:
    url, model = server
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "sockets.log"
    log.write_text("", encoding="utf-8")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "KESTREL_SOCKET_AUDIT": str(log)}
    result = kestrel(["chat", "--endpoint", url, "--model", model, "--max-tokens", "16", "--temperature", "0",
                      "--json", "Name a bird of prey."], kestrel_home, env)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["backend"] == "llama-cpp-python" and line["chat_format"] == "server" and line["text"]
    for figure, source in line["sources"].items():
        assert line[figure] is not None and source in ("client", "server"), (figure, source)
    for figure in ("ttft_s", "decode_tps", "completion_tokens"):
        assert line["sources"][figure] == "client"  # this server reports no timings of its own
    unknown = [key for key in ("prompt_tokens", "prefill_tps", "gpu_layers") if line[key] is None]
    assert unknown and not set(unknown) & set(line["sources"])  # unknown is null, with no source
    port = url.split(":")[2].split("/")[0]
    events = log.read_text(encoding="utf-8").splitlines()
    assert events, "the audit saw no connection at all: it is not working"
    for event in events:
        assert event.startswith(("socket.connect ('127.0.0.1', " + port + ")",
                                 "socket.getaddrinfo ('127.0.0.1', " + port + ")")), event


def test_summarize_and_translate_run_on_a_server_model(server: tuple[str, str], kestrel_home: Path,
                                                       tmp_path: Path) -> None:
    url, model = server
    doc = tmp_path / "notes.txt"
    doc.write_text("The kestrel hovers over open fields and hunts voles. " * 40, encoding="utf-8")
    summary = kestrel(["summarize", str(doc), "--endpoint", url, "--model", model, "--json", "--no-cache"],
                      kestrel_home)
    assert summary.returncode == 0, summary.stderr
    data = json.loads(summary.stdout.strip().splitlines()[-1])
    assert data["chunks_summarized"] == data["chunks"] >= 1 and data["summary"].strip()
    translation = kestrel(["translate", "The kestrel hovers.", "--to", "fr", "--endpoint", url, "--model", model],
                          kestrel_home)
    assert translation.returncode == 0, translation.stderr
    assert translation.stdout.strip()


def test_a_server_that_is_not_there_is_one_line(kestrel_home: Path) -> None:
    from tests.openai_servers import free_port

    port = free_port()
    result = kestrel(["chat", "--endpoint", f"http://127.0.0.1:{port}/v1", "--model", "m", "hi"], kestrel_home)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "connection refused" in result.stderr and "Traceback" not in result.stderr
