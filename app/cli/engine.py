"""The one place a ``kestrel`` command gets its engine.

What to load comes from the settings (with the command's flags as overrides) through
:mod:`app.models.params`; which engine runs it comes from :func:`make_engine`. Tests put
a fake engine in by replacing this module's ``make_engine``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.base.credentials import CredentialError, env_reference
from app.base.settings import Settings
from app.cli.errors import CliError
from app.engines.contract import (
    BatchEngine,
    ConcurrentEngine,
    Endpoint,
    Engine,
    EngineError,
    LoadedModel,
    ModelSpec,
    Speculation,
)
from app.engines.factory import make_engine
from app.models.params import load_spec
from app.models.selection import ModelNotFound
from app.models.starter import StarterModelMissing

__all__ = ["add_endpoint_arguments", "add_speculative_argument", "make_engine", "model_name", "new_engine",
           "open_engine", "parallel_width", "speculation"]


MAX_PARALLEL = 64
_MODES: dict[str, Speculation] = {"off": "off", "auto": "auto", "ngram": "ngram"}


def add_endpoint_arguments(parser: argparse.ArgumentParser, *, parallel: bool = False) -> None:
    """``--endpoint URL`` and ``--api-key-env VAR``: run on a server; ``--model`` then names its model.

    ``parallel``: also ``--parallel N``, for commands that work on several parts of a document at
    once: requests sent to a server together, or sequences a local model decodes together.
    """
    group = parser.add_argument_group("a model on a server (OpenAI-compatible: llama-server, vLLM, Ollama, ...)")
    group.add_argument("--endpoint", metavar="URL",
                       help="the server's base URL, e.g. http://127.0.0.1:8080/v1 (--model is then the model id)")
    group.add_argument("--api-key-env", metavar="VAR",
                       help="take the server's API key from this environment variable")
    if parallel:
        group.add_argument("--parallel", metavar="N", type=int,
                           help="parts of the document to work on at once: with a local model, sequences decoded "
                                "together (default: automatic from free memory; 1: one at a time); with --endpoint, "
                                "requests sent together (default: the slots llama-server reports, else 1)")


def add_speculative_argument(parser: argparse.ArgumentParser) -> None:
    """``--speculative off|auto|ngram|DRAFT.gguf`` for commands that generate text with a local model."""
    parser.add_argument("--speculative", metavar="off|auto|ngram|DRAFT.gguf",
                        help="speculative decoding: auto (default: drafts from the text while that is faster), "
                             "off, ngram (always draft from the text), or a smaller GGUF with the same vocabulary "
                             "to draft with")


def speculation(value: str | None) -> tuple[Speculation | None, Path | None]:
    """``--speculative``'s value as (mode, draft model file); (None, None) when not given."""
    if value is None:
        return None, None
    if value in _MODES:
        return _MODES[value], None
    path = Path(value).expanduser()
    if not path.is_file():
        raise CliError(f"--speculative must be off, auto, ngram or a draft model file; {value!r} is none of these")
    return "draft", path


def endpoint_spec(endpoint: str, model: str | None, api_key_env: str | None, n_ctx: int | None,
                  parallel: int | None = None) -> Endpoint:
    """The spec for ``--endpoint``; a missing model id, a malformed URL or a bad count is a one-line CliError."""
    if not endpoint.startswith(("http://", "https://")) or "://" not in endpoint or not endpoint.split("://", 1)[1]:
        raise CliError(f"--endpoint must be an http:// or https:// URL, not {endpoint!r}")
    if not model:
        raise CliError("--endpoint needs --model ID: the id of a model the server serves")
    check_parallel(parallel)
    return Endpoint(url=endpoint.rstrip("/"), model_id=model,
                    credential=env_reference(api_key_env) if api_key_env else None, n_ctx=n_ctx,
                    parallel=parallel)


def check_parallel(parallel: int | None) -> None:
    """``--parallel`` out of range is a one-line CliError."""
    if parallel is not None and not 1 <= parallel <= MAX_PARALLEL:
        raise CliError(f"--parallel must be between 1 and {MAX_PARALLEL}, not {parallel}")


def new_engine(spec: ModelSpec) -> Engine:
    """An engine able to load ``spec``, not loaded yet (for work that loads models itself)."""
    return make_engine(spec)


@contextmanager
def open_engine(settings: Settings, model: str | None, *, n_ctx: int | None = None,
                n_threads: int | None = None, n_gpu_layers: int | None = None,
                endpoint: str | None = None, api_key_env: str | None = None, parallel: int | None = None,
                draft_model: Path | None = None) -> Iterator[tuple[Engine, LoadedModel]]:
    """The engine with ``model`` (or the one in settings) loaded; unloaded again on the way out.

    With ``endpoint`` the model is ``model`` on that server. ``parallel``: the server's requests at
    once, or a local model's sequences decoded together. A missing model or one that
    cannot load is a :class:`CliError` with a one-line reason.
    """
    spec: ModelSpec
    if endpoint is not None:
        if draft_model is not None:
            raise CliError("a draft model (--speculative FILE) applies to local models, not with --endpoint")
        spec = endpoint_spec(endpoint, model, api_key_env, n_ctx, parallel)
    else:
        if api_key_env is not None:
            raise CliError("--api-key-env only applies with --endpoint")
        check_parallel(parallel)
        try:
            spec = load_spec(settings, model, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers,
                             draft_model=draft_model, parallel_sequences=parallel)
        except (ModelNotFound, StarterModelMissing) as exc:
            raise CliError(str(exc)) from exc
    try:
        engine = new_engine(spec)
        loaded = engine.load(spec)
    except (EngineError, CredentialError) as exc:
        raise CliError(str(exc)) from exc
    try:
        yield engine, loaded
    finally:
        engine.unload()


def parallel_width(engine: Engine) -> int:
    """Parts of a document worked on at once (the ``--json`` lines say it): a server's requests, a local model's
    sequences."""
    if isinstance(engine, ConcurrentEngine):
        return engine.parallel
    return engine.batch_width if isinstance(engine, BatchEngine) else 1


def model_name(loaded: LoadedModel) -> str:
    """How the JSON output names the model: the file's full path, or the spec's label."""
    return str(loaded.path) if loaded.path is not None else loaded.spec.label
