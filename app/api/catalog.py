"""Model ids for the API: the library's models by name, never by file path.

A client sees ``gemma-3-270m-q4_k_m``, not ``/home/me/models/gemma-3-270m-q4_k_m.gguf``:
paths say more about the machine than a client needs, and a path in a request must never
open a file. An id is the file's name without ``.gguf``; a second file of the same name
elsewhere gets ``-2``, ``-3``... in the library's order. A model on a server keeps its id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.base.settings import Settings
from app.engines.contract import Endpoint, LoadedModel, ModelSpec
from app.models.library import Library
from app.models.params import local_model


def _stem(path: Path) -> str:
    return path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.name


@dataclass(frozen=True)
class CatalogModel:
    """One library model as the API names it (its path stays here, never sent)."""

    id: str
    path: Path
    added_at: float


class ModelCatalog:
    """The library's models by id; reads ``models.json`` on every call (it is small)."""

    def __init__(self, library: Library | None = None, settings: Callable[[], Settings] | None = None) -> None:
        self._library = library or Library()
        self._settings = settings or Settings.load_default

    def models(self) -> list[CatalogModel]:
        """Every library model, in the library's order, each file once."""
        out: dict[str, CatalogModel] = {}
        seen: set[Path] = set()
        for entry in self._library.entries():
            path = Path(entry.path)
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            base = _stem(path)
            model_id, n = base, 1
            while model_id in out:
                n += 1
                model_id = f"{base}-{n}"
            out[model_id] = CatalogModel(model_id, path, entry.added_at)
        return list(out.values())

    def paths(self) -> dict[str, Path]:
        """Every library model: id -> file."""
        return {model.id: model.path for model in self.models()}

    def id_of(self, loaded: LoadedModel) -> str:
        """The id a client names the loaded model by."""
        if isinstance(loaded.spec, Endpoint):
            return loaded.spec.model_id
        target = loaded.spec.path.resolve()
        for model_id, path in self.paths().items():
            if path.resolve() == target:
                return model_id
        return _stem(loaded.spec.path)  # loaded from outside the library (kestrel serve --model FILE)

    def spec(self, model_id: str) -> ModelSpec:
        """What to load for ``model_id`` (with the settings' context size and threads); KeyError if unknown."""
        path = self.paths().get(model_id)
        if path is None:
            raise KeyError(model_id)
        return local_model(self._settings(), path)
