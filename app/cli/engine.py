"""The one place a ``kestrel`` command gets its engine.

What to load comes from the settings (with the command's flags as overrides) through
:mod:`app.models.params`; which engine runs it comes from :func:`make_engine`. Tests put
a fake engine in by replacing this module's ``make_engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.base.settings import Settings
from app.cli.errors import CliError
from app.engines.contract import Engine, EngineError, LoadedModel, ModelSpec
from app.engines.factory import make_engine
from app.models.params import load_spec
from app.models.selection import ModelNotFound
from app.models.starter import StarterModelMissing

__all__ = ["make_engine", "model_name", "new_engine", "open_engine"]


def new_engine(spec: ModelSpec) -> Engine:
    """An engine able to load ``spec``, not loaded yet (for work that loads models itself)."""
    return make_engine(spec)


@contextmanager
def open_engine(settings: Settings, model: str | None, *, n_ctx: int | None = None,
                n_threads: int | None = None, n_gpu_layers: int | None = None) -> Iterator[tuple[Engine, LoadedModel]]:
    """The engine with ``model`` (or the one in settings) loaded; unloaded again on the way out.

    A missing model or one that cannot load is a :class:`CliError` with a one-line reason.
    """
    try:
        spec = load_spec(settings, model, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers)
    except (ModelNotFound, StarterModelMissing) as exc:
        raise CliError(str(exc)) from exc
    engine = new_engine(spec)
    try:
        loaded = engine.load(spec)
    except EngineError as exc:
        raise CliError(str(exc)) from exc
    try:
        yield engine, loaded
    finally:
        engine.unload()


def model_name(loaded: LoadedModel) -> str:
    """How the JSON output names the model: the file's full path, or the spec's label."""
    return str(loaded.path) if loaded.path is not None else loaded.spec.label
