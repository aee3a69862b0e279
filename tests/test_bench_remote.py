"""bench/remote.py runs end to end with tiny settings: it starts its server, compares both clients, stops it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from huggingface_hub.utils import httpx

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "remote.py"


def load_bench() -> ModuleType:
    """bench/ is scripts, not a package: load the file as a module (registered first, for its dataclasses)."""
    if "bench_remote" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_remote", SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_remote"] = module
        spec.loader.exec_module(module)
    return sys.modules["bench_remote"]


@pytest.mark.parametrize(("data", "expected"), [
    ('{"choices":[{"delta":{"content":"Hi"}}]}', True),  # llama-server: compact JSON
    ('{"choices": [{"delta": {"content": " a"}}]}', True),  # llama-cpp-python: spaced
    ('{"choices": [{"delta": {"role": "assistant"}}]}', False),
    ('{"choices":[{"delta":{"role":"assistant","content":null}}]}', False),
    ('{"choices":[{"delta":{"content":""},"finish_reason":"stop"}]}', False),
    ('{"choices":[{"delta":{"reasoning_content":"hmm"}}]}', False),
])
def test_the_bare_reader_spots_content_without_parsing(data: str, expected: bool) -> None:
    assert load_bench().has_content(data) is expected


@pytest.mark.real_model
@pytest.mark.usefixtures("loopback_guard")
def test_bench_runs_against_a_server_it_starts_and_stops(starter_model: Path) -> None:
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python's server extra is not installed")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--gguf", str(starter_model), "--rounds", "1", "--tokens", "12", "--json"],
        capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["server"] == "llama-cpp-python" and result["same_text"] is True
    assert result["tokens_per_run"] == [12, 12]  # both clients got the whole greedy reply
    k, b = result["kestrel_decode_tps"], result["bare_decode_tps"]
    assert k > 0 and b > 0 and result["decode_ratio"] == pytest.approx(k / b, rel=0.01)
    assert result["kestrel_ttft_s"] > 0 and result["bare_ttft_s"] > 0
    assert result["server_reported_decode_tps"] is None  # this server reports no timings: nothing invented
    assert result["server_log_decode_tps"] > 0  # llama.cpp's own figure, read from the server's log
    assert result["kestrel_over_server_log"] > 0 and result["bare_over_server_log"] > 0
    with pytest.raises(httpx.TransportError):  # the server it started is gone
        httpx.get(f"{result['endpoint']}/models", timeout=2.0, trust_env=False)
