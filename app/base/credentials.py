"""Where an API key comes from, named without the key itself.

A model spec carries a *reference* to a key (``Endpoint.credential``), never the key, so
settings, history and logs can hold specs safely. This module turns a reference into the
key at the moment a connection needs it:

- ``env:NAME``: the environment variable ``NAME`` (``kestrel ... --api-key-env NAME``, for scripts).
"""

from __future__ import annotations

import os

ENV_PREFIX = "env:"


class CredentialError(RuntimeError):
    """A referenced key cannot be found; the message says where it was looked for."""


def env_reference(variable: str) -> str:
    """The reference to the key held in environment variable ``variable``."""
    return ENV_PREFIX + variable


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
    raise CredentialError(f"unknown kind of stored API key: {reference.split(':', 1)[0]!r}")


def describe(reference: str | None) -> str:
    """Where the key is kept, in words (never the key)."""
    if reference is None:
        return "no API key"
    if reference.startswith(ENV_PREFIX):
        return f"the environment variable {reference[len(ENV_PREFIX):]}"
    return "an unknown place"
