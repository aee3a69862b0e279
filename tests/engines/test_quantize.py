"""Quantizing synthetic F16 models with llama.cpp's quantizer, from the API and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.engines.contract import ChatMessage, GenerationParams, LocalModel
from app.engines.llama.engine import LlamaEngine
from app.engines.llama.quantize import QuantizeError, default_output, quantize
from app.gguf.reader import read_gguf_info
from tests import gguf_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def f16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # K-quants need rows that are multiples of 256 elements
    return gguf_files.write_tiny_llama(tmp_path_factory.mktemp("q") / "tiny-F16.gguf", n_layer=4, n_embd=256,
                                       n_head=4, n_head_kv=2, n_vocab=1024, n_ctx_train=512)


@pytest.mark.parametrize("target", ["Q8_0", "Q4_K_M"])
def test_quantized_file_reads_back_loads_and_generates(f16: Path, tmp_path: Path, target: str) -> None:
    seen: list[float] = []
    result = quantize(f16, target, tmp_path / f"out-{target}.gguf", progress=seen.append)
    info = read_gguf_info(result.path)
    assert info.quant == target and result.quant == target
    assert result.size_bytes < f16.stat().st_size
    assert seen and seen[-1] == 1.0
    assert not list(tmp_path.glob("*.partial"))
    engine = LlamaEngine()
    engine.load(LocalModel(path=result.path, n_ctx=256))
    try:
        list(engine.stream([ChatMessage("user", "abc")], GenerationParams(max_tokens=4, temperature=0)))
        assert engine.last_stats is not None
    finally:
        engine.unload()


def test_refuses_quantized_inputs_and_cleans_up(f16: Path, tmp_path: Path) -> None:
    q4 = quantize(f16, "Q4_K_M", tmp_path / "q4.gguf").path
    with pytest.raises(QuantizeError, match="already Q4_K_M"):
        quantize(q4, "Q8_0", tmp_path / "again.gguf")
    with pytest.raises(QuantizeError, match="unknown target"):
        quantize(f16, "Q3_XYZ", tmp_path / "bad.gguf")
    assert not (tmp_path / "again.gguf").exists() and not (tmp_path / "bad.gguf").exists()


def test_cancel_stops_and_leaves_no_file(f16: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(QuantizeError, match="cancelled"):
        quantize(f16, "Q8_0", tmp_path / "cancelled.gguf", stop=stop)
    assert list(tmp_path.iterdir()) == []


def test_default_output_names_the_type(tmp_path: Path) -> None:
    assert default_output(Path("/x/Qwen2.5-0.5B-F16.gguf"), "Q4_K_M", tmp_path).name == "Qwen2.5-0.5B-Q4_K_M.gguf"


def test_cli_quantize_registers_the_result(f16: Path, tmp_path: Path, kestrel_home: Path) -> None:
    out = tmp_path / "cli-Q8_0.gguf"
    env = {**os.environ, "KESTREL_HOME": str(kestrel_home)}
    code = "import sys; from app.cli.main import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", code, "quantize", str(f16), "--to", "Q8_0", "-o", str(out),
                             "--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["quant"] == "Q8_0" and Path(line["path"]) == out
    models = subprocess.run([sys.executable, "-c", code, "models", "--json"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert str(out) in {row["path"] for row in json.loads(models.stdout)}
    # Q8_0 is a valid source (with allow_requantize); an already 4-bit file is refused in one line.
    q4 = quantize(f16, "Q4_K_M", tmp_path / "tiny-Q4_K_M.gguf").path
    again = subprocess.run([sys.executable, "-c", code, "quantize", str(q4), "--to", "Q8_0"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert again.returncode == 1 and again.stderr.count("\n") == 1 and "already Q4_K_M" in again.stderr
