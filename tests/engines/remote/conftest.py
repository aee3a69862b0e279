"""Fixtures for the tests against real servers."""

from __future__ import annotations

import pytest

from tests.llama_tools import HOW_TO_BUILD, LlamaTools, llama_tools


@pytest.fixture(scope="module")
def tools() -> LlamaTools:
    """llama.cpp's own llama-server and RPC server; the module is skipped when they are not built."""
    found = llama_tools()
    if found is None:
        pytest.skip(f"llama-server and ggml-rpc-server not built: run {HOW_TO_BUILD}")
    return found
