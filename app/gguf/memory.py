"""How much memory a model will need, before llama.cpp sees it, and whether it fits.

Everything comes from the GGUF header (``GGUFInfo``), so an estimate costs milliseconds.
The parts, as llama.cpp allocates them on the CPU:

- weights: the tensor data, memory-mapped; llama.cpp touches all of it at load;
- repack: CPU builds copy Q4_0/Q4_K/IQ4_NL matrices into an interleaved layout for
  faster kernels (the token embedding stays mapped);
- KV cache: n_layer x n_ctx x n_head_kv x (key_length + value_length) x 2 bytes (f16);
  Kestrel keeps a full-size cache on sliding-window layers so prefixes can be reused;
- compute buffer: reserved at n_ubatch x n_vocab x 4 bytes (the logits of a full
  micro-batch) plus activations. On the CPU only a part of it becomes resident: measured
  on the starter model and on synthetic llama models (see tests/gguf/test_memory.py) about
  9 % of the logits reservation plus ~2 MiB. On a GPU the whole buffer is allocated.

RAM estimates are checked against measured RSS growth of real loads within 15 %.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

from app.gguf.reader import GGUFInfo

MiB = 1 << 20
N_UBATCH = 512
CTX_ALIGN = 256
RESIDENT_LOGITS_FRACTION = 0.09  # measured; see module docstring
FIXED_OVERHEAD = 2 * MiB
REPACKED_TYPES = {2, 12, 20}  # ggml Q4_0, Q4_K, IQ4_NL: the CPU "repack" buffer copies these

Fit = Literal["gpu_full", "gpu_partial", "ram", "too_large"]
FIT_LABELS: dict[str, str] = {
    "gpu_full": "Fits fully on the GPU",
    "gpu_partial": "Partial GPU offload",
    "ram": "Fits in RAM (CPU)",
    "too_large": "Too large for this machine",
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a load will take; ``ram_bytes``/``vram_bytes`` are the totals to compare."""

    weights: int
    repack: int
    kv_cache: int
    compute_reserved: int
    compute_resident: int
    gpu_layers: int
    n_layers: int
    ram_bytes: int
    vram_bytes: int


@dataclass(frozen=True)
class MachineMemory:
    """What this machine has free (VRAM is None without a GPU we can query)."""

    ram_total: int
    ram_available: int
    vram_total: int | None
    vram_free: int | None
    gpu_name: str | None


def _round_ctx(n_ctx: int) -> int:
    return max(CTX_ALIGN, -(-n_ctx // CTX_ALIGN) * CTX_ALIGN)


def kv_cache_bytes(info: GGUFInfo, n_ctx: int, bytes_per_element: int = 2) -> int:
    """f16 K and V for every layer at the (256-aligned) context size."""
    layers = info.n_layer or 0
    heads_kv = info.n_head_kv or info.n_head or 0
    key = info.key_length or 0
    value = info.value_length or 0
    return layers * _round_ctx(n_ctx) * heads_kv * (key + value) * bytes_per_element


def _layer_bytes(info: GGUFInfo) -> tuple[int, int]:
    """Bytes in repeating layers (blk.*) and outside them (embeddings, output)."""
    in_layers = sum(t.n_bytes for t in info.tensors if t.name.startswith("blk."))
    return in_layers, sum(t.n_bytes for t in info.tensors) - in_layers


def estimate(info: GGUFInfo, n_ctx: int, gpu_layers: int = 0, n_ubatch: int = N_UBATCH) -> MemoryEstimate:
    """Memory for loading ``info`` at ``n_ctx`` with ``gpu_layers`` offloaded (-1: all)."""
    n_layers = info.n_layer or 0
    offload = n_layers + 1 if gpu_layers < 0 else min(gpu_layers, n_layers + 1)  # +1: the output layer
    weights = sum(t.n_bytes for t in info.tensors)
    repack = sum(t.n_bytes for t in info.tensors
                 if t.ggml_type in REPACKED_TYPES and len(t.shape) == 2 and t.name != "token_embd.weight")
    kv = kv_cache_bytes(info, n_ctx)
    vocab = info.n_vocab or 0
    embd = info.n_embd or 0
    logits = n_ubatch * vocab * 4
    activations = n_ubatch * embd * 4 * 8
    compute_reserved = logits + activations
    compute_resident = int(logits * RESIDENT_LOGITS_FRACTION) + FIXED_OVERHEAD

    layer_bytes, other_bytes = _layer_bytes(info)
    if offload and n_layers:
        share = min(offload, n_layers) / n_layers
        gpu_weights = int(layer_bytes * share) + (other_bytes if offload > n_layers else 0)
        gpu_kv = int(kv * share)
        vram = gpu_weights + gpu_kv + compute_reserved
        ram = (weights - gpu_weights) + (kv - gpu_kv) + compute_resident
    else:
        vram = 0
        ram = weights + repack + kv + compute_resident
    return MemoryEstimate(weights, repack, kv, compute_reserved, compute_resident, offload, n_layers, ram, vram)


def layers_that_fit(info: GGUFInfo, n_ctx: int, vram_free: int, margin: float = 0.9) -> int:
    """The most layers whose weights, KV share and compute buffer fit ``margin`` of free VRAM."""
    n_layers = info.n_layer or 0
    budget = int(vram_free * margin)
    best = 0
    for layers in range(n_layers + 2):
        if estimate(info, n_ctx, layers).vram_bytes <= budget:
            best = layers
        else:
            break
    return best


def fit(info: GGUFInfo, n_ctx: int, machine: MachineMemory, gpu_capable: bool) -> tuple[Fit, int]:
    """The badge for this model on this machine, and the GPU layers that achieve it."""
    n_layers = info.n_layer or 0
    if gpu_capable and machine.vram_free:
        layers = layers_that_fit(info, n_ctx, machine.vram_free)
        if layers >= n_layers + 1:
            return "gpu_full", -1
        if layers > 0:
            rest = estimate(info, n_ctx, layers)
            if rest.ram_bytes <= machine.ram_available:
                return "gpu_partial", layers
    cpu = estimate(info, n_ctx, 0)
    if cpu.ram_bytes <= machine.ram_available:
        return "ram", 0
    return "too_large", 0


def machine_memory() -> MachineMemory:
    """RAM from the OS; VRAM from nvidia-smi when an NVIDIA GPU is present."""
    total = available = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        total = int(fields["MemTotal"].split()[0]) * 1024
        available = int(fields.get("MemAvailable", fields["MemFree"]).split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = 0
        available = total
    vram_total, vram_free, name = _nvidia()
    return MachineMemory(total, available, vram_total, vram_free, name)


def _nvidia() -> tuple[int | None, int | None, str | None]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None, None, None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return None, None, None
    if not out:
        return None, None, None
    parts = [p.strip() for p in out[0].split(",")]
    if len(parts) < 3 or not re.fullmatch(r"\d+", parts[1]) or not re.fullmatch(r"\d+", parts[2]):
        return None, None, None
    return int(parts[1]) * MiB, int(parts[2]) * MiB, parts[0]


def current_rss() -> int | None:
    """This process's resident memory in bytes (Linux /proc; psutil elsewhere when installed)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil  # noqa: PLC0415

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - optional
        return None
