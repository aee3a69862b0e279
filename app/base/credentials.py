"""Where an API key comes from, named without the key itself.

A model spec carries a *reference* to a key (``Endpoint.credential``), never the key, so
settings, history, the connections file and logs can hold specs safely. This module stores
keys and turns a reference into the key at the moment a connection needs it:

- ``env:NAME``: the environment variable ``NAME`` (``kestrel ... --api-key-env NAME``, for scripts).
- ``keyring:kestrel/NAME``: the operating system's keyring (macOS Keychain, Windows Credential
  Manager, the Secret Service on Linux desktops), through the ``keyring`` package.
- ``file:NAME``: where no keyring service exists (a headless Linux box), ``keys.json`` in the
  config folder, created readable and writable by the user alone (mode 0600).

No function here puts a key into an error message or a log line.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from app.base import paths
from app.base.atomic import write_atomic

log = logging.getLogger(__name__)

ENV_PREFIX = "env:"
KEYRING_PREFIX = "keyring:"
FILE_PREFIX = "file:"
SERVICE = "kestrel"
KEYS_FILE = "keys.json"


class CredentialError(RuntimeError):
    """A referenced key cannot be found or stored; the message says where it was looked for."""


def env_reference(variable: str) -> str:
    """The reference to the key held in environment variable ``variable``."""
    return ENV_PREFIX + variable


def keys_path() -> Path:
    """The fallback key file (used only where no keyring service exists)."""
    return paths.config_dir() / KEYS_FILE


# ---- the fallback file ------------------------------------------------------------------
def _read_keys(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialError(f"cannot read the key file {path}: {type(exc).__name__}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise CredentialError(f"the key file {path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise CredentialError(f"the key file {path} does not hold a JSON object")
    return {str(k): v for k, v in data.items() if isinstance(v, str)}


def _write_keys(path: Path, keys: dict[str, str]) -> None:
    """Write atomically; the temp file is created 0600 (mkstemp), so the key is never readable by others."""
    if not keys:
        path.unlink(missing_ok=True)
        return
    write_atomic(path, json.dumps(keys, indent=2, sort_keys=True) + "\n")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)  # explicit, whatever the platform's mkstemp did


# ---- the keyring ------------------------------------------------------------------------
def _keyring() -> Any:
    """The keyring package, imported when a key is first used (it costs ~80 ms at start-up)."""
    import keyring  # noqa: PLC0415

    return keyring


def _keyring_errors() -> tuple[type[Exception], ...]:
    """What the keyring raises when no service works here (plus the OS and runtime errors backends raise)."""
    from keyring.errors import KeyringError  # noqa: PLC0415

    return (KeyringError, OSError, RuntimeError)


def _keyring_store(name: str, key: str) -> bool:
    """Put the key in the system keyring; False where no keyring service works here."""
    try:
        _keyring().set_password(SERVICE, name, key)
    except _keyring_errors() as exc:  # NoKeyringError, a locked or absent Secret Service
        log.info("no usable keyring (%s); keeping the key in a file", type(exc).__name__)
        return False
    return True


def _split_keyring(reference: str) -> tuple[str, str]:
    service, _, name = reference[len(KEYRING_PREFIX):].partition("/")
    return service, name


# ---- the public functions ---------------------------------------------------------------
def store(name: str, key: str) -> str:
    """Keep ``key`` under ``name`` (the system keyring, else the 0600 file); returns its reference."""
    if not name or not key:
        raise CredentialError("a key needs a name and a value")
    if _keyring_store(name, key):
        return f"{KEYRING_PREFIX}{SERVICE}/{name}"
    path = keys_path()
    keys = _read_keys(path)
    keys[name] = key
    try:
        _write_keys(path, keys)
    except OSError as exc:
        raise CredentialError(f"cannot write the key file {path}: {exc.strerror or type(exc).__name__}") from None
    return FILE_PREFIX + name


def delete(reference: str | None) -> None:
    """Forget the key ``reference`` names (an environment variable is left alone; a missing key is fine)."""
    if reference is None or reference.startswith(ENV_PREFIX):
        return
    if reference.startswith(KEYRING_PREFIX):
        service, name = _split_keyring(reference)
        from keyring.errors import PasswordDeleteError  # noqa: PLC0415

        try:
            _keyring().delete_password(service, name)
        except PasswordDeleteError:
            pass  # already gone
        except _keyring_errors() as exc:
            raise CredentialError(f"cannot remove the key from the system keyring: {type(exc).__name__}") from None
        return
    if reference.startswith(FILE_PREFIX):
        path = keys_path()
        keys = _read_keys(path)
        if keys.pop(reference[len(FILE_PREFIX):], None) is not None:
            try:
                _write_keys(path, keys)
            except OSError as exc:
                raise CredentialError(f"cannot update the key file {path}: {exc.strerror or exc}") from None
        return
    raise CredentialError(f"unknown kind of stored API key: {reference.split(':', 1)[0]!r}")


def resolve(reference: str | None) -> str | None:
    """The key ``reference`` names (None: no key is used)."""
    if reference is None:
        return None
    if reference.startswith(ENV_PREFIX):
        name = reference[len(ENV_PREFIX):]
        value = os.environ.get(name)
        if not value:
            raise CredentialError(f"the API key was to come from the environment variable {name}, which is not set")
        return value
    if reference.startswith(KEYRING_PREFIX):
        service, name = _split_keyring(reference)
        try:
            secret: str | None = _keyring().get_password(service, name)
        except _keyring_errors() as exc:
            raise CredentialError(f"the system keyring cannot be read ({type(exc).__name__})") from None
        if not secret:
            raise CredentialError(f"the system keyring holds no key named {name!r}; enter the key again")
        return secret
    if reference.startswith(FILE_PREFIX):
        name = reference[len(FILE_PREFIX):]
        value = _read_keys(keys_path()).get(name)
        if not value:
            raise CredentialError(f"the key file {keys_path()} holds no key named {name!r}; enter the key again")
        return value
    raise CredentialError(f"unknown kind of stored API key: {reference.split(':', 1)[0]!r}")


def describe(reference: str | None) -> str:
    """Where the key is kept, in words (never the key)."""
    if reference is None:
        return "no API key"
    if reference.startswith(ENV_PREFIX):
        return f"the environment variable {reference[len(ENV_PREFIX):]}"
    if reference.startswith(KEYRING_PREFIX):
        return "the system keyring"
    if reference.startswith(FILE_PREFIX):
        return f"a file only you can read: {keys_path()}"
    return "an unknown place"
