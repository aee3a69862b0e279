"""The model catalog (``models/catalog.json``): families and their GGUF variants.

A data file, not code, so adding a model is a one-line change. Sizes for downloadable
variants are estimates (parameters x bits per weight) marked ``approximate`` until the
hub listing gives the exact size at download time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.base import paths

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
                               item.get("repo"), bool(item.get("bundled")), variants))
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
