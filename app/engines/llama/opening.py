"""One load attempt: the model file, its context, and a one-token warm-up decode.

The engine walks :mod:`~app.engines.llama.loadplan`'s attempts through :func:`open_model`;
an attempt that runs out of memory raises :class:`OutOfMemory` (the plan tries less), any
other failure an :class:`~app.engines.contract.EngineError` for the user. Nothing is left
allocated after a failure.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engines.contract import EngineError, LoadCancelled, LoadProgress, LocalModel
from app.engines.llama import native
from app.engines.llama.loadplan import is_memory_failure

N_BATCH = 512


class OutOfMemory(Exception):
    """A load attempt ran out of memory; the engine may retry with less."""


@dataclass(frozen=True)
class Opened:
    """A loaded model and context, and what the load learned."""

    model: Any
    ctx: Any
    gpu_layers: int
    backend: str
    cache_layout: tuple[int, int, int, bool]  # type_k, type_v, flash attention, swa_full: a saved state's layout
    progress_cb: Any  # the ctypes progress callback, kept referenced while the model lives


def default_threads() -> int:
    """Decode threads: every core on small machines, half the logical CPUs on big ones."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    return n if n <= 4 else max(4, n // 2)


def context_params(ll: Any, n_ctx: int, params: LocalModel) -> Any:
    """How the engine's contexts are made (the batched one too: the same threads, attention and cache types)."""
    threads = params.n_threads or default_threads()
    cparams = ll.llama_context_default_params()
    cparams.n_ctx = n_ctx
    cparams.n_batch = min(N_BATCH, n_ctx)
    cparams.n_ubatch = min(N_BATCH, n_ctx)
    cparams.n_threads = threads
    cparams.n_threads_batch = threads
    cparams.no_perf = True
    if params.flash_attn is not None:
        cparams.flash_attn_type = (
            ll.LLAMA_FLASH_ATTN_TYPE_ENABLED if params.flash_attn else ll.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
    return cparams


def open_model(ll: Any, path: Path, layers: int, n_ctx: int, params: LocalModel, *,
               on_progress: LoadProgress | None, cancel: threading.Event | None) -> Opened:
    """Load ``path`` with ``layers`` on the GPU and an ``n_ctx`` context; cleans up on failure."""
    native.clear_log()
    mparams = ll.llama_model_default_params()
    mparams.n_gpu_layers = layers
    progress_cb = None
    if on_progress is not None or cancel is not None:

        def _progress(fraction: float, _user: ctypes.c_void_p) -> bool:
            if on_progress is not None:
                on_progress(float(fraction))
            return not (cancel is not None and cancel.is_set())  # False makes llama.cpp give up

        progress_cb = ll.llama_progress_callback(_progress)
        mparams.progress_callback = progress_cb
    model = ll.llama_model_load_from_file(str(path).encode("utf-8"), mparams)
    if cancel is not None and cancel.is_set():
        if model:
            ll.llama_model_free(model)
        raise LoadCancelled(f"Loading {path.name} was cancelled.")
    if not model:
        reason = native.failure_reason() or "llama.cpp gave no reason"
        if is_memory_failure(reason):
            raise OutOfMemory(reason)
        raise EngineError(f"Could not load model {path.name}: {reason}")
    gpu_layers, gpu_backend = native.offload_from_log()
    cparams = context_params(ll, n_ctx, params)
    layout = (int(cparams.type_k), int(cparams.type_v), int(cparams.flash_attn_type), bool(cparams.swa_full))
    ctx = ll.llama_init_from_model(model, cparams)
    if not ctx:
        ll.llama_model_free(model)
        raise OutOfMemory(native.failure_reason() or f"no context of {n_ctx:,} tokens could be created")
    # The first decode allocates the rest of the compute graph: fail here, not at the first message.
    warm = (ll.llama_token * 1)(max(0, ll.llama_vocab_bos(ll.llama_model_get_vocab(model))))
    rc = ll.llama_decode(ctx, ll.llama_batch_get_one(warm, 1))
    ll.llama_memory_clear(ll.llama_get_memory(ctx), True)
    if rc != 0:
        reason = native.failure_reason() or f"the first decode failed (code {rc})"
        ll.llama_free(ctx)
        ll.llama_model_free(model)
        raise OutOfMemory(reason)
    backend = (gpu_backend or "GPU") if gpu_layers > 0 else "CPU"
    return Opened(model, ctx, gpu_layers, backend, layout, progress_cb)
