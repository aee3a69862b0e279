"""Smoke test of a built Kestrel bundle (dist/Kestrel), as a user would first meet it.

    python3 packaging/smoke_test.py dist/Kestrel [--screenshot PATH] [--json-out PATH]

Standard library only, so any Python 3.10+ runs it (packaging/smoke_test.sh picks one;
tests/packaging/test_bundle.py runs the same checks under pytest). Every run of the bundle
gets an empty HOME and no KESTREL_*/XDG_*/QT_* variables, and runs without a network
(``unshare -n``, or ``unshare -rn`` where only user namespaces are allowed; when neither
works the check says so and goes on with just the empty HOME).

Checks:
  libraries  every ELF file in the bundle resolves its libraries from the bundle or the
             system (Wayland client libraries excepted: every Wayland desktop has them)
  cli        ``kestrel chat --json --max-tokens 16 "Hello"`` answers from the bundled starter
             model; prints the time from process start to the first streamed byte
  gui        ``kestrel`` alone opens a real window under Xvfb, a typed message gets a reply,
             a screenshot is taken, Ctrl+Q quits with status 0 and leaves no process behind,
             and the history database under the empty HOME holds the message and the reply
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MESSAGE = "Hello from the bundle smoke test 4711"
STARTER_FILENAME = "gemma-3-270m-q4_k_m.gguf"
# Client libraries a Linux desktop provides; the bundle leaves them to the system.
SYSTEM_PROVIDED = ("libwayland-", "libGL.so", "libEGL.so", "libGLX", "libOpenGL", "libvulkan")


class SmokeFailure(AssertionError):
    """A check failed; the message says what was expected and what happened."""


@dataclass
class Isolation:
    prefix: list[str]
    description: str


@dataclass
class Result:
    name: str
    ok: bool
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


def executable(bundle: Path) -> Path:
    exe = bundle / ("kestrel.exe" if sys.platform == "win32" else "kestrel")
    if not exe.is_file():
        raise SmokeFailure(f"{exe} not found: build the bundle first (bash packaging/build_linux.sh)")
    return exe


def network_isolation() -> Isolation:
    """A command prefix that runs its argument without network access, where we can have one."""
    if shutil.which("unshare"):
        for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
            if probe.returncode == 0:
                return Isolation(prefix, f"no network ({' '.join(prefix)})")
    return Isolation([], "network NOT isolated (unshare unavailable here); HOME is still empty")


def fresh_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment minus everything that could point Kestrel at existing state."""
    drop = ("KESTREL_", "XDG_", "QT_", "PYTHON", "LD_LIBRARY_PATH", "HF_", "HUGGINGFACE", "DISPLAY",
            "WAYLAND_DISPLAY", "GGML_", "LLAMA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(HOME=str(home), LANG=os.environ.get("LANG", "C.UTF-8"), **extra)
    return env


def ggufs_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.gguf*") if p.is_file())


# ---- libraries -----------------------------------------------------------------------

def check_libraries(bundle: Path) -> Result:
    """ldd every shared object in the bundle; nothing may be missing but system-provided libs."""
    started = time.monotonic()
    if not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        return Result("libraries", True, 0.0, {"skipped": "ldd is Linux-only"})
    internal = bundle / "_internal"
    env = dict(os.environ, LD_LIBRARY_PATH=str(internal))
    missing: dict[str, list[str]] = {}
    checked = 0
    for path in sorted([bundle / "kestrel", *internal.rglob("*.so*")]):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                continue
        checked += 1
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env, check=False).stdout
        lost = [line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line]
        lost = [name for name in lost if not name.startswith(SYSTEM_PROVIDED)]
        if lost:
            missing[str(path.relative_to(bundle))] = lost
    if missing:
        raise SmokeFailure("libraries missing from the bundle: " + json.dumps(missing, indent=1))
    dangling = [str(p.relative_to(bundle)) for p in internal.rglob("*") if p.is_symlink() and not p.exists()]
    if dangling:
        raise SmokeFailure(f"dangling links in the bundle: {dangling}")
    return Result("libraries", True, time.monotonic() - started, {"elf_files": checked})


# ---- cli -------------------------------------------------------------------------------

def check_cli(bundle: Path, isolation: Isolation | None = None, timeout_s: float = 180) -> Result:
    """First start of the bundled CLI: the answer streams, with the time to its first byte."""
    exe = executable(bundle)
    isolation = isolation or network_isolation()
    with tempfile.TemporaryDirectory(prefix="kestrel-smoke-cli-") as tmp:
        home = Path(tmp)
        cmd = [*isolation.prefix, str(exe), "chat", "--json", "--max-tokens", "16", "Hello"]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=fresh_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, cwd=tmp, bufsize=0)
        stderr_chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        out = bytearray()
        first_byte_s: float | None = None
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = started + timeout_s
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise SmokeFailure(f"kestrel chat did not finish in {timeout_s:g} s; output so far: {out[-500:]!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            if first_byte_s is None:
                first_byte_s = time.monotonic() - started
            out += chunk
        code = proc.wait(30)
        total_s = time.monotonic() - started
        reader.join(10)
        stderr = b"".join(stderr_chunks).decode("utf-8", "replace")
        text = out.decode("utf-8", "replace")
        if code != 0:
            raise SmokeFailure(f"kestrel chat exited with {code}\nstdout: {text[-2000:]}\nstderr: {stderr[-2000:]}")
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            stats = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise SmokeFailure(f"no JSON stats line at the end of the output:\n{text[-2000:]}") from None
        if int(stats.get("completion_tokens", 0)) < 1 or not str(stats.get("text", "")).strip():
            raise SmokeFailure(f"no tokens were produced: {stats}")
        model_path = Path(stats.get("model_path", ""))
        if model_path.name != STARTER_FILENAME or bundle.resolve() not in model_path.resolve().parents:
            raise SmokeFailure(f"expected the bundled starter model, got {model_path}")
        copies = ggufs_under(home)
        if copies:
            raise SmokeFailure(f"the starter model was copied into the user's folders: {copies}")
        if "Traceback" in stderr:
            raise SmokeFailure(f"a traceback on stderr:\n{stderr[-2000:]}")
        return Result("cli", True, total_s, {
            "first_token_s": round(first_byte_s or total_s, 3),
            "total_s": round(total_s, 3),
            "engine_ttft_s": stats.get("ttft_s"),
            "completion_tokens": stats.get("completion_tokens"),
            "decode_tps": stats.get("decode_tps"),
            "reply": stats.get("text"),
            "network": isolation.description,
        })


# ---- gui -------------------------------------------------------------------------------

class _Xvfb:
    """A private X server on a display number it picks itself (-displayfd: no races)."""

    def __init__(self, log: Path) -> None:
        read_fd, write_fd = os.pipe()
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            stdout=self._log, stderr=subprocess.STDOUT, pass_fds=(write_fd,))
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + 20
        with os.fdopen(read_fd, "rb") as pipe:
            while not number.endswith(b"\n") and time.monotonic() < deadline:
                chunk = pipe.read(1)
                if not chunk:
                    break
                number += chunk
        if not number.strip():
            self.stop()
            raise SmokeFailure(f"Xvfb did not start; see {log}")
        self.display = f":{int(number)}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def _xdotool(display: str, *args: str, timeout: float = 15.0, check: bool = True) -> str:
    try:
        result = subprocess.run(["xdotool", *args], check=False, env=dict(os.environ, DISPLAY=display),
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SmokeFailure(f"xdotool {' '.join(args)} timed out after {timeout:g} s") from None
    if check and result.returncode != 0:
        raise SmokeFailure(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _wait_for(condition, timeout_s: float, what: str, alive=None, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise SmokeFailure(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval)


def _history(home: Path) -> list[tuple[str, str, int, str | None]]:
    db = home / ".local" / "share" / "Kestrel" / "history.sqlite3"
    if not db.is_file():
        return []
    try:
        conn = sqlite3.connect(db, timeout=5)  # read only by use: a mode=ro open fails once the WAL is gone
        try:
            return list(conn.execute("SELECT role, content, complete, stats FROM messages ORDER BY id"))
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def check_gui(bundle: Path, screenshot: Path | None = None, isolation: Isolation | None = None) -> Result:
    """Double-click start: a real window, a chat with the starter model, Ctrl+Q, exit 0."""
    exe = executable(bundle)
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            raise SmokeFailure(f"{tool} is not installed (apt-get install xvfb xdotool)")
    isolation = isolation or network_isolation()
    with tempfile.TemporaryDirectory(prefix="kestrel-smoke-gui-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        log_path = Path(tmp) / "kestrel.log"
        xvfb = _Xvfb(Path(tmp) / "xvfb.log")
        app: subprocess.Popen[bytes] | None = None
        try:
            display = xvfb.display
            with log_path.open("wb") as log:
                started = time.monotonic()
                app = subprocess.Popen([*isolation.prefix, str(exe)], env=fresh_env(home, DISPLAY=display),
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=tmp, start_new_session=True)

                def output() -> str:
                    return log_path.read_text(errors="replace")[-3000:]

                def alive() -> None:
                    if app is not None and app.poll() is not None:
                        raise SmokeFailure(f"the app exited early with {app.returncode}:\n{output()}")

                window = _wait_for(
                    lambda: _xdotool(display, "search", "--onlyvisible", "--name", "Kestrel", check=False),
                    90, "the Kestrel window", alive).splitlines()[0]
                window_s = time.monotonic() - started
                title = _wait_for(lambda: (t := _xdotool(display, "getwindowname", window)) and "Gemma" in t and t,
                                  120, "the starter model to load (window title)", alive)
                loaded_s = time.monotonic() - started
                # No window manager on Xvfb: hand the window the keyboard focus ourselves.
                _xdotool(display, "windowfocus", "--sync", window)
                time.sleep(0.3)
                _xdotool(display, "type", "--delay", "10", MESSAGE, timeout=30)
                _xdotool(display, "key", "Return")
                sent = time.monotonic()
                _wait_for(lambda: any(r[0] == "assistant" and r[2] == 1 for r in _history(home)),
                          180, "the reply to be stored in the history database", alive, interval=0.25)
                reply_s = time.monotonic() - sent
                time.sleep(0.5)  # let the last repaint land before the screenshot
                shot = None
                if screenshot is not None and shutil.which("import"):
                    screenshot.parent.mkdir(parents=True, exist_ok=True)
                    subprocess.run(["import", "-window", "root", str(screenshot)], check=False,
                                   env=dict(os.environ, DISPLAY=display), capture_output=True, timeout=30)
                    shot = str(screenshot) if screenshot.is_file() else None
                _xdotool(display, "windowfocus", "--sync", window)
                _xdotool(display, "key", "ctrl+q")
                quit_started = time.monotonic()
                try:
                    code = app.wait(30)
                except subprocess.TimeoutExpired:
                    raise SmokeFailure(f"the app did not quit on Ctrl+Q:\n{output()}") from None
                quit_s = time.monotonic() - quit_started
                if code != 0:
                    raise SmokeFailure(f"the app exited with {code}:\n{output()}")
                try:  # nothing of the app's session may outlive it (no stray children)
                    os.killpg(app.pid, 0)
                    time.sleep(1)
                    os.killpg(app.pid, 0)
                    raise SmokeFailure("processes of the app's session are still running after it quit")
                except ProcessLookupError:
                    pass
        finally:
            if app is not None and app.poll() is None:
                os.killpg(app.pid, signal.SIGKILL)
                app.wait(5)
            xvfb.stop()

        log_text = log_path.read_text(errors="replace")
        if "Traceback" in log_text:
            raise SmokeFailure(f"a traceback in the app's output:\n{log_text[-3000:]}")
        rows = _history(home)
        users = [r for r in rows if r[0] == "user"]
        replies = [r for r in rows if r[0] == "assistant"]
        if [r[1] for r in users] != [MESSAGE]:
            raise SmokeFailure(f"the history database does not hold the typed message: {rows}")
        if len(replies) != 1 or not replies[0][1].strip() or replies[0][2] != 1:
            raise SmokeFailure(f"the history database does not hold one complete reply: {rows}")
        stats = json.loads(replies[0][3]) if replies[0][3] else {}
        copies = ggufs_under(home)
        if copies:
            raise SmokeFailure(f"the starter model was copied into the user's folders: {copies}")
        return Result("gui", True, time.monotonic() - started, {
            "window_s": round(window_s, 2),
            "model_loaded_s": round(loaded_s, 2),
            "reply_stored_s": round(reply_s, 2),
            "engine_ttft_s": stats.get("ttft_s"),
            "quit_s": round(quit_s, 2),
            "title": title,
            "reply": replies[0][1],
            "screenshot": shot,
            "network": isolation.description,
        })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path, help="the built dist/Kestrel folder")
    parser.add_argument("--screenshot", type=Path, help="where to save a screenshot of the window")
    parser.add_argument("--json-out", type=Path, help="write the results as JSON here")
    parser.add_argument("--only", choices=["libraries", "cli", "gui"], action="append")
    args = parser.parse_args(argv)
    bundle = args.bundle.resolve()
    isolation = network_isolation()
    print(f"smoke test of {bundle} ({isolation.description})", flush=True)
    checks = {
        "libraries": lambda: check_libraries(bundle),
        "cli": lambda: check_cli(bundle, isolation),
        "gui": lambda: check_gui(bundle, args.screenshot, isolation),
    }
    results: list[Result] = []
    failed = 0
    for name, run in checks.items():
        if args.only and name not in args.only:
            continue
        started = time.monotonic()
        try:
            result = run()
        except SmokeFailure as exc:
            failed += 1
            result = Result(name, False, time.monotonic() - started, {"error": str(exc)})
            print(f"FAIL {name}: {exc}", flush=True)
        else:
            print(f"ok   {name} ({result.seconds:.1f} s) {json.dumps(result.details, ensure_ascii=False)}", flush=True)
            if name == "cli":
                print(f"first start to first token: {result.details['first_token_s']:.2f} s", flush=True)
        results.append(result)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps([r.__dict__ for r in results], indent=2, ensure_ascii=False))
    print(f"{len(results) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
