"""Hyperparameter fuzzing: every mutation is either read or refused with one line, and whatever
the reader lets through never aborts llama.cpp (checked in a child process)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gguf import GGUFValueType as T

from app.gguf.checks import Vocabulary, header_problem
from app.gguf.reader import GGUFError, read_gguf_info
from tests import gguf_files as gf

NAN, INF = math.nan, math.inf
A = T.ARRAY
WHOLE: list[tuple[Any, T]] = [
    (0, T.UINT32), (1, T.UINT32), (3, T.UINT32), (512, T.UINT32), (513, T.UINT32), (2**31 - 1, T.UINT32),
    (2**31, T.UINT32), (2**32 - 1, T.UINT32), (-1, T.INT32), (2**32, T.UINT64), (2**64 - 1, T.UINT64),
    (-1, T.INT64), (2.0, T.FLOAT32), (NAN, T.FLOAT32), (True, T.BOOL), ("2", T.STRING),
]
REAL: list[tuple[Any, T]] = [
    (0.0, T.FLOAT32), (-0.0, T.FLOAT32), (-1.0, T.FLOAT32), (NAN, T.FLOAT32), (INF, T.FLOAT32),
    (-INF, T.FLOAT32), (3e38, T.FLOAT32), (1e-45, T.FLOAT32), (1e-5, T.FLOAT64), (NAN, T.FLOAT64), (1, T.UINT32),
]
PER_LAYER: list[tuple[list[Any], T]] = [
    ([0, 0], T.UINT32), ([4, 0], T.UINT32), ([0, 4], T.UINT32), ([-1, -1], T.INT32), ([2**32 - 1] * 2, T.UINT32),
    ([4.0, 4.0], T.FLOAT32), ([4, 4, 4], T.UINT32), ([4], T.UINT32), ([4, 4], T.UINT64), (["4", "4"], T.STRING),
]
WHOLE_KEYS = [
    "llama.context_length", "llama.embedding_length", "llama.block_count", "llama.feed_forward_length",
    "llama.rope.dimension_count", "llama.attention.head_count", "llama.attention.head_count_kv",
    "llama.attention.key_length", "llama.attention.value_length", "llama.expert_count",
    "llama.expert_used_count", "llama.expert_group_count", "llama.expert_group_used_count",
    "llama.nextn_predict_layers", "llama.attention.sliding_window", "llama.vocab_size",
    "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "general.file_type", "general.alignment",
]
REAL_KEYS = ["llama.attention.layer_norm_rms_epsilon", "llama.attention.layer_norm_epsilon",
             "llama.rope.freq_base", "llama.rope.scaling.factor"]
PER_LAYER_KEYS = ["llama.feed_forward_length", "llama.attention.head_count", "llama.attention.head_count_kv"]
def _experts(count: int, used: int, **groups: int) -> dict[str, Any]:
    keys = {"expert_count": count, "expert_used_count": used} | {f"expert_{k}": v for k, v in groups.items()}
    return {"metadata": {f"llama.{k}": (v, T.UINT32) for k, v in keys.items()}}


_TOKENS = gf._vocab(256)[0]  # what write_tiny_llama writes: specials, then byte tokens
# Files whose values agree with their tensors, which is what gets past llama.cpp's shape checks.
CRAFTED: dict[str, dict[str, Any]] = {
    "heads 4 over 3 kv heads": {"n_head": 4, "n_head_kv": 3},
    "odd head size 21": {"n_head": 3, "n_head_kv": 3},
    "odd head size 15": {"n_embd": 60, "n_head": 4, "n_head_kv": 2},
    "alignment 16": {"alignment": 16},
    "alignment 8": {"alignment": 8},
    "alignment 64": {"alignment": 64},
    "three tokens, no bytes": {"n_vocab": 3},
    "1025 experts": _experts(1025, 2),
    "1024 experts": _experts(1024, 2),
    "8 experts, none used": _experts(8, 0),
    "8 experts, 9 used": _experts(8, 9),
    "8 experts in 3 groups": _experts(8, 2, group_count=3, group_used_count=1),
    "repeated tokens": {"metadata": {"tokenizer.ggml.tokens": (["<unk>", "<s>"] + ["x"] * 254, A, T.STRING)}},
    "empty tokens": {"metadata": {"tokenizer.ggml.tokens": ([*_TOKENS[:-3], "", "", ""], A, T.STRING)}},
    "no token for byte 0xE2": {"metadata": {"tokenizer.ggml.tokens": ([t if t != "<0xE2>" else "" for t in _TOKENS],
                                                                      A, T.STRING)}},
    "WordPiece with byte tokens": {"metadata": {"tokenizer.ggml.model": ("bert", T.STRING)}},
    "BPE with byte tokens": {"metadata": {"tokenizer.ggml.model": ("gpt2", T.STRING),
                                          "tokenizer.ggml.merges": (["a b"], A, T.STRING)}},
    "no_vocab tokenizer": {"metadata": {"tokenizer.ggml.model": ("no_vocab", T.STRING)}},
    "none tokenizer": {"metadata": {"tokenizer.ggml.model": ("none", T.STRING)}},
    "unknown tokenizer": {"metadata": {"tokenizer.ggml.model": ("bogus", T.STRING)}},
    "unknown RoPE scaling": {"metadata": {"llama.rope.scaling.type": ("bogus", T.STRING)}},
    "yarn RoPE scaling": {"metadata": {"llama.rope.scaling.type": ("yarn", T.STRING)}},
    "short scores": {"metadata": {"tokenizer.ggml.scores": ([0.0] * 10, A, T.FLOAT32)}},
    "string scores": {"metadata": {"tokenizer.ggml.scores": (["a"] * 256, A, T.STRING)}},
}
for _key in ("llama.context_length", "llama.block_count", "llama.attention.head_count",
             "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.tokens", "tokenizer.ggml.model"):
    CRAFTED[f"{_key} missing"] = {"metadata": {_key: None}}

# llama.cpp (llama-cpp-python 0.3.36) aborts the process on each of these; the reader must refuse them.
MUST_REFUSE: dict[str, str] = {
    "llama.block_count=0:UINT32": "its layer count is 0 (llama.block_count); llama.cpp needs 1 to 512",
    "llama.block_count=513:UINT32": "its layer count is 513",
    "llama.block_count=2147483647:UINT32": "its layer count is 2147483647",
    "llama.block_count=4294967295:UINT32": "its layer count is 4294967295",
    "llama.attention.layer_norm_rms_epsilon=-1.0:FLOAT32": "its norm epsilon is -1.0",
    "llama.attention.layer_norm_rms_epsilon=nan:FLOAT32": "its norm epsilon is nan",
    "llama.attention.layer_norm_rms_epsilon=-inf:FLOAT32": "its norm epsilon is -inf",
    "llama.expert_count=3:UINT32": "its used expert count is 0",
    "llama.expert_count=4294967295:UINT32": "its expert count is 4294967295 (llama.expert_count); "
                                            "llama.cpp needs 0 to 1024",
    "llama.expert_used_count=3:UINT32": "its used expert count is 3",
    "llama.expert_group_count=3:UINT32": "its expert group count is 3",
    "llama.nextn_predict_layers=3:UINT32": "its next-token prediction layer count is 3",
    "general.alignment=1:UINT32": "data starts at byte",
    "heads 4 over 3 kv heads": "it has 4 attention heads for 3 key/value heads",
    "odd head size 21": "its embedding length 64 does not divide into 3 attention heads",
    "odd head size 15": "its RoPE dimension count is 15",
    "alignment 16": "not a multiple of 32",
    "alignment 8": "not a multiple of 32",
    "three tokens, no bytes": "its vocabulary has no token for byte 0x00",
    "1025 experts": "its expert count is 1025",
    "8 experts, none used": "its used expert count is 0",
    "8 experts, 9 used": "its used expert count is 9",
    "8 experts in 3 groups": "8 experts in 3 groups",
    "repeated tokens": "its vocabulary lists 253 token(s) more than once",
    "no token for byte 0xE2": "its vocabulary has no token for byte 0xE2",
    "WordPiece with byte tokens": "its WordPiece vocabulary has byte tokens",
    "no_vocab tokenizer": "it has no tokenizer (tokenizer.ggml.model is 'no_vocab')",
    "none tokenizer": "it has no tokenizer",
    "unknown RoPE scaling": "its RoPE scaling type is 'bogus'",
}
# Values real models have, or that llama.cpp handles on its own: the reader must not refuse them.
MUST_READ = [
    "llama.context_length=4294967295:UINT32", "llama.attention.layer_norm_rms_epsilon=0.0:FLOAT32",
    "llama.attention.layer_norm_rms_epsilon=1e-45:FLOAT32", "llama.attention.sliding_window=0:UINT32",
    "llama.feed_forward_length=0:UINT32", "llama.attention.head_count=0:UINT32",
    "llama.attention.head_count_kv=[4, 0]:ARRAY[UINT32]", "llama.feed_forward_length=[0, 0]:ARRAY[UINT32]",
    "llama.rope.freq_base=1e-45:FLOAT32", "tokenizer.ggml.bos_token_id=4294967295:UINT32",
    "alignment 64", "1024 experts", "yarn RoPE scaling", "BPE with byte tokens", "unknown tokenizer", "empty tokens",
    "llama.block_count=512:UINT32", "llama.expert_count=0:UINT32",
]


def mutations() -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, write_tiny_llama keyword arguments) for every mutation."""
    for key in WHOLE_KEYS:
        for value, vtype in WHOLE:
            yield f"{key}={value!r}:{vtype.name}", {"metadata": {key: (value, vtype)}}
    for key in REAL_KEYS:
        for value, vtype in REAL:
            yield f"{key}={value!r}:{vtype.name}", {"metadata": {key: (value, vtype)}}
    for key in PER_LAYER_KEYS:
        for values, etype in PER_LAYER:
            yield f"{key}={values!r}:ARRAY[{etype.name}]", {"metadata": {key: (values, A, etype)}}
    yield from CRAFTED.items()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str | None]]:
    """Each mutation's file and the reader's verdict on it (None: read fine)."""
    folder = tmp_path_factory.mktemp("mutations")
    base = gf.write_tiny_llama(folder / "base.gguf")
    result: dict[str, tuple[Path, str | None]] = {}
    for i, (name, kwargs) in enumerate(mutations()):
        path = folder / f"m{i:03d}.gguf"
        if set(kwargs) == {"metadata"}:
            gf.rewrite_metadata(base, path, kwargs["metadata"])
        else:
            gf.write_tiny_llama(path, **kwargs)
        start = time.perf_counter()
        try:
            read_gguf_info(path)
            verdict = None
        except GGUFError as exc:  # anything else escapes and fails the test
            verdict = str(exc)
            assert "\n" not in verdict and verdict.startswith(f"{path.name}: "), (name, verdict)
        assert time.perf_counter() - start < 1.0, name
        result[name] = (path, verdict)
    return result


def test_every_mutation_is_read_or_refused_with_one_line(outcomes: dict[str, tuple[Path, str | None]]) -> None:
    assert len(outcomes) > 300
    refused = {name for name, (_, verdict) in outcomes.items() if verdict}
    assert 60 < len(refused) < len(outcomes) - 100  # both outcomes occur, in bulk


@pytest.mark.parametrize("name", sorted(MUST_REFUSE))
def test_what_aborts_llama_cpp_is_refused(outcomes: dict[str, tuple[Path, str | None]], name: str) -> None:
    verdict = outcomes[name][1]
    assert verdict is not None, f"{name} was read, but llama.cpp aborts on it"
    assert MUST_REFUSE[name] in verdict
    assert verdict.endswith("the file is damaged or not a model Kestrel can run") or "Kestrel needs" in verdict


def test_values_real_models_use_are_read(outcomes: dict[str, tuple[Path, str | None]]) -> None:
    refused = {name: outcomes[name][1] for name in MUST_READ if outcomes[name][1]}
    assert not refused


def test_brief_example_message(tmp_path: Path) -> None:
    path = gf.write_tiny_llama(tmp_path / "bad.gguf", metadata={"llama.block_count": (513, T.UINT32)})
    with pytest.raises(GGUFError) as err:
        read_gguf_info(path)
    assert str(err.value) == ("bad.gguf: its layer count is 513 (llama.block_count); llama.cpp needs 1 to 512: "
                              "the file is damaged or not a model Kestrel can run")


_CHILD = r"""
import sys
from app.engines.llama import native
ll = native.lib()
for line in sys.stdin:
    path = line.strip()
    print("START", path, flush=True)
    mp = ll.llama_model_default_params()
    mp.n_gpu_layers = 0
    model = ll.llama_model_load_from_file(path.encode(), mp)
    if model:
        cp = ll.llama_context_default_params()
        cp.n_ctx = cp.n_batch = cp.n_ubatch = 64
        cp.n_threads = cp.n_threads_batch = 1
        ctx = ll.llama_init_from_model(model, cp)
        if ctx:
            text = "Hello, wörld! 123 ☃".encode()
            buf = (ll.llama_token * 64)()
            n = ll.llama_tokenize(ll.llama_model_get_vocab(model), text, len(text), buf, 64, True, False)
            if n > 0:
                ll.llama_decode(ctx, ll.llama_batch_get_one(buf, n))
            ll.llama_free(ctx)
        ll.llama_model_free(model)
    print("DONE", path, flush=True)
"""


def test_whatever_the_reader_passes_does_not_abort_llama_cpp(outcomes: dict[str, tuple[Path, str | None]]) -> None:
    """One child process loads (and decodes with) every file the reader accepted; it must survive all."""
    passed = {str(path): name for name, (path, verdict) in outcomes.items() if verdict is None}
    env = dict(os.environ, GGML_NO_BACKTRACE="1")
    proc = subprocess.run([sys.executable, "-c", _CHILD], input="\n".join(passed) + "\n", capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parents[2], env=env)
    done = [line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("DONE ")]
    started = [line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("START ")]
    last_error = proc.stderr.strip().splitlines()[-1:] if proc.returncode else []
    crashed = passed.get(started[-1]) if started and len(done) < len(passed) else None
    assert proc.returncode == 0 and len(done) == len(passed), f"llama.cpp aborted on {crashed}: {last_error}"


def test_checks_on_plain_values() -> None:
    """header_problem on metadata alone: per-layer arrays, absent keys, hybrid models."""
    base = {"general.architecture": "jamba", "jamba.block_count": 4, "jamba.embedding_length": 64,
            "jamba.attention.head_count": 4}
    assert header_problem(base, {}, [], None) is None
    hybrid = base | {"jamba.attention.head_count_kv": (0, 2, 0, 2)}  # recurrent layers have none
    assert header_problem(hybrid, {"jamba.attention.head_count_kv": 4}, [], None) is None
    uneven = base | {"jamba.attention.head_count_kv": (0, 3, 0, 2)}
    problem = header_problem(uneven, {"jamba.attention.head_count_kv": 4}, [], None)
    assert problem and problem.startswith("it has 4 attention heads in layer 1 for 3 key/value heads")
    mamba = {"general.architecture": "mamba", "mamba.block_count": 64, "mamba.attention.head_count": 0,
             "mamba.feed_forward_length": 0, "mamba.embedding_length": 2560, "mamba.context_length": 2**20}
    assert header_problem(mamba, {}, [], None) is None
    too_long = base | {"jamba.feed_forward_length": "<array uint32 x 2000>"}  # not kept: llama.cpp refuses it
    assert header_problem(too_long, {"jamba.feed_forward_length": 2000}, [], None) is None
    aligned = [("a", 0), ("b", 4096)]
    assert header_problem(base, {}, aligned, None) is None
    assert "'c' data starts at byte 48" in (header_problem(base, {}, [*aligned, ("c", 48)], None) or "")


def test_vocabulary_repeats_count_empty_tokens_as_llama_cpp_does() -> None:
    def stored(*tokens: bytes) -> set[bytes]:
        return {len(t).to_bytes(8, "little") + t for t in tokens}

    assert Vocabulary(stored(b"a", b""), count=4, empty=3).repeats == 0  # empties are renamed [EMPTY_i]
    assert Vocabulary(stored(b"a", b""), count=5, empty=3).repeats == 1
    assert Vocabulary(stored(b"a", b"b"), count=3).repeats == 1
    assert Vocabulary(stored(b"<0x41>"), count=1).has(b"<0x41>")


def test_vocabularies_too_big_to_collect_are_read_unchecked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the byte bound the tokens are walked, not kept (a crafted list cannot fill memory)."""
    from app.gguf import reader

    tokens = ["<unk>", "<s>"] + ["x"] * 254
    path = gf.write_tiny_llama(tmp_path / "rep.gguf", metadata={"tokenizer.ggml.tokens": (tokens, A, T.STRING)})
    with pytest.raises(GGUFError, match="more than once"):
        read_gguf_info(path)
    big = gf.write_tiny_llama(tmp_path / "big.gguf", n_vocab=20000,  # 2 MB of tokens: several 1 MiB windows
                              metadata={"tokenizer.ggml.tokens": (["x" * 100] * 20000, A, T.STRING)})
    with pytest.raises(GGUFError, match="19999 token"):
        read_gguf_info(big)
    monkeypatch.setattr(reader, "_MAX_VOCAB_BYTES", 16)
    info = read_gguf_info(big)  # the first window is looked at, the rest only walked
    assert info.n_vocab == 20000 and info.tensor_count == 21
