"""Driven from outside in a real window (type, Enter, wait, close), the message and the
reply are in the history database afterwards.

The app runs as users run it (``app.ui.application.run``) on the xcb platform against an
``Xvfb`` server, with the fake engine injected through the engine factory by a small
launcher; ``xdotool`` types real X key events into it and quits it with Ctrl+Q (File >
Quit). Every wait is on a condition: the window title, a line the launcher prints when
the chat input has the keyboard focus, the reply in the database. Skipped where Xvfb or
xdotool is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat.history import History, StoredMessage
from app.engines.fake import DEFAULT_REPLY

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = "Hello Kestrel, this is an end to end test 4711"

#: ``python -c LAUNCHER MODEL``: the app's own run() with the fake engine, printing FOCUSED
#: once the chat input has the keyboard focus (so typing starts only then).
LAUNCHER = r"""
import sys

from app.engines.fake import FakeEngine
from app.ui.application import create_application, run


def on_focus(_old, new):
    if new is not None and new.objectName() == "chatInput":
        print("FOCUSED", flush=True)


create_application().focusChanged.connect(on_focus)
sys.exit(run(sys.argv[1], engine_factory=lambda spec: FakeEngine(tokens_per_s=200)))
"""

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
    reason="needs Xvfb and xdotool on PATH",
)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def display(tmp_path: Path) -> Iterator[str]:
    """A private Xvfb server on the first free display in :90-:99."""
    for number in range(90, 100):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        log = (tmp_path / f"xvfb-{number}.log").open("wb")
        server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while server.poll() is None and time.monotonic() < deadline:
                if Path(f"/tmp/.X11-unix/X{number}").exists():
                    break
                time.sleep(0.05)
            if server.poll() is not None:  # lost a race for this display: try the next one
                continue
            if not Path(f"/tmp/.X11-unix/X{number}").exists():
                pytest.fail(f"Xvfb :{number} did not start; see {log.name}")
            yield f":{number}"
            return
        finally:
            _stop(server)
            log.close()
    pytest.skip("no free X display in :90-:99")


def xdotool(display: str, *args: str, timeout: float = 10.0) -> str:
    result = subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=display),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"xdotool {' '.join(args)} failed: {result.stderr.strip()}"
    return result.stdout.strip()


def stored_messages() -> list[StoredMessage]:
    with History(History.default_path()) as history:
        return [m for c in history.list_conversations() for m in history.messages(c.id)]


def wait_for(condition, timeout_s: float, what: str, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval)


@pytest.mark.timeout(120)
# This test runs no Qt code in-process: an exception pytest-qt sees while it processes events
# after the call comes from a widget another test left alive, so do not pin it on this test.
@pytest.mark.qt_no_exception_capture
def test_typed_message_and_reply_reach_the_history_database(display: str, kestrel_home: Path,
                                                             tmp_path: Path) -> None:
    model = tmp_path / "fake.gguf"  # an existing path, so the starter model is not assembled
    model.write_bytes(b"GGUF")
    env = dict(os.environ, DISPLAY=display, KESTREL_HOME=str(kestrel_home), PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("QT_QPA_PLATFORM", None)  # the real xcb platform
    app_log = tmp_path / "app.log"
    with app_log.open("wb") as log:
        app = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(model)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
        try:
            def app_output() -> str:
                return app_log.read_text(errors="replace")[-3000:]

            found = xdotool(display, "search", "--sync", "--onlyvisible", "--name", "Kestrel", timeout=30)
            window = found.splitlines()[0]
            title = wait_for(lambda: (t := xdotool(display, "getwindowname", window)) and "Fake model" in t and t,
                             20, "the model to load (window title)")
            assert "Kestrel" in title
            # No window manager runs on Xvfb: give the window the keyboard focus ourselves.
            xdotool(display, "windowfocus", "--sync", window)
            wait_for(lambda: "FOCUSED" in app_output(), 10, "the chat input to get the keyboard focus")
            xdotool(display, "type", "--delay", "15", MESSAGE)
            xdotool(display, "key", "Return")
            wait_for(lambda: any(m.role == "assistant" and m.complete for m in stored_messages()), 20,
                     f"the reply in the history database\n{app_output()}")
            if shutil.which("import"):
                subprocess.run(["import", "-window", "root", str(tmp_path / "kestrel-window.png")],
                               env=dict(os.environ, DISPLAY=display), capture_output=True, timeout=20)
            assert app.poll() is None, f"the app exited early:\n{app_output()}"
            xdotool(display, "key", "ctrl+q")
            try:
                code = app.wait(20)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"the app did not quit on Ctrl+Q:\n{app_output()}") from None
            assert code == 0, f"the app exited with {code}:\n{app_output()}"
        finally:
            _stop(app)

    messages = stored_messages()
    users = [m for m in messages if m.role == "user"]
    assert [m.content for m in users] == [MESSAGE], f"stored messages: {messages}\n{app_log.read_text()[-3000:]}"
    replies = [m for m in messages if m.role == "assistant"]
    assert len(replies) == 1
    reply = replies[0]
    assert reply.id > users[0].id
    assert reply.content == DEFAULT_REPLY
    assert reply.complete
    assert reply.stats is not None and reply.stats.get("stop_reason") == "eos"
