"""GPU auto-fit and the self-healing load: the plan, and the engine following it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engines.contract import EngineError, LocalModel
from app.engines.llama import native
from app.engines.llama.engine import LlamaEngine
from app.engines.llama.loadplan import auto_layers, describe_change, is_memory_failure, plan
from app.gguf.reader import read_gguf_info
from tests import gguf_files


def test_plan_reduces_gpu_layers_then_context() -> None:
    assert plan(999, 8192, True) == [(999, 8192), (16, 8192), (8, 8192), (4, 8192), (2, 8192), (1, 8192), (0, 8192),
                                     (0, 4096), (0, 2048)]
    assert plan(0, 4096, True) == [(0, 4096), (0, 2048)]
    assert plan(20, 4096, False) == [(20, 4096)]


def test_memory_failures_are_recognised() -> None:
    assert is_memory_failure("ggml_backend_cuda_buffer_type_alloc_buffer: allocating 9000 MiB on device 0: "
                             "cudaMalloc failed: out of memory")
    assert is_memory_failure("failed to allocate CPU buffer of size 123")
    assert not is_memory_failure("unknown model architecture: 'notarealarch'")


def test_describe_change_says_what_and_why() -> None:
    text = describe_change((999, 8192), (8, 4096), "cudaMalloc failed: out of memory")
    assert text == ["GPU layers reduced from all to 8",
                    "context reduced from 8,192 to 4,096 tokens "
                    "because memory ran out (cudaMalloc failed: out of memory)"]


def test_auto_layers(tmp_path: Path) -> None:
    info = read_gguf_info(gguf_files.write_tiny_llama(tmp_path / "m.gguf", n_layer=8, n_embd=512, n_head=8,
                                                      n_head_kv=4, n_vocab=8000))
    assert auto_layers(info, 4096, gpu_capable=False, vram_free=80 << 30) == 0
    assert auto_layers(info, 4096, gpu_capable=True, vram_free=80 << 30) == 999
    assert auto_layers(info, 4096, gpu_capable=True, vram_free=None) == 999
    assert 0 <= auto_layers(info, 4096, gpu_capable=True, vram_free=60 << 20) < 9


def test_a_context_that_does_not_fit_is_retried_smaller_and_said(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = gguf_files.write_tiny_llama(tmp_path / "m.gguf", n_ctx_train=8192)
    ll = native.lib()
    real = ll.llama_init_from_model

    def small_memory(model, cparams):  # type: ignore[no-untyped-def]
        if cparams.n_ctx > 4096:
            return None  # what llama.cpp returns when the KV cache cannot be allocated
        return real(model, cparams)

    monkeypatch.setattr(ll, "llama_init_from_model", small_memory)
    engine = LlamaEngine()
    loaded = engine.load(LocalModel(path=path, n_ctx=16384))
    try:
        assert loaded.n_ctx == 4096
        assert loaded.adjustments and "context reduced from 16,384 to 4,096 tokens" in loaded.adjustments[0]
    finally:
        engine.unload()
    with pytest.raises(EngineError, match="Not enough memory"):
        LlamaEngine().load(LocalModel(path=path, n_ctx=16384, allow_fallback=False))
