"""Hub download: listing, verified download, resume after a cut or a restart, stop, refusals.

Everything runs against tests.hub_server.FakeHub on 127.0.0.1; an audit hook refuses any
other connection for the duration of each test.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi
from huggingface_hub.utils import httpx

from app.gguf.reader import read_gguf_info
from app.models import download as dl
from app.models.download import (
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
    DownloadProgress,
    DownloadResult,
    download_file,
    list_gguf_files,
    partial_size,
    target_path,
)
from app.models.download.pace import Pace
from app.models.library import Library
from tests.hub_server import FakeHub, loopback_only, model_bytes

REPO = "acme/Tiny-GGUF"
FILE = "tiny-F16.gguf"
SMALL = "tiny-mini-F16.gguf"
ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("loopback_guard")


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(max_seconds=60) as h:
        h.add_file(REPO, FILE, model_bytes())
        h.add_file(REPO, SMALL, model_bytes(256, 64))
        h.add_file(REPO, "README.md", b"# Tiny\n", lfs=False)
        yield h


def fetch(hub: FakeHub, filename: str = FILE, **kwargs: Any) -> DownloadResult:
    kwargs.setdefault("retry_delay", 0.02)
    return download_file(REPO, filename, endpoint=hub.url, **kwargs)


def part_of(filename: str = FILE) -> Path:
    target = target_path(REPO, filename)
    return target.with_name(target.name + ".part")


def run_in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, box


# --- listing -------------------------------------------------------------------------------

def test_list_gguf_files_gives_names_sizes_and_sha256(hub: FakeHub) -> None:
    files = list_gguf_files(REPO, endpoint=hub.url)
    assert [f.name for f in files] == [FILE, SMALL]  # README.md is not a GGUF
    big = files[0]
    assert big.size == len(model_bytes())
    assert big.sha256 == hashlib.sha256(model_bytes()).hexdigest()


def test_list_unknown_repo_says_not_found(hub: FakeHub) -> None:
    with pytest.raises(DownloadError, match=r"repository acme/Nope not found on http://127\.0\.0\.1"):
        list_gguf_files("acme/Nope", endpoint=hub.url)


def test_the_stand_in_answers_huggingface_hub_like_the_hub(hub: FakeHub, tmp_path: Path) -> None:
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    dl.no_hub_side_requests()  # huggingface-hub would otherwise fetch a registry from huggingface.co
    meta = get_hf_file_metadata(hf_hub_url(REPO, FILE, endpoint=hub.url), endpoint=hub.url)
    assert meta.size == len(model_bytes())
    assert meta.etag == hashlib.sha256(model_bytes()).hexdigest()
    assert meta.commit_hash == hub.commit(REPO)
    path = hf_hub_download(REPO, SMALL, endpoint=hub.url, cache_dir=tmp_path / "hf-cache")
    assert Path(path).read_bytes() == model_bytes(256, 64)


# --- a normal download -----------------------------------------------------------------------

def test_download_verifies_and_registers_in_the_library(hub: FakeHub, kestrel_home: Path) -> None:
    events: list[DownloadProgress] = []
    result = fetch(hub, progress=events.append)

    data = model_bytes()
    assert result.path == kestrel_home / "data" / "models" / "acme__Tiny-GGUF" / FILE
    assert result.path.read_bytes() == data
    assert result.sha256 == hashlib.sha256(data).hexdigest() and result.verified
    assert (result.size, result.resumed_from, result.bytes_transferred) == (len(data), 0, len(data))
    assert not part_of().exists() and not part_of().with_suffix(".part.json").exists()
    assert read_gguf_info(result.path).n_layer == 2
    [entry] = Library().entries()
    assert (entry.path, entry.source) == (str(result.path), "downloaded")

    downloading = [e.done for e in events if e.phase == "downloading"]
    assert downloading == sorted(downloading)
    assert events[-1].phase == "done" and events[-1].done == len(data) and events[-1].fraction == 1.0


def test_an_existing_verified_file_is_not_fetched_again(hub: FakeHub) -> None:
    first = fetch(hub)
    again = fetch(hub)
    assert again.path == first.path and again.bytes_transferred == 0
    assert len(hub.transfers(FILE)) == 1


def test_progress_is_throttled_with_speed_and_eta(hub: FakeHub) -> None:
    hub.rate = 4 << 20  # ~1.1 s for the 4.3 MiB file
    stamps: list[tuple[float, DownloadProgress]] = []
    began = time.monotonic()
    fetch(hub, progress=lambda p: stamps.append((time.monotonic(), p)))
    elapsed = time.monotonic() - began

    downloading = [(t, p) for t, p in stamps if p.phase == "downloading"]
    assert len(downloading) <= elapsed * 10 + 4  # about 10 a second at most
    timed = [p for _, p in downloading if p.eta is not None]
    assert timed, "no progress report carried an ETA"
    assert 1 << 20 < timed[-1].speed < 16 << 20  # a rolling speed near the 4 MiB/s throttle
    assert re.fullmatch(r"\d+(\.\d+)? (KiB|MiB) / 4\.\d\d MiB · \d+(\.\d+)? MiB/s · ETA \d+ s", timed[-1].line())


def test_progress_line_format() -> None:
    p = DownloadProgress(REPO, FILE, "downloading", done=int(45.1 * 2**20), total=241 * 2**20,
                         speed=12.3 * 2**20, eta=16.2)
    assert p.line() == "45.1 MiB / 241 MiB · 12.3 MiB/s · ETA 16 s"
    assert DownloadProgress(REPO, FILE, "downloading", 0, None).line() == "0 B"
    assert DownloadProgress(REPO, FILE, "downloading", 3 * 2**30, None, speed=2**20, eta=125).line() \
        == "3.00 GiB · 1.00 MiB/s · ETA 2 min 05 s"


# --- resume ----------------------------------------------------------------------------------

def test_resume_after_a_cut_connection_uses_range(hub: FakeHub) -> None:
    size = len(model_bytes())
    hub.cut(after=1_500_000, times=1)
    result = fetch(hub)

    first, second = hub.transfers(FILE)
    assert first.range is None and first.body_bytes == 1_500_000
    assert second.range == "bytes=1500000-" and second.status == 206
    assert hub.bytes_sent(FILE) < 1.5 * size
    assert result.reconnects == 1 and result.sha256 == hashlib.sha256(model_bytes()).hexdigest()


def test_a_connection_cut_every_time_still_completes(hub: FakeHub) -> None:
    hub.cut(after=1_000_000, times=None)
    result = fetch(hub)
    ranges = [r.range for r in hub.transfers(FILE)]
    assert ranges == [None, "bytes=1000000-", "bytes=2000000-", "bytes=3000000-", "bytes=4000000-"]
    assert result.verified and hub.bytes_sent(FILE) == len(model_bytes())


def test_stop_keeps_the_part_and_a_new_call_resumes_it(hub: FakeHub) -> None:
    """The restart case: a part left by a stopped download is continued by a fresh call."""
    hub.rate = 2 << 20
    stop = threading.Event()

    def on_progress(p: DownloadProgress) -> None:
        if p.done >= 1 << 20:
            stop.set()

    with pytest.raises(DownloadCancelled, match="download it again to resume") as caught:
        fetch(hub, progress=on_progress, stop=stop)
    kept = part_of().stat().st_size
    assert kept == caught.value.done and kept >= 1 << 20
    assert not target_path(REPO, FILE).exists() and Library().entries() == []

    hub.rate = None
    result = fetch(hub)  # a new call, as after an app restart
    last = hub.transfers(FILE)[-1]
    assert last.range == f"bytes={kept}-" and last.body_bytes == len(model_bytes()) - kept
    assert result.resumed_from == kept and result.bytes_transferred == len(model_bytes()) - kept
    assert result.path.read_bytes() == model_bytes()


@pytest.mark.parametrize("stall", [False, True], ids=["streaming", "stalled"])
def test_stop_takes_effect_within_half_a_second(hub: FakeHub, stall: bool) -> None:
    if stall:
        hub.stall_after = 512 << 10  # then the server sends nothing, keeping the connection open
    else:
        hub.rate = 1 << 20
    stop = threading.Event()
    thread, box = run_in_thread(lambda: fetch(hub, stop=stop))
    deadline = time.monotonic() + 10
    while partial_size(REPO, FILE) < 256 << 10:  # progress reports pause while a link stalls
        assert time.monotonic() < deadline, "the download did not start"
        time.sleep(0.01)
    time.sleep(0.3 if stall else 0.0)
    began = time.monotonic()
    stop.set()
    thread.join(5)
    assert time.monotonic() - began < 0.5
    assert isinstance(box.get("error"), DownloadCancelled)
    assert part_of().stat().st_size >= 256 << 10


# ---- a server that trickles ------------------------------------------------------------
def test_a_server_that_sends_a_little_and_stalls_every_time_is_abandoned(hub: FakeHub) -> None:
    hub.stall_after = 4096  # every connection: 4 KiB, then nothing until the read times out
    began = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch(hub, timeout=0.4, min_bytes=64 << 10, window=2.0)
    took = time.monotonic() - began
    message = str(caught.value)
    assert not isinstance(caught.value, DownloadCancelled)
    assert "abandoned: less than 64.0 KiB arrived in 2 s" in message and "too slowly" in message
    assert "\n" not in message and part_of().name in message
    assert len(hub.transfers(FILE)) >= 3  # it did reconnect, each time getting a little
    assert 2.0 <= took < 4.0  # the window, not the ~8 minutes the reconnects alone would take
    assert part_of().stat().st_size == hub.bytes_sent(FILE)  # what came is kept for a resume


def test_a_steady_trickle_is_abandoned_mid_connection(hub: FakeHub) -> None:
    hub.rate = 4096  # 4 KiB/s on one live connection
    began = time.monotonic()
    with pytest.raises(DownloadError, match=r"abandoned: less than 16\.0 KiB arrived in 1 s"):
        fetch(hub, min_bytes=16 << 10, window=1.0)
    assert 1.0 <= time.monotonic() - began < 2.5
    assert len(hub.transfers(FILE)) == 1  # no reconnect was needed to notice


def test_a_slow_server_above_the_floor_finishes(hub: FakeHub) -> None:
    hub.rate = 160 << 10  # ~1.4 s for the small file: a few windows, each five times above the floor
    result = fetch(hub, SMALL, min_bytes=16 << 10, window=0.5)
    assert result.path.read_bytes() == model_bytes(256, 64)


def test_waits_before_a_retry_do_not_count_against_the_pace(hub: FakeHub) -> None:
    hub.fail_status, hub.fail_times = 503, 2
    result = fetch(hub, SMALL, retry_delay=0.4, min_bytes=1, window=0.3)  # waits of 0.4 s and 0.8 s
    assert result.reconnects == 2 and result.path.read_bytes() == model_bytes(256, 64)


def test_pace_windows_roll_over_and_pause() -> None:
    now = [100.0]
    pace = Pace(min_bytes=1000, window=10.0, clock=lambda: now[0])
    pace.start(0)
    now[0] = 109.9
    assert not pace.too_slow(0)  # a window is not over yet
    now[0] = 110.0
    assert not pace.too_slow(1000)  # enough came: a new window starts at 110
    now[0] = 119.0
    pace.pause()
    now[0] = 500.0  # a long retry wait
    assert not pace.too_slow(1000)
    pace.resume()
    now[0] = 500.9
    assert not pace.too_slow(1500)  # 9.9 s of transfer time in this window
    now[0] = 501.0
    assert pace.too_slow(1999) and pace.too_slow(1999)  # 999 bytes in 10 s: too slow, and it stays so
    assert pace.describe() == "less than 1000 B arrived in 10 s"


def test_a_part_of_another_file_version_is_discarded(hub: FakeHub) -> None:
    part = part_of()
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)
    part.with_name(part.name + ".json").write_text(json.dumps({"sha256": "0" * 64}))
    result = fetch(hub)
    assert hub.transfers(FILE)[0].range is None and result.resumed_from == 0 and result.verified


def test_a_server_ignoring_range_restarts_from_zero(hub: FakeHub) -> None:
    part = part_of()
    part.parent.mkdir(parents=True)
    part.write_bytes(model_bytes()[:1_000_000])
    hub.ignore_range = True
    result = fetch(hub)
    [only] = hub.transfers(FILE)
    assert only.range == "bytes=1000000-" and only.status == 200
    assert result.resumed_from == 0 and result.path.read_bytes() == model_bytes()


# --- refusals --------------------------------------------------------------------------------

def _nothing_kept(filename: str = FILE) -> bool:
    target = target_path(REPO, filename)
    return not target.exists() and not part_of(filename).exists() and Library().entries() == []


def test_a_tampered_file_is_refused_and_deleted(hub: FakeHub) -> None:
    hub.tamper(REPO, FILE)
    expected = hashlib.sha256(model_bytes()).hexdigest()
    got = hashlib.sha256(hub.repos[REPO][FILE].served).hexdigest()
    with pytest.raises(ChecksumMismatch) as caught:
        fetch(hub)
    assert str(caught.value) == (f"{FILE}: checksum mismatch: expected {expected}, got {got}; "
                                 "the file was deleted")
    assert _nothing_kept()


def test_a_tampered_tail_after_a_resume_is_refused(hub: FakeHub) -> None:
    part = part_of()
    part.parent.mkdir(parents=True)
    part.write_bytes(model_bytes()[:1_000_000])  # honest bytes from an earlier run
    hub.tamper(REPO, FILE, at=3_000_000)
    with pytest.raises(ChecksumMismatch):
        fetch(hub)
    assert _nothing_kept()


def test_a_file_without_sha256_is_refused_unless_allowed(hub: FakeHub) -> None:
    hub.add_file(REPO, "plain.gguf", model_bytes(256, 64), lfs=False)
    with pytest.raises(DownloadError, match=r"no SHA-256 .* cannot be verified; refusing it"):
        fetch(hub, "plain.gguf")
    assert hub.transfers("plain.gguf") == [] and _nothing_kept("plain.gguf")

    result = fetch(hub, "plain.gguf", allow_unverified=True)
    assert not result.verified and result.path.read_bytes() == model_bytes(256, 64)


def test_unknown_repo_file_and_revision_messages(hub: FakeHub) -> None:
    with pytest.raises(DownloadError, match=r"^repository acme/Nope not found on http://127"):
        download_file("acme/Nope", FILE, endpoint=hub.url)
    with pytest.raises(DownloadError) as caught:
        fetch(hub, "missing.gguf")
    assert str(caught.value) == (f"{REPO} has no file 'missing.gguf' at revision main; "
                                 f"its GGUF files: {FILE}, {SMALL}")
    with pytest.raises(DownloadError, match="revision 'v9' not found in acme/Tiny-GGUF"):
        fetch(hub, revision="v9")
    assert hub.transfers() == []


def test_bad_names_are_refused_before_any_request(hub: FakeHub) -> None:
    for name, reason in (("README.md", "not a .gguf file"), ("../evil.gguf", "invalid file name"),
                         ("/etc/x.gguf", "invalid file name")):
        with pytest.raises(DownloadError, match=reason):
            fetch(hub, name)
    with pytest.raises(DownloadError, match="not a valid repository id"):
        download_file("not a repo", FILE, endpoint=hub.url)
    assert hub.requests == []


def test_server_errors_give_up_after_the_retries(hub: FakeHub) -> None:
    hub.fail_status = 503
    with pytest.raises(DownloadError, match=r"failed after 2 retries: the server answered HTTP 503; "
                                            r"0 B kept in tiny-F16\.gguf\.part"):
        fetch(hub, retries=2)
    assert len([r for r in hub.requests if r.status == 503]) == 3


def test_a_passing_server_error_is_retried(hub: FakeHub) -> None:
    hub.fail_status, hub.fail_times = 503, 1
    assert fetch(hub).reconnects == 1


def test_too_little_free_space_is_refused(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10**9, 10**9, 1000))  # type: ignore[attr-defined]
    with pytest.raises(DownloadError, match=r"not enough free space .* needs 4\.\d+ MiB more, 1000 B is free"):
        fetch(hub)
    assert hub.transfers() == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_full_disk_is_reported(hub: FakeHub) -> None:
    part = part_of()
    part.parent.mkdir(parents=True)
    part.symlink_to("/dev/full")  # every write fails with ENOSPC
    with pytest.raises(DownloadError, match=r"the disk is full while writing .* download again to resume"):
        fetch(hub)


def test_one_download_of_a_file_at_a_time(hub: FakeHub) -> None:
    hub.stall_after = 64 << 10
    stop = threading.Event()
    started = threading.Event()
    thread, box = run_in_thread(lambda: fetch(hub, stop=stop, progress=lambda p: started.set()))
    assert started.wait(10)
    with pytest.raises(DownloadError, match="already being downloaded"):
        fetch(hub)
    stop.set()
    thread.join(5)
    assert isinstance(box.get("error"), DownloadCancelled)


# --- guards ----------------------------------------------------------------------------------

def test_the_network_guard_refuses_other_hosts() -> None:
    with loopback_only() as refused, socket.socket() as sock:
        with pytest.raises(PermissionError):
            sock.connect(("192.0.2.1", 80))
        with pytest.raises(PermissionError):
            socket.create_connection(("huggingface.co", 443), timeout=0.2)
    assert refused == ["socket.connect 192.0.2.1", "socket.getaddrinfo huggingface.co"]


def test_importing_the_module_uses_neither_qt_nor_the_network() -> None:
    code = ("import sys, socket\n"
            "sys.addaudithook(lambda e, a: e.startswith('socket.') and sys.exit('network: ' + e))\n"
            "import app.models.download\n"
            "assert not [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))]\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_being_offline_is_said_plainly_not_as_an_errno(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an offline machine sees: no '[Errno -2] Name or service not known', and that nothing is wrong."""
    def offline(*_args: Any, **_kwargs: Any) -> Any:
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(HfApi, "model_info", offline)
    with pytest.raises(DownloadError) as caught:
        dl.list_gguf_files("owner/model", "http://hub.example")
    assert str(caught.value) == ("cannot reach http://hub.example: no network connection (the hub's address does not "
                                 "resolve); Kestrel works offline with the models you already have")

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(HfApi, "model_info", refused)
    with pytest.raises(DownloadError, match=r"nothing answers there \(connection refused\)$"):
        dl.list_gguf_files("owner/model", "http://127.0.0.1:9")
