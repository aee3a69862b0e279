"""Which model to use, and the listing behind ``kestrel models``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.base.settings import Settings
from app.gguf.memory import estimate, fit, machine_memory
from app.models.library import Library
from app.models.starter import StarterModelMissing, ensure_starter_model, starter_model_path


class ModelNotFound(RuntimeError):
    """The requested model file does not exist."""


def resolve_model_path(explicit: str | None, settings: Settings, library: Library | None = None) -> Path:
    """--model if given, else the model chosen in settings, else the starter model.

    Raises a ``CliError``-friendly RuntimeError subclass with a one-line reason.
    """
    library = library or Library()
    chosen = explicit or settings.get_str("model_path")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.exists():
            raise ModelNotFound(f"model file not found: {path}")
        if path.is_dir():
            raise ModelNotFound(f"{path} is a folder, not a GGUF model file")
        return path
    path = ensure_starter_model()
    library.add(path, "starter")
    return path


def default_model_path(settings: Settings) -> Path | None:
    """The path the app opens by default, without assembling anything."""
    chosen = settings.get_str("model_path")
    if chosen:
        return Path(chosen).expanduser()
    return starter_model_path()  # the bundled copy inside an installer build


def list_models(settings: Settings | None = None, library: Library | None = None,
                gpu_capable: bool = False) -> list[dict[str, Any]]:
    """Rows for every known model: what the GGUF header says (with memory estimates and a fit
    badge at the configured context size), or why it cannot be read."""
    settings = settings or Settings.load_default()
    library = library or Library()
    n_ctx = settings.get_int("n_ctx")
    machine = machine_memory()
    library.sync_discovered()
    if not settings.get_str("model_path"):
        try:
            library.add(ensure_starter_model(), "starter")
        except StarterModelMissing:
            pass
    rows: list[dict[str, Any]] = []
    for listing in library.listings(default_model_path(settings)):
        info = listing.info
        memory = estimate(info, n_ctx, 0) if info else None
        gpu = estimate(info, n_ctx, -1) if info else None
        badge, layers = fit(info, n_ctx, machine, gpu_capable) if info else ("too_large", 0)
        rows.append({
            "path": listing.entry.path,
            "name": info.name if info else Path(listing.entry.path).name,
            "quant": info.quant if info else "?",
            "size_bytes": info.size_bytes if info else 0,
            "params": info.params if info else 0,
            "n_ctx_train": info.n_ctx_train if info else None,
            "architecture": info.architecture if info else None,
            "chat_template": bool(info and info.has_chat_template),
            "source": listing.entry.source,
            "default": listing.is_default,
            "problem": listing.problem,
            "n_ctx": n_ctx,
            "est_ram_bytes": memory.ram_bytes if memory else None,
            "est_vram_bytes": gpu.vram_bytes if gpu else None,
            "fit": badge if info else None,
            "fit_gpu_layers": layers,
        })
    return rows
