"""The model catalog (``models/catalog.json``): families and their GGUF variants.

A data file, not code, so adding a model is a one-line change. Sizes for downloadable
variants are estimates (parameters x bits per weight) marked ``approximate`` until the
hub listing gives the exact size at download time.

``recommend`` picks the model to suggest for a machine: the largest chat (instruct) model
whose ``RECOMMENDED_QUANT`` file fits comfortably in its memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.base import paths
from app.gguf.memory import MachineMemory

# Average bits per weight of llama.cpp's quantization mixes, for size estimates.
BITS_PER_WEIGHT = {"Q4_K_M": 4.89, "Q5_K_M": 5.70, "Q6_K": 6.56, "Q8_0": 8.50, "F16": 16.0, "BF16": 16.0}


@dataclass(frozen=True)
class Variant:
    family: str
    quant: str
    file: str
    repo: str | None
    size_bytes: int
    approximate: bool


@dataclass(frozen=True)
class Family:
    id: str
    name: str
    params: int
    n_ctx_train: int
    license: str
    repo: str | None
    bundled: bool
    variants: tuple[Variant, ...]
    base: bool = False  # a base model: it continues text, it does not follow instructions

    def variant(self, quant: str) -> Variant | None:
        return next((v for v in self.variants if v.quant == quant), None)


def catalog_path() -> Path:
    """``models/catalog.json`` beside the package, or inside a PyInstaller bundle."""
    return paths.install_root() / "models" / "catalog.json"


@lru_cache(maxsize=1)
def load_catalog(path: Path | None = None) -> tuple[Family, ...]:
    raw = json.loads((path or catalog_path()).read_text(encoding="utf-8"))
    families: list[Family] = []
    for item in raw["families"]:
        params = int(item["params"])
        variants = tuple(
            Variant(
                item["id"], v["quant"], v["file"], item.get("repo"),
                int(v.get("size_bytes") or params * BITS_PER_WEIGHT.get(v["quant"], 8.0) / 8),
                "size_bytes" not in v,
            )
            for v in item["variants"]
        )
        families.append(Family(item["id"], item["name"], params, int(item["n_ctx_train"]), item.get("license", ""),
                               item.get("repo"), bool(item.get("bundled")), variants, bool(item.get("base"))))
    return tuple(families)


def family_of(name: str, params: int | None = None) -> Family | None:
    """The catalog family a local model belongs to, matched on its file or model name."""
    key = name.lower().replace("_", "-").replace(" ", "-")
    for family in load_catalog():
        if family.id in key or any(v.file.lower() == name.lower() for v in family.variants):
            return family
    if params:
        for family in load_catalog():
            if abs(family.params - params) / family.params < 0.02 and family.id.split("-")[0] in key:
                return family
    return None


# ---- the recommendation --------------------------------------------------------------------

#: The quantization a recommendation is for: llama.cpp's usual balance, about 30 % of F16's size
#: with a quality loss few notice in chat. Every downloadable family in the catalog offers it.
RECOMMENDED_QUANT = "Q4_K_M"
#: What a loaded model takes beyond its weights: the KV cache for a few thousand tokens of context
#: and llama.cpp's compute buffer (0.2-0.5 GiB for most catalog models at 4,096 tokens).
RUNTIME_BYTES = 512 << 20
#: A model fits comfortably when its weights and RUNTIME_BYTES take at most this share of the memory
#: it would run in (free VRAM, or available RAM). Why not all of it: these are estimates (a model
#: without grouped-query attention, Phi-3.5 mini, needs three times RUNTIME_BYTES), a long chat
#: grows the KV cache, and the system and the user's other programs keep needing memory while the
#: model runs. A model that takes nearly all the free memory makes the machine swap, which is far
#: worse than a slightly smaller model.
COMFORTABLE_SHARE = 0.6


@dataclass(frozen=True)
class Recommendation:
    """The model to suggest, or none (``family`` None) with the figures that say why."""

    family: Family | None
    variant: Variant | None
    need_bytes: int  # the pick's weights plus RUNTIME_BYTES; with no pick, the smallest candidate's
    room_bytes: int  # the memory it runs in: free VRAM when ``on_gpu``, else available RAM
    on_gpu: bool


def need_bytes(variant: Variant) -> int:
    """Memory a load of ``variant`` takes, as the recommendation reckons it."""
    return variant.size_bytes + RUNTIME_BYTES


def fits_comfortably(variant: Variant, room: int) -> bool:
    return room > 0 and need_bytes(variant) <= room * COMFORTABLE_SHARE


def recommend(memory: MachineMemory, gpu_capable: bool, families: Iterable[Family] | None = None) -> Recommendation:
    """The largest instruct model whose RECOMMENDED_QUANT fits comfortably, on the GPU if any does.

    Largest: among the catalog's models, more parameters follow instructions and summarize
    better. On the GPU first: a model that fits there whole answers several times faster than
    one in RAM, which matters more than the step to the next size. Base models and the bundled
    starter are never suggested: they do not follow instructions.
    """
    candidates = [(f, v) for f in (load_catalog() if families is None else families)
                  if f.repo and not f.bundled and not f.base and (v := f.variant(RECOMMENDED_QUANT)) is not None]
    vram = (memory.vram_free or 0) if gpu_capable else 0
    for room, on_gpu in ((vram, True), (memory.ram_available, False)):
        fitting = [(f, v) for f, v in candidates if fits_comfortably(v, room)]
        if fitting:
            family, variant = max(fitting, key=lambda fv: (fv[0].params, fv[0].name))
            return Recommendation(family, variant, need_bytes(variant), room, on_gpu)
    smallest = min((need_bytes(v) for _f, v in candidates), default=0)
    return Recommendation(None, None, smallest, max(vram, memory.ram_available), False)
