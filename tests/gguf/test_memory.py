"""Memory estimates against measured RSS growth of real loads, and the fit badges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.gguf.memory import MachineMemory, MiB, estimate, fit, kv_cache_bytes, layers_that_fit
from app.gguf.reader import read_gguf_info
from tests import gguf_files

ROOT = Path(__file__).resolve().parents[2]

MEASURE = """
import json, sys
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
from app.engines.llama import native
from app.engines.llama.engine import LlamaEngine
from app.engines.contract import LocalModel
native.lib()
before = rss()
engine = LlamaEngine()
engine.load(LocalModel(Path(sys.argv[1]), n_ctx=int(sys.argv[2])))
print(json.dumps({"growth": rss() - before}))
"""


def measured_growth(path: Path, n_ctx: int) -> int:
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(n_ctx)], capture_output=True,
                         text=True, timeout=120, cwd=ROOT, check=True).stdout
    return int(json.loads(out.strip().splitlines()[-1])["growth"])


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("mem")
    return [
        gguf_files.write_tiny_llama(folder / "small.gguf", n_layer=8, n_embd=512, n_head=8, n_head_kv=4,
                                    n_vocab=8000, n_ctx_train=4096),
        gguf_files.write_tiny_llama(folder / "larger.gguf", n_layer=12, n_embd=1024, n_head=16, n_head_kv=4,
                                    n_vocab=32000, n_ctx_train=4096),
    ]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc")
@pytest.mark.parametrize("n_ctx", [512, 4096])
@pytest.mark.parametrize("which", [0, 1])
def test_estimate_matches_rss_growth_of_synthetic_models(synthetic: list[Path], which: int, n_ctx: int) -> None:
    path = synthetic[which]
    predicted = estimate(read_gguf_info(path), n_ctx).ram_bytes
    growth = measured_growth(path, n_ctx)
    assert predicted == pytest.approx(growth, rel=0.15), (predicted / MiB, growth / MiB)


@pytest.mark.real_model
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc")
@pytest.mark.parametrize("n_ctx", [2048, 8192])
def test_estimate_matches_rss_growth_of_the_starter_model(starter_model: Path, n_ctx: int) -> None:
    predicted = estimate(read_gguf_info(starter_model), n_ctx).ram_bytes
    growth = measured_growth(starter_model, n_ctx)
    assert predicted == pytest.approx(growth, rel=0.15), (predicted / MiB, growth / MiB)


def test_kv_cache_formula_matches_llama_cpp_for_the_starter_model(starter_model: Path) -> None:
    # llama.cpp itself reports a 36 MiB KV cache at n_ctx 2048 and 72 MiB at 4096 for this model.
    info = read_gguf_info(starter_model)
    assert kv_cache_bytes(info, 2048) == 36 * MiB
    assert kv_cache_bytes(info, 4096) == 72 * MiB
    assert kv_cache_bytes(info, 4000) == 72 * MiB  # padded to 256


def test_fit_badges(synthetic: list[Path]) -> None:
    info = read_gguf_info(synthetic[1])
    need = estimate(info, 4096).ram_bytes
    big_gpu = MachineMemory(64 << 30, 32 << 30, 80 << 30, 80 << 30, "GPU")
    assert fit(info, 4096, big_gpu, gpu_capable=True) == ("gpu_full", -1)
    assert fit(info, 4096, big_gpu, gpu_capable=False)[0] == "ram"
    some_layers = estimate(info, 4096, 6).vram_bytes
    small_gpu = MachineMemory(64 << 30, 32 << 30, some_layers * 2, int(some_layers / 0.9) + 1, "GPU")
    badge, layers = fit(info, 4096, small_gpu, gpu_capable=True)
    assert badge == "gpu_partial" and 0 < layers < (info.n_layer or 0) + 1
    tiny_ram = MachineMemory(need // 2, need // 2, None, None, None)
    assert fit(info, 4096, tiny_ram, gpu_capable=False)[0] == "too_large"


def test_layers_that_fit_grows_with_free_vram(synthetic: list[Path]) -> None:
    info = read_gguf_info(synthetic[1])
    counts = [layers_that_fit(info, 4096, vram) for vram in (0, 100 * MiB, 300 * MiB, 10_000 * MiB)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == (info.n_layer or 0) + 1
