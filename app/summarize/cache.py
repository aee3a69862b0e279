"""Chunk summaries on disk, keyed by document + model + map settings.

The preset is not part of the key, so changing only the final format re-uses every
chunk summary. Failures only cost time: a cache that cannot be read or written is
simply not used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.base import paths
from app.base.atomic import write_atomic
from app.documents.document import ExtractedDocument
from app.engines.contract import Endpoint, Engine, EngineError
from app.summarize.options import SummaryOptions
from app.summarize.prompts import PROMPT_VERSION


class SummaryCache:
    """Small JSON files under ``paths.cache_dir()/summaries/<key>/``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.cache_dir() / "summaries"

    def get(self, key: str, name: str) -> str | None:
        try:
            data = json.loads((self.root / key / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        text = data.get("text") if isinstance(data, dict) else None
        return text if isinstance(text, str) else None

    def put(self, key: str, name: str, text: str) -> None:
        """Write atomically (never a half file) but without fsync: the cache is rebuildable."""
        try:
            write_atomic(self.root / key / f"{name}.json", json.dumps({"text": text}, ensure_ascii=False),
                         fsync=False)
        except OSError:
            pass


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_identity(engine: Engine) -> str:
    """Path + size + mtime of a local model file; URL + model id of a server's model."""
    loaded = engine.loaded
    if loaded is None:
        raise EngineError("No model is loaded.")
    spec = loaded.spec
    if isinstance(spec, Endpoint):
        return f"{spec.url}|{spec.model_id}"
    try:
        st = spec.path.stat()
        return f"{spec.path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        return f"{loaded.name}|{loaded.quant}|{spec.path}"


def run_key(document: ExtractedDocument, engine: Engine, options: SummaryOptions, lang: str) -> str:
    """The cache folder of one document summarized by one model with one set of map settings."""
    identity = {"doc": document.sha256(), "model": model_identity(engine), "v": PROMPT_VERSION,
                "map_max": options.map_max_tokens, "temperature": options.temperature,
                "seed": options.seed, "lang": lang}
    return sha(json.dumps(identity, sort_keys=True))[:40]
