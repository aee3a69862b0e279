"""``kestrel download`` against the stand-in hub: exit codes, JSON, deletion, Ctrl+C."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.library.download import _Reporter, main
from app.models.download import DownloadProgress, target_path
from app.models.library import Library
from tests.hub_server import FakeHub, model_bytes

REPO = "acme/Tiny-GGUF"
FILE = "tiny-F16.gguf"
ROOT = Path(__file__).resolve().parents[2]
JSON_KEYS = {"path", "repo", "filename", "size_bytes", "sha256", "seconds", "resumed_from"}


pytestmark = pytest.mark.usefixtures("loopback_guard")


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(max_seconds=60) as h:
        h.add_file(REPO, FILE, model_bytes())
        yield h


def part_path() -> Path:
    target = target_path(REPO, FILE)
    return target.with_name(target.name + ".part")


def test_json_result_for_a_verified_download(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", REPO, FILE, "--endpoint", hub.url, "--json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out.strip().splitlines()[-1])
    assert result.keys() >= JSON_KEYS
    assert result["sha256"] == hashlib.sha256(model_bytes()).hexdigest()
    assert (result["repo"], result["filename"], result["size_bytes"]) == (REPO, FILE, len(model_bytes()))
    assert result["resumed_from"] == 0 and result["seconds"] >= 0
    assert Path(result["path"]).read_bytes() == model_bytes()
    assert [e.path for e in Library().entries()] == [result["path"]]
    assert "SHA-256 verified" in err


def test_plain_output_is_the_path(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", REPO, FILE, "--endpoint", hub.url]) == 0
    out, _ = capsys.readouterr()
    assert out.strip() == str(target_path(REPO, FILE))


def test_a_second_run_resumes_the_kept_part(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    part = part_path()
    part.parent.mkdir(parents=True)
    part.write_bytes(model_bytes()[:1_000_000])
    assert main(["download", REPO, FILE, "--endpoint", hub.url, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["resumed_from"] == 1_000_000
    assert hub.transfers(FILE)[0].range == "bytes=1000000-"


def test_a_tampered_file_exits_non_zero_and_is_deleted(hub: FakeHub,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    hub.tamper(REPO, FILE)
    assert main(["download", REPO, FILE, "--endpoint", hub.url, "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # no JSON for a file that is not there
    [line] = [ln for ln in err.splitlines() if ln.startswith("kestrel: error:")]
    assert "checksum mismatch: expected" in line and line.endswith("the file was deleted")
    assert not target_path(REPO, FILE).exists() and not part_path().exists()
    assert Library().entries() == []


def test_unknown_repo_is_one_line_and_exit_1(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "acme/Nope", FILE, "--endpoint", hub.url]) == 1
    _, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        f"kestrel: error: repository acme/Nope not found on {hub.url} (check the name; "
        "private repositories need `hf auth login`)"]


def test_progress_lines_when_stderr_is_not_a_terminal(hub: FakeHub,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    hub.rate = 2 << 20  # ~2.2 s: a line at the start, one ~2 s later, then verify and done
    assert main(["download", REPO, FILE, "--endpoint", hub.url]) == 0
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.startswith(f"{FILE}: ")]
    assert "\r" not in err
    assert any("MiB/s · ETA" in ln for ln in lines), lines
    assert lines[-1] == f"{FILE}: done · 4.30 MiB / 4.30 MiB"
    assert len(lines) <= 6


def test_a_terminal_gets_one_rewritten_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    reporter = _Reporter(stream)
    for done in (0, 1 << 20, 2 << 20):
        reporter(DownloadProgress(REPO, FILE, "downloading", done, 4 << 20))
    reporter.finish()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.count("\n") == 1 and text.endswith("\n")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_stops_keeps_the_part_and_exits_130(hub: FakeHub, kestrel_home: Path,
                                                   tmp_path: Path) -> None:
    hub.rate = 1 << 20
    env = {**os.environ, "KESTREL_HOME": str(kestrel_home), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli.library.download", "download", REPO, FILE,
                             "--endpoint", hub.url, "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (part_path().exists() and part_path().stat().st_size > 0):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the download did not start"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert out == ""
    assert "stopped at" in err and "download it again to resume" in err
    assert part_path().stat().st_size > 0 and not target_path(REPO, FILE).exists()
