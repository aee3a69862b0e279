"""The server's API key: made at first start, kept where API keys are kept, never printed by default.

The key lives in the system keyring (else the 0600 key file) through
:mod:`app.base.credentials`; only its *reference* is remembered, in ``api-server.json`` in the
config folder. ``kestrel serve --api-key-env VAR`` takes the key from an environment
variable instead (scripts), and nothing is stored then.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from app.api.errors import ApiError
from app.base import credentials, paths
from app.base.atomic import write_atomic

KEY_NAME = "api-server"
REFERENCE_FILE = "api-server.json"
MIN_KEY_LENGTH = 16  # a key from the environment shorter than this is refused: it could be guessed


class ApiKeyError(ApiError):
    """The key cannot be made, stored or read; the message is one line for the user."""


@dataclass(frozen=True)
class ServerKey:
    """The key, its reference, and where it is kept in words (for the UI and ``kestrel serve``)."""

    key: str
    reference: str
    where: str


def _reference_path() -> Path:
    return paths.config_dir() / REFERENCE_FILE


def _stored_reference() -> str | None:
    try:
        data = json.loads(_reference_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    reference = data.get("key") if isinstance(data, dict) else None
    return reference if isinstance(reference, str) and reference else None


def new_key() -> ServerKey:
    """Make a fresh key, keep it, and remember where (the old one stops working)."""
    key = secrets.token_urlsafe(32)
    try:
        reference = credentials.store(KEY_NAME, key)
    except credentials.CredentialError as exc:
        raise ApiKeyError(f"cannot keep the server's API key: {exc}") from None
    write_atomic(_reference_path(), json.dumps({"key": reference}) + "\n")
    return ServerKey(key, reference, credentials.describe(reference))


def server_key() -> ServerKey:
    """The stored key, or a new one at first start (or when the stored one is gone)."""
    reference = _stored_reference()
    if reference is not None:
        try:
            key = credentials.resolve(reference)
        except credentials.CredentialError:
            key = None  # the keyring entry or key file was removed: make a new key
        if key:
            return ServerKey(key, reference, credentials.describe(reference))
    return new_key()


def env_key(variable: str) -> ServerKey:
    """The key from environment variable ``variable``; ApiKeyError when unset or too short to be safe."""
    reference = credentials.env_reference(variable)
    try:
        key = credentials.resolve(reference)
    except credentials.CredentialError as exc:
        raise ApiKeyError(str(exc)) from None
    if key is None or len(key) < MIN_KEY_LENGTH:
        raise ApiKeyError(f"the API key in {variable} is shorter than {MIN_KEY_LENGTH} characters; use a longer one")
    return ServerKey(key, reference, credentials.describe(reference))
