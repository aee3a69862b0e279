"""API keys: the system keyring where one works, else a file only the user can read; never in the clear elsewhere."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator

import keyring
import pytest
from keyring.backends import fail

from app.base import credentials
from app.base.credentials import CredentialError
from tests.keyrings import MemoryKeyring


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """The headless box: keyring's fail backend (raises NoKeyringError)."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def test_without_a_keyring_the_key_goes_to_a_file_only_the_user_can_read(no_keyring: None) -> None:
    reference = credentials.store("lab server", "sk-secret-1")
    assert reference == "file:lab server"
    path = credentials.keys_path()
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert credentials.resolve(reference) == "sk-secret-1"
    assert credentials.describe(reference) == f"a file only you can read: {path}"
    credentials.store("other", "sk-secret-2")
    credentials.delete(reference)
    assert "sk-secret-1" not in path.read_text()
    with pytest.raises(CredentialError, match="holds no key named 'lab server'") as caught:
        credentials.resolve(reference)
    assert "sk-secret" not in str(caught.value)
    credentials.delete("file:other")
    assert not path.exists()  # the last key gone: no file left behind


def test_with_a_keyring_the_key_lives_there_and_nowhere_else(memory_keyring: MemoryKeyring) -> None:
    reference = credentials.store("gpu box", "sk-in-keyring")
    assert reference == "keyring:kestrel/gpu box"
    assert memory_keyring.secrets == {("kestrel", "gpu box"): "sk-in-keyring"}
    assert not credentials.keys_path().exists()
    assert credentials.resolve(reference) == "sk-in-keyring"
    assert credentials.describe(reference) == "the system keyring"
    credentials.delete(reference)
    credentials.delete(reference)  # already gone: fine
    assert memory_keyring.secrets == {}
    with pytest.raises(CredentialError, match="no key named 'gpu box'"):
        credentials.resolve(reference)


def test_environment_and_unknown_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KESTREL_TEST_KEY", "from-env")
    assert credentials.resolve(credentials.env_reference("KESTREL_TEST_KEY")) == "from-env"
    credentials.delete("env:KESTREL_TEST_KEY")  # never touches the environment
    assert os.environ["KESTREL_TEST_KEY"] == "from-env"
    assert credentials.resolve(None) is None and credentials.describe(None) == "no API key"
    with pytest.raises(CredentialError, match="unknown kind"):
        credentials.resolve("vault:x")
