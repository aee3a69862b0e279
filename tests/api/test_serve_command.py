"""``kestrel serve`` as a process on the fake engine: its key is made once and kept, its output, its exit."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from huggingface_hub.utils import httpx

ROOT = Path(__file__).resolve().parents[2]
# The engine is the fake one: the command's own wiring (Qt loop, worker, gate, server, key) is what runs.
PREAMBLE = ("import app.cli.engine\nfrom app.engines.fake import FakeEngine\n"
            "app.cli.engine.make_engine = lambda spec: FakeEngine('fake reply')\n")


def serve(home: Path, model: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``kestrel serve``; returns once it printed its three lines (address, key, how to stop)."""
    argv = ["serve", "--model", str(model), *args]
    code = f"{PREAMBLE}import sys\nfrom app.cli.main import main\nsys.exit(main({argv!r}))"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, text=True, env={**os.environ, "KESTREL_HOME": str(home)}, cwd=ROOT)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while not seen or not seen[-1].startswith("Press Ctrl+C"):
        try:
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            process.kill()
            raise AssertionError(f"kestrel serve did not start: {seen}") from None
    return process, seen


def test_the_key_is_made_once_kept_and_never_printed_unasked(tmp_path: Path) -> None:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"")  # the fake engine does not read it
    home = tmp_path / "home"
    first, lines = serve(home, model, "--port", "0", "--show-key")
    try:
        address = lines[0].strip().removeprefix("Kestrel serves tiny at ")
        assert address.startswith("http://127.0.0.1:") and address.endswith("/v1"), lines
        key = lines[1].strip().removeprefix("API key: ")
        assert len(key) >= 40
        answer = httpx.post(f"{address}/chat/completions", headers={"Authorization": f"Bearer {key}"},
                            json={"messages": [{"role": "user", "content": "hi"}]})
        assert answer.json()["choices"][0]["message"]["content"] == "fake reply"
    finally:
        first.send_signal(signal.SIGINT)
        assert first.wait(30) == 0
    second, lines = serve(home, model, "--port", "0")
    try:
        assert key not in "".join(lines)
        assert lines[1].startswith("API key: kept in ") and "--show-key" in lines[1]
        address = lines[0].strip().rsplit(" at ", 1)[1]
        assert httpx.get(f"{address}/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
