"""Which GPU layers and context size to try, and what to do when memory runs out.

Auto-fit (n_gpu_layers = -1) offloads as many layers as the header-based estimate says
fit in free VRAM. If loading, creating the context or the first decode still fails for
memory, the engine walks down this plan: fewer GPU layers (halving, then CPU only), then
smaller contexts, and tells the user what it changed. Failures that are not about memory
(an unknown architecture, a damaged file) are never retried.
"""

from __future__ import annotations

import re

from app.gguf.memory import layers_that_fit
from app.gguf.reader import GGUFInfo

MIN_FALLBACK_CTX = 2048
_MEMORY_WORDS = re.compile(
    r"out of memory|failed to allocate|unable to allocate|cannot allocate|alloc.*fail|cudaMalloc|"
    r"ErrorOutOfDeviceMemory|insufficient memory|not enough memory|bad_alloc|mmap failed",
    re.IGNORECASE,
)


def is_memory_failure(reason: str) -> bool:
    """Whether llama.cpp's words point at memory (worth retrying smaller)."""
    return bool(_MEMORY_WORDS.search(reason))


def auto_layers(info: GGUFInfo, n_ctx: int, gpu_capable: bool, vram_free: int | None) -> int:
    """GPU layers for 'automatic': all that fit in free VRAM (999 = every layer), 0 without a GPU."""
    if not gpu_capable:
        return 0
    if vram_free is None:
        return 999  # a GPU build whose memory we cannot query (Metal, Vulkan): try all, fall back
    layers = layers_that_fit(info, n_ctx, vram_free)
    return 999 if layers > (info.n_layer or 0) else layers


def plan(first_layers: int, n_ctx: int, allow_fallback: bool) -> list[tuple[int, int]]:
    """Attempts in order: (gpu_layers, n_ctx). First as asked, then less GPU, then less context."""
    attempts = [(first_layers, n_ctx)]
    if not allow_fallback:
        return attempts
    layers = first_layers
    while layers > 0:
        layers = 0 if layers <= 1 else (layers // 2 if layers < 999 else 16)
        attempts.append((layers, n_ctx))
    ctx = n_ctx
    while ctx > MIN_FALLBACK_CTX:
        ctx = max(MIN_FALLBACK_CTX, ctx // 2)
        attempts.append((0, ctx))
    return list(dict.fromkeys(attempts))  # without repeats, in order


def describe_change(asked: tuple[int, int], got: tuple[int, int], reason: str) -> list[str]:
    """Sentences for the user about what a fallback changed."""
    changes: list[str] = []
    if got[0] != asked[0]:
        before = "all" if asked[0] >= 999 else str(asked[0])
        after = "none (CPU only)" if got[0] == 0 else str(got[0])
        changes.append(f"GPU layers reduced from {before} to {after}")
    if got[1] != asked[1]:
        changes.append(f"context reduced from {asked[1]:,} to {got[1]:,} tokens")
    if changes:
        changes[-1] += f" because memory ran out ({reason})"
    return changes
