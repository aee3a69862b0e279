"""The model library: linking in place, discovery in other apps' folders, safe deletion, catalog."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.models.catalog import family_of, load_catalog
from app.models.discovery import discover
from app.models.library import Library
from tests import gguf_files


@pytest.fixture
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    return home


def make_hf_cache(home: Path) -> Path:
    """The hub cache layout: blobs/<sha> with snapshots/<rev>/<file> symlinks."""
    repo = home / ".cache" / "huggingface" / "hub" / "models--Org--Tiny-GGUF"
    blob = repo / "blobs" / "0123abcd"
    blob.parent.mkdir(parents=True)
    gguf_files.write_tiny_llama(blob)
    snapshot = repo / "snapshots" / "deadbeef"
    snapshot.mkdir(parents=True)
    (snapshot / "tiny-Q8_0.gguf").symlink_to(os.path.relpath(blob, snapshot))
    (snapshot / "mmproj-tiny.gguf").symlink_to(os.path.relpath(blob, snapshot))  # a vision projector
    return snapshot / "tiny-Q8_0.gguf"


def make_lmstudio(home: Path) -> list[Path]:
    folder = home / ".lmstudio" / "models" / "someone" / "Big-GGUF"
    folder.mkdir(parents=True)
    first = gguf_files.write_tiny_llama(folder / "big-Q4_K_M-00001-of-00002.gguf")
    gguf_files.write_tiny_llama(folder / "big-Q4_K_M-00002-of-00002.gguf")
    return [first]


def test_discovery_finds_hf_cache_and_lm_studio_models(fake_home: Path) -> None:
    hf = make_hf_cache(fake_home)
    lm = make_lmstudio(fake_home)
    found = discover()
    assert {(f.path, f.source) for f in found} == {(hf, "Hugging Face cache"), (lm[0], "LM Studio")}


def test_discovered_models_are_linked_in_place_and_never_deleted(fake_home: Path, tmp_path: Path) -> None:
    hf = make_hf_cache(fake_home)
    library = Library(tmp_path / "models.json")
    assert library.sync_discovered() == 1
    assert library.sync_discovered() == 0  # idempotent
    entry = library.entries()[0]
    assert entry.source == "discovered" and Path(entry.path) == hf  # the path the user knows, not the blob
    with pytest.raises(PermissionError):
        library.delete(hf)
    assert hf.resolve().exists()


def test_downloaded_models_can_be_deleted(tmp_path: Path) -> None:
    library = Library(tmp_path / "models.json")
    path = gguf_files.write_tiny_llama(tmp_path / "dl.gguf")
    library.add(path, "downloaded")
    library.delete(path)
    assert not path.exists() and library.entries() == []


def test_imported_files_are_referenced_not_copied(tmp_path: Path) -> None:
    library = Library(tmp_path / "models.json")
    path = gguf_files.write_tiny_llama(tmp_path / "mine.gguf")
    library.add(path, "imported")
    assert [e.path for e in library.entries()] == [str(path)]
    assert list(tmp_path.glob("*.gguf")) == [path]


def test_catalog_lists_families_with_variants() -> None:
    families = load_catalog()
    ids = {f.id for f in families}
    assert {"qwen2.5-0.5b-instruct", "llama-3.2-1b-instruct", "gemma-3-1b-it", "phi-3.5-mini-instruct",
            "gemma-3-270m"} <= ids
    for family in families:
        assert family.variants and (family.repo or family.bundled)
        quants = [v.quant for v in family.variants]
        assert len(quants) == len(set(quants))
        for variant in family.variants:
            assert variant.size_bytes > 0
    q4 = next(f for f in families if f.id == "qwen2.5-0.5b-instruct").variants[0]
    assert q4.approximate and 250e6 < q4.size_bytes < 450e6
    assert family_of("qwen2.5-0.5b-instruct-q8_0.gguf") is not None
    assert family_of("Gemma 3 270m") is not None
