"""Finding GGUF files other apps already downloaded, to link them in place (never copied).

Looks in the Hugging Face hub cache (``HF_HUB_CACHE``/``HF_HOME`` or ``~/.cache/huggingface/hub``)
and LM Studio's models folders (``~/.lmstudio/models``, ``~/.cache/lm-studio/models``).
Only ``*.gguf`` files are returned; multi-part shards other than the first are skipped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class FoundModel:
    path: Path
    source: str  # "Hugging Face cache" or "LM Studio"


def hf_cache_dirs() -> list[Path]:
    env = os.environ
    if env.get("HF_HUB_CACHE"):
        return [Path(env["HF_HUB_CACHE"])]
    if env.get("HF_HOME"):
        return [Path(env["HF_HOME"]) / "hub"]
    return [Path.home() / ".cache" / "huggingface" / "hub"]


def lmstudio_dirs() -> list[Path]:
    home = Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def _ggufs(root: Path, follow_links: bool) -> list[Path]:
    found: list[Path] = []
    if not root.is_dir():
        return found
    for folder, _dirs, files in os.walk(root, followlinks=follow_links):
        for name in files:
            if not name.lower().endswith(".gguf"):
                continue
            shard = _SHARD.search(name)
            if shard and shard.group(1) != "00001":
                continue
            if name.startswith("mmproj"):
                continue  # vision projectors are not chat models
            found.append(Path(folder) / name)
    return sorted(found)


def discover() -> list[FoundModel]:
    """Every GGUF in the known folders of other apps (resolved, de-duplicated)."""
    seen: set[Path] = set()
    out: list[FoundModel] = []
    for roots, source, follow in ((hf_cache_dirs(), "Hugging Face cache", True), (lmstudio_dirs(), "LM Studio", True)):
        for root in roots:
            for path in _ggufs(root, follow):
                real = path.resolve()
                if real in seen or not real.is_file():
                    continue
                seen.add(real)
                out.append(FoundModel(path, source))
    return out
