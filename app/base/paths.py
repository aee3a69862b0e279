"""Where Kestrel keeps its files.

Everything goes under the platformdirs user dirs, except when ``KESTREL_HOME`` is set:
then data, config and cache all live below that one folder. Tests and the installer's
smoke test use it so they never touch the user's real files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import platformdirs

APP_NAME = "Kestrel"


def _home() -> Path | None:
    value = os.environ.get("KESTREL_HOME")
    return Path(value) if value else None


def _folder(kind: str, platform_dir: Callable[..., str]) -> Path:
    home = _home()
    path = home / kind if home else Path(platform_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Per-user data: models, history database."""
    return _folder("data", platformdirs.user_data_dir)


def config_dir() -> Path:
    """Per-user settings."""
    return _folder("config", platformdirs.user_config_dir)


def cache_dir() -> Path:
    """Rebuildable caches (for example summaries of document chunks)."""
    return _folder("cache", platformdirs.user_cache_dir)


def models_dir() -> Path:
    """Models Kestrel owns (assembled starter model, downloads, quantized outputs)."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def install_root() -> Path:
    """Where the shipped data lives: the source tree, or a PyInstaller bundle's ``_MEIPASS``."""
    bundled = getattr(sys, "_MEIPASS", None)
    return Path(bundled) if bundled else Path(__file__).resolve().parents[2]


def bundled() -> bool:
    """True inside a PyInstaller bundle."""
    return getattr(sys, "_MEIPASS", None) is not None


def resources_dir() -> Path:
    """Icons, styles and translations."""
    return install_root() / "resources"
