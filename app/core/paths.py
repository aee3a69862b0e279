"""Where Kestrel keeps its files.

Everything goes under the platformdirs user dirs, except when ``KESTREL_HOME`` is set:
then data, config and cache all live below that one folder. Tests and the installer's
smoke test use it so they never touch the user's real files.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Kestrel"


def _home() -> Path | None:
    value = os.environ.get("KESTREL_HOME")
    return Path(value) if value else None


def data_dir() -> Path:
    """Per-user data: models, history database."""
    home = _home()
    path = home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Per-user settings."""
    home = _home()
    path = home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Rebuildable caches (for example summaries of document chunks)."""
    home = _home()
    path = home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Models Kestrel owns (assembled starter model, downloads, quantized outputs)."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
