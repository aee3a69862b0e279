"""The engine on synthetic GGUFs: tiny real models, broken files, chat templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engines.contract import ChatMessage, EngineError, GenerationParams, LocalModel
from app.engines.llama.engine import LlamaEngine
from tests import gguf_files

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gguf_files.write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny.gguf")


def test_tiny_synthetic_model_loads_and_generates(tiny: Path) -> None:
    engine = LlamaEngine()
    loaded = engine.load(LocalModel(path=tiny, n_ctx=256))
    try:
        assert loaded.quant == "F16" and loaded.n_layers == 2 and loaded.chat_format == "plain"
        list(engine.stream([ChatMessage("user", "abc")], GenerationParams(max_tokens=8, temperature=0)))
        stats = engine.last_stats
        assert stats is not None and stats.completion_tokens + (stats.stop_reason == "eos") >= 1
    finally:
        engine.unload()


def test_chat_template_from_the_gguf_is_used(tmp_path: Path) -> None:
    path = gguf_files.write_tiny_llama(tmp_path / "chat.gguf", chat_template=CHATML)
    engine = LlamaEngine()
    loaded = engine.load(LocalModel(path=path, n_ctx=256))
    try:
        assert loaded.chat_format == "gguf-template"
        tokens, stops = engine.prompt_tokens([ChatMessage("user", "hi")])
        assert stops == ()
        # The rendered template text is what was tokenized (im_start markers present).
        assert len(tokens) > len(engine.tokenize("hi"))
    finally:
        engine.unload()


BROKEN = {
    "empty": lambda src, dst: gguf_files.make_empty(dst),
    "wrong magic": gguf_files.make_wrong_magic,
    "bad version": gguf_files.make_bad_version,
    "truncated header": gguf_files.make_truncated_header,
    "truncated data": gguf_files.make_truncated_data,
    "random bytes": lambda src, dst: gguf_files.make_random_bytes(dst),
    "absurd array count": gguf_files.make_absurd_array_count,
    "absurd string length": gguf_files.make_absurd_string_length,
    "missing architecture": gguf_files.make_missing_architecture,
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_files_are_refused_with_a_reason(kind: str, tiny: Path, tmp_path: Path) -> None:
    bad = BROKEN[kind](tiny, tmp_path / f"{kind.replace(' ', '_')}.gguf")
    with pytest.raises(EngineError) as info:
        LlamaEngine().load(LocalModel(path=bad, n_ctx=256))
    assert bad.name in str(info.value)


def test_llama_cpp_own_reason_reaches_the_user(tmp_path: Path) -> None:
    # A header our reader accepts but llama.cpp cannot use: an unknown architecture.
    path = gguf_files.write_tiny_llama(tmp_path / "alien.gguf", arch="notarealarch")
    with pytest.raises(EngineError) as info:
        LlamaEngine().load(LocalModel(path=path, n_ctx=256))
    message = str(info.value)
    assert "alien.gguf" in message
    assert "notarealarch" in message
