"""From settings to engine parameters: the one path every front end takes.

The window, every CLI command and (next) the API server build what they load and how
they sample here, so a setting means the same thing everywhere. Command-line flags
arrive as keyword overrides; ``None`` means "use the setting".
"""

from __future__ import annotations

from pathlib import Path

from app.base.settings import Settings
from app.engines.contract import GenerationParams, LocalModel, ModelSpec, Speculation
from app.models.connections import chosen_endpoint
from app.models.library import Library
from app.models.selection import resolve_model_path

FLASH_ATTN = {"auto": None, "on": True, "off": False}
SPECULATION: dict[str, Speculation] = {"auto": "auto", "off": "off"}


def local_model(settings: Settings, path: Path, *, n_ctx: int | None = None, n_threads: int | None = None,
                n_gpu_layers: int | None = None, draft_model: Path | None = None,
                parallel_sequences: int | None = None) -> LocalModel:
    """How to load the GGUF at ``path``, from the settings and any overrides."""
    stored_draft = settings.get_str("draft_model")
    return LocalModel(
        path=path,
        n_ctx=n_ctx or settings.get_int("n_ctx"),
        n_threads=n_threads or settings.get_int("n_threads") or None,
        n_gpu_layers=n_gpu_layers if n_gpu_layers is not None else settings.get_int("n_gpu_layers"),
        flash_attn=FLASH_ATTN[settings.get_str("flash_attn")],
        state_budget_mb=settings.get_int("kv_state_budget_mb"),
        parallel_sequences=(parallel_sequences if parallel_sequences is not None
                            else settings.get_int("parallel_sequences")),
        draft_model=draft_model or (Path(stored_draft).expanduser() if stored_draft else None),
    )


def load_spec(settings: Settings, model: str | None = None, library: Library | None = None, *,
              n_ctx: int | None = None, n_threads: int | None = None,
              n_gpu_layers: int | None = None, draft_model: Path | None = None,
              parallel_sequences: int | None = None) -> ModelSpec:
    """The model to load: ``model`` if given, else the server model or the file in settings, else the starter model.

    A server model chosen in the Models tab gives an ``Endpoint`` (``n_ctx`` overrides the
    connection's context size). May assemble the starter model (a second or two): call it
    off the GUI thread. Raises ``ModelNotFound`` (``RemoteModelMissing`` for a server model
    whose connection is gone) or ``StarterModelMissing`` with a one-line reason.
    """
    if model is None:
        remote = chosen_endpoint(settings, n_ctx=n_ctx)
        if remote is not None:
            return remote
    path = resolve_model_path(model, settings, library)
    return local_model(settings, path, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers,
                       draft_model=draft_model, parallel_sequences=parallel_sequences)


def generation_params(settings: Settings, *, max_tokens: int | None = None, temperature: float | None = None,
                      seed: int | None = None, speculative: Speculation | None = None) -> GenerationParams:
    """Sampling for one reply, from the settings and any overrides."""
    stored_seed = settings.get_int("seed")
    return GenerationParams(
        max_tokens=max_tokens or settings.get_int("max_tokens"),
        temperature=temperature if temperature is not None else settings.get_float("temperature"),
        top_k=settings.get_int("top_k"),
        top_p=settings.get_float("top_p"),
        min_p=settings.get_float("min_p"),
        repeat_penalty=settings.get_float("repeat_penalty"),
        seed=seed if seed is not None else (stored_seed if stored_seed >= 0 else None),
        speculative=speculative or SPECULATION[settings.get_str("speculative")],
    )
