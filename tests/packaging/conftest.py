"""The ``bundle`` marker: tests of a built installer bundle (see test_bundle.py)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bundle: runs a built PyInstaller bundle (needs KESTREL_BUNDLE_DIR=dist/Kestrel)")
