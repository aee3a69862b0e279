"""Crafted model files through the real CLI and the real engine: one line and exit 1, never a crash.

The GGUFs are the audit's (hyperparameters that make llama.cpp assert) plus the header fuzz
set of tests/gguf/test_checks.py; the chat templates are the ones that raised or ran for
minutes. Everything runs ``kestrel chat`` in this process, with llama.cpp in its child.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gguf
import pytest

from app.cli.main import main
from app.gguf.reader import GGUFError, read_gguf_info
from tests import gguf_files
from tests.gguf.test_checks import mutations

U32, I32, F32 = gguf.GGUFValueType.UINT32, gguf.GGUFValueType.INT32, gguf.GGUFValueType.FLOAT32

AUDIT = {
    "block_count_0": {"llama.block_count": (0, U32)},
    "block_count_513": {"llama.block_count": (513, U32)},
    "block_count_2^31-1": {"llama.block_count": (2**31 - 1, U32)},
    "block_count_2^32-1": {"llama.block_count": (2**32 - 1, U32)},
    "rms_eps_-1": {"llama.attention.layer_norm_rms_epsilon": (-1.0, F32)},
    "rms_eps_nan": {"llama.attention.layer_norm_rms_epsilon": (float("nan"), F32)},
}

TEMPLATES = {
    "recursive macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "division by zero": "{{ 1 / 0 }}",
    "type error": "{{ messages + 1 }}",
    "huge range": "{% for i in range(10**12) %}{% endfor %}",
    "huge string": "{{ 'a' * 10**9 }}",
    "nested ranges, no output": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested ranges with output": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "huge power": "{{ 10 ** (10 ** 10) }}",
    "raise_exception": "{{ raise_exception('roles must alternate') }}",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gguf_files.write_tiny_llama(tmp_path_factory.mktemp("hostile") / "tiny.gguf")


def chat(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["chat", "--model", str(path), "--max-tokens", "2", "hi"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", list(AUDIT))
def test_the_audits_crafted_models_end_in_one_line(name: str, tiny: Path, tmp_path: Path, kestrel_home: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = gguf_files.rewrite_metadata(tiny, tmp_path / f"{name}.gguf", AUDIT[name])
    code, out, err = chat(bad, capsys)
    assert code == 1 and out == ""
    assert err.startswith(f"kestrel: error: {bad.name}: ") and err.count("\n") == 1, err


def test_every_refused_fuzz_mutation_ends_in_one_line(tiny: Path, tmp_path: Path, kestrel_home: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    checked = 0
    for i, (name, kwargs) in enumerate(mutations()):
        path = tmp_path / f"m{i:03d}.gguf"
        if set(kwargs) == {"metadata"}:
            gguf_files.rewrite_metadata(tiny, path, kwargs["metadata"])
        else:
            try:
                gguf_files.write_tiny_llama(path, **kwargs)
            except ValueError:
                continue
        try:
            read_gguf_info(path)
        except GGUFError:
            pass
        else:
            continue  # llama.cpp runs it (tests/gguf/test_checks.py loads every such file in one child)
        code, out, err = chat(path, capsys)
        assert code == 1 and out == "" and err.count("\n") == 1 and err.startswith("kestrel: error: "), (name, err)
        assert "Traceback" not in err
        checked += 1
    assert checked > 150


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_hostile_chat_templates_are_refused_in_one_line_within_5_s(name: str, tiny: Path, tmp_path: Path,
                                                                   kestrel_home: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    metadata: dict[str, Any] = {"tokenizer.chat_template": (TEMPLATES[name], gguf.GGUFValueType.STRING)}
    evil = gguf_files.rewrite_metadata(tiny, tmp_path / "evil.gguf", metadata)
    started = time.monotonic()
    code, out, err = chat(evil, capsys)
    elapsed = time.monotonic() - started
    assert code == 1 and out == "", err
    assert err.startswith("kestrel: error: ") and "chat template" in err and err.count("\n") == 1, err
    assert elapsed < 5.0, f"{name} took {elapsed:.1f} s"


def test_a_model_with_a_good_template_still_answers(tiny: Path, tmp_path: Path, kestrel_home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>{% endfor %}<assistant>"
    good = gguf_files.rewrite_metadata(tiny, tmp_path / "good.gguf",
                                       {"tokenizer.chat_template": (template, gguf.GGUFValueType.STRING)})
    code, _out, err = chat(good, capsys)
    assert code == 0, err
