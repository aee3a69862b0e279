"""Tests for app.gguf.reader: correct fields for good files, GGUFError for every bad one."""

from __future__ import annotations

import pickle
import random
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import gguf
import numpy as np
import pytest

from app.base.messages import one_line, split_details
from app.gguf.reader import (
    FTYPE_NAMES,
    GGML_TYPE_NAMES,
    GGML_TYPE_SIZES,
    GGUFError,
    GGUFInfo,
    ftype_name,
    read_gguf_info,
)
from tests import gguf_files as gf

TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gf.write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


# --- a hand-rolled GGUF builder, for structures GGUFWriter will not produce --------------

def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv_str(key: str | bytes, value: str) -> bytes:
    return _s(key) + struct.pack("<I", 8) + _s(value)


def kv_u32(key: str, value: int) -> bytes:
    return _s(key) + struct.pack("<II", 4, value)


def tensor_entry(name: str, dims: tuple[int, ...], ggml_type: int = 0, offset: int = 0) -> bytes:
    return _s(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ggml_type, offset)


def build(path: Path, kvs: Sequence[bytes], tensors: Sequence[bytes] = (), data: bytes = b"",
          *, version: int = 3, arch: bool = True, align: int = 32) -> Path:
    """Header + metadata + tensor infos, padded to ``align``, then ``data``."""
    if arch:
        kvs = [kv_str("general.architecture", "llama"), *kvs]
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(tensors)
    head += b"\0" * (-len(head) % align)
    path.write_bytes(head + data)
    return path


# --- valid files ---------------------------------------------------------------------------

def test_tiny_llama_fields(tiny: Path) -> None:
    info = read_gguf_info(tiny)
    reader = gguf.GGUFReader(str(tiny))
    assert isinstance(info, GGUFInfo)
    assert (info.architecture, info.name, info.version) == ("llama", "Tiny Llama", 3)
    assert (info.file_type, info.quant) == (1, "F16")
    assert info.params == sum(int(t.n_elements) for t in reader.tensors)
    assert (info.n_ctx_train, info.n_layer, info.n_embd) == (512, 2, 64)
    assert (info.n_head, info.n_head_kv, info.key_length, info.value_length) == (4, 2, 16, 16)
    assert info.sliding_window is None
    assert info.n_vocab == 256
    assert info.chat_template is None and not info.has_chat_template
    assert (info.bos_token_id, info.eos_token_id, info.add_bos_token) == (1, 2, True)
    assert info.tensor_count == len(info.tensors) == 2 + 9 * 2 + 1
    assert info.kv_count == len(info.metadata)
    assert info.size_bytes == tiny.stat().st_size
    assert info.data_offset == reader.data_offset and info.data_offset % 32 == 0
    assert info.metadata["tokenizer.ggml.tokens"] == "<array string x 256>"
    assert info.metadata["tokenizer.ggml.token_type"][:4] == (2, 3, 3, 6)  # small int arrays kept


def test_tensors_agree_with_gguf_reader(tiny: Path) -> None:
    info = read_gguf_info(tiny)
    reader = gguf.GGUFReader(str(tiny))
    ours = [(t.name, t.shape, t.ggml_type, info.data_offset + t.offset, t.n_bytes) for t in info.tensors]
    theirs = [(t.name, tuple(int(d) for d in t.shape), int(t.tensor_type), int(t.data_offset), int(t.n_bytes))
              for t in reader.tensors]
    assert ours == theirs
    by_name = {t.name: t for t in info.tensors}
    assert by_name["token_embd.weight"].shape == (64, 256)  # ggml order: (n_embd, n_vocab)
    assert by_name["blk.0.attn_k.weight"].shape == (64, 32)  # n_head_kv * head_dim rows
    assert by_name["blk.0.attn_norm.weight"].ggml_type == 0  # F32 norms
    for field in reader.fields.values():
        if not field.name.startswith("GGUF.") and field.types[0] != gguf.GGUFValueType.ARRAY:
            assert info.metadata[field.name] == pytest.approx(field.contents()), field.name


def test_chat_template_present(tmp_path: Path) -> None:
    info = read_gguf_info(gf.write_tiny_llama(tmp_path / "t.gguf", chat_template=TEMPLATE))
    assert info.chat_template == TEMPLATE and info.has_chat_template


@pytest.mark.parametrize(
    ("kwargs", "quant"),
    [({}, "F16"), ({"tensor_dtype": np.float32}, "F32"), ({"matrix_type": gguf.GGMLQuantizationType.Q8_0}, "Q8_0")],
)
def test_quant_inferred_without_file_type(tmp_path: Path, kwargs: dict[str, object], quant: str) -> None:
    info = read_gguf_info(gf.write_tiny_llama(tmp_path / "nf.gguf", file_type=None, **kwargs))  # type: ignore[arg-type]
    assert info.file_type is None and "general.file_type" not in info.metadata
    assert info.quant == quant


def test_q8_0_file_with_custom_alignment(tmp_path: Path) -> None:
    path = gf.write_tiny_llama(tmp_path / "q8.gguf", file_type=7, alignment=64,
                               matrix_type=gguf.GGMLQuantizationType.Q8_0)
    info = read_gguf_info(path)
    assert info.quant == "Q8_0" and info.data_offset % 64 == 0
    assert info.data_offset == gguf.GGUFReader(str(path)).data_offset
    q = next(t for t in info.tensors if t.name == "blk.0.attn_q.weight")
    assert q.n_bytes == 64 * 64 // 32 * 34


def test_per_layer_head_counts_and_defaults(tmp_path: Path) -> None:
    writer = gguf.GGUFWriter(str(tmp_path / "arr.gguf"), "gemma3")
    writer.add_head_count([4, 8, 4])
    writer.add_head_count_kv([1, 0, 2])
    writer.add_embedding_length(64)
    writer.add_sliding_window(512)
    writer.add_array("test.nested", [[1, 2], [3]])
    writer.add_array("test.flags", [True, False])
    writer.add_tensor("w", np.zeros((2, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_gguf_info(tmp_path / "arr.gguf")
    assert (info.n_head, info.n_head_kv, info.sliding_window) == (8, 2, 512)
    assert info.key_length == info.value_length == 64 // 8
    assert info.n_vocab is None and info.n_layer is None
    assert info.name == "arr"  # no general.name: the file stem
    assert info.metadata["test.nested"] == "<array array x 2>"
    assert info.metadata["test.flags"] == (True, False)
    assert info.params == 64 and info.quant == "F32"


def test_version_2_is_accepted(tiny: Path, tmp_path: Path) -> None:
    assert read_gguf_info(gf.make_bad_version(tiny, tmp_path / "v2.gguf", 2)).version == 2


def test_large_vocabulary_is_fast(tmp_path: Path) -> None:
    tokens = b"".join(_s(f"\u2581piece{i}") for i in range(262144))
    kv = _s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 262144) + tokens
    path = build(tmp_path / "vocab.gguf", [kv, kv_str("tokenizer.chat_template", TEMPLATE)])
    start = time.perf_counter()
    info = read_gguf_info(path)
    assert time.perf_counter() - start < 1.0
    assert info.n_vocab == 262144 and info.chat_template == TEMPLATE


# --- broken files ----------------------------------------------------------------------------

Maker = Callable[[Path, Path], Path]

BROKEN: list[tuple[str, Maker, str]] = [
    ("empty", lambda src, dst: gf.make_empty(dst), "empty file (0 bytes)"),
    ("wrong-magic", gf.make_wrong_magic, "not a GGUF file (first bytes 504b0304"),
    ("truncated-header", gf.make_truncated_header, "truncated"),
    ("truncated-data", gf.make_truncated_data, "data is not within the file bounds"),
    ("random-bytes", lambda src, dst: gf.make_random_bytes(dst), "not a GGUF file"),
    ("absurd-array-count", gf.make_absurd_array_count,
     "array 'tokenizer.ggml.tokens' at offset"),
    ("absurd-string-length", gf.make_absurd_string_length, "claims 1099511627776 bytes but only"),
    ("version-1", gf.make_bad_version, "unsupported GGUF version 1"),
    ("version-9", lambda src, dst: gf.make_bad_version(src, dst, 9), "unsupported GGUF version 9"),
    # what a file that only starts with 'GGUF' shows: said as such, not as an unknown version
    ("version-absurd", lambda src, dst: gf.make_bad_version(src, dst, 3984908932),
     "is not a GGUF model file, or it is damaged"),
    ("big-endian", gf.make_big_endian, "big-endian"),
    ("no-architecture", gf.make_missing_architecture, "missing general.architecture"),
]


@pytest.mark.parametrize(("kind", "make", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files(tiny: Path, tmp_path: Path, kind: str, make: Maker, reason: str) -> None:
    path = make(tiny, tmp_path / f"broken-{kind}.gguf")
    with pytest.raises(GGUFError) as err:
        read_gguf_info(path)
    message, details = split_details(str(err.value))
    assert f"broken-{kind}.gguf" in message and reason in message
    assert "\n" not in message and err.value.path == path and reason in err.value.reason
    assert details == err.value.details


def test_a_technical_detail_is_kept_apart_from_the_reason(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(GGUFError) as err:
        read_gguf_info(gf.make_bad_version(tiny, tmp_path / "odd.gguf", 3984908932))
    assert err.value.reason == "is not a GGUF model file, or it is damaged"
    assert err.value.details == "its header says version 3984908932, a number no GGUF file has"
    assert one_line(str(err.value)) == ("odd.gguf: is not a GGUF model file, or it is damaged (its header says "
                                        "version 3984908932, a number no GGUF file has)")
    assert pickle.loads(pickle.dumps(err.value)).details == err.value.details


def test_absurd_array_count_names_the_count(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match=rf"claims {2**60} elements but only \d+ bytes remain"):
        read_gguf_info(gf.make_absurd_array_count(tiny, tmp_path / "a.gguf"))


def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match=r"nothing\.gguf: file does not exist"):
        read_gguf_info(tmp_path / "nothing.gguf")
    with pytest.raises(GGUFError, match="is a folder, not a GGUF file"):
        read_gguf_info(tmp_path)


def test_truncated_inside_a_string(tmp_path: Path) -> None:
    src = gf.write_tiny_llama(tmp_path / "t.gguf", chat_template=TEMPLATE)
    key = "tokenizer.chat_template"
    cut = gf.key_value_offset(src.read_bytes(), key) + 4 + 8 + 2  # two bytes into the template
    pattern = rf"value of '{key}' at offset \d+ claims {len(TEMPLATE)} bytes but only 2 bytes remain"
    with pytest.raises(GGUFError, match=pattern):
        read_gguf_info(gf.make_truncated_header(src, tmp_path / "cut.gguf", at=cut))


_NAME = "blk.0.attn_q.weight"


@pytest.mark.parametrize(
    ("kvs", "tensors", "data", "reason"),
    [
        ([kv_str("general.architecture", "llama")], [], b"", "duplicate key 'general.architecture'"),
        ([_s("x") + struct.pack("<II", 13, 0)], [], b"", "key 'x' has unknown value type 13"),
        ([_s("x") + struct.pack("<IIQ", 9, 42, 1)], [], b"", "array 'x' has unknown element type 42"),
        ([_s("x") + struct.pack("<IIQIQ", 9, 9, 1, 9, 1) + b"\0" * 16], [], b"", "nests arrays deeper than 2"),
        ([kv_str(b"\xff\xfe", "v")], [], b"", "is not valid UTF-8"),
        ([_s("") + struct.pack("<IB", 0, 1)], [], b"", "key 1 is empty"),
        ([kv_u32("general.alignment", 48)], [], b"", "general.alignment 48 is not a power of two"),
        ([_s("general.alignment") + struct.pack("<IQ", 10, 32)], [], b"", "general.alignment is not a uint32"),
        ([], [tensor_entry(_NAME, (1, 1, 1, 1, 1))], b"", f"tensor '{_NAME}' has 5 dimensions"),
        ([], [tensor_entry(_NAME, (4,), ggml_type=31)], b"\0" * 32, "unknown ggml type 31"),
        ([], [tensor_entry(_NAME, (4, 0))], b"", "has a zero dimension (4, 0)"),
        ([], [tensor_entry(_NAME, (2**32, 2**31))], b"", "has too many elements"),
        ([], [tensor_entry(_NAME, (48,), ggml_type=8)], b"\0" * 64, "48 elements per row, not a multiple"),
        ([], [tensor_entry(_NAME, (8,)), tensor_entry(_NAME, (8,), offset=32)], b"\0" * 64,
         f"duplicate tensor name '{_NAME}'"),
        ([], [tensor_entry(_NAME, (8,), offset=16)], b"\0" * 64, "has data offset 16, expected 0"),
        ([], [tensor_entry("x" * 64, (8,))], b"\0" * 32, "is 64 bytes long (limit 63)"),
        ([], [tensor_entry(_NAME, (1024,))], b"\0" * 32, f"tensor '{_NAME}' data is not within the file bounds"),
    ],
    ids=["dup-key", "value-type", "array-type", "nesting", "utf8-key", "empty-key", "alignment",
         "alignment-type", "n-dims", "ggml-type", "zero-dim", "elements", "block", "dup-tensor",
         "offset", "long-name", "data-bounds"],
)
def test_crafted_headers(tmp_path: Path, kvs: list[bytes], tensors: list[bytes], data: bytes,
                         reason: str) -> None:
    path = build(tmp_path / "crafted.gguf", kvs, tensors, data)
    with pytest.raises(GGUFError) as err:
        read_gguf_info(path)
    assert reason in str(err.value) and "crafted.gguf" in str(err.value)


def test_absurd_header_counts(tmp_path: Path) -> None:
    path = tmp_path / "counts.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 2**62) + b"\0" * 64)
    with pytest.raises(GGUFError, match=rf"kv_count at offset 24 claims {2**62} entries but only 64 bytes remain"):
        read_gguf_info(path)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**40, 0) + b"\0" * 64)
    with pytest.raises(GGUFError, match=r"tensor_count at offset 24 claims"):
        read_gguf_info(path)


def test_nested_array_of_depth_two_is_fine(tmp_path: Path) -> None:
    nested = _s("x") + struct.pack("<IIQ", 9, 9, 2) + struct.pack("<IQ", 4, 1) + struct.pack("<I", 7) \
        + struct.pack("<IQ", 8, 1) + _s("hi")
    assert read_gguf_info(build(tmp_path / "n.gguf", [nested])).metadata["x"] == "<array array x 2>"


def test_error_pickles_and_is_a_value_error(tmp_path: Path) -> None:
    err = GGUFError(tmp_path / "m.gguf", "two\nlines")
    assert isinstance(err, ValueError) and str(err) == "m.gguf: two lines"
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.reason, str(again)) == (err.path, err.reason, str(err))


# --- fuzzing ---------------------------------------------------------------------------------

def _check_outcome(path: Path) -> None:
    start = time.perf_counter()
    try:
        read_gguf_info(path)
    except GGUFError:
        pass
    assert time.perf_counter() - start < 1.0


def test_fuzz_truncation(tiny: Path, tmp_path: Path) -> None:
    data = tiny.read_bytes()
    rng = random.Random(1234)
    path = tmp_path / "fuzz.gguf"
    for cut in [rng.randrange(len(data)) for _ in range(200)]:
        path.write_bytes(data[:cut])
        _check_outcome(path)


def test_fuzz_header_byte_flips(tiny: Path, tmp_path: Path) -> None:
    data = tiny.read_bytes()
    header_end = read_gguf_info(tiny).data_offset
    rng = random.Random(5678)
    path = tmp_path / "fuzz.gguf"
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(header_end)] = rng.randrange(256)
        path.write_bytes(bytes(mutated))
        _check_outcome(path)


# --- tables agree with the gguf package --------------------------------------------------------

def test_ggml_type_sizes_match_gguf_package() -> None:
    expected = {int(t): tuple(v) for t, v in gguf.constants.GGML_QUANT_SIZES.items()}
    assert expected == GGML_TYPE_SIZES
    assert {int(t): t.name for t in gguf.constants.GGMLQuantizationType} == GGML_TYPE_NAMES


def test_ftype_names_match_gguf_package() -> None:
    expected = {int(t): t.name.removeprefix("MOSTLY_").removeprefix("ALL_")
                for t in gguf.constants.LlamaFileType if t.name != "GUESSED"}
    assert expected == FTYPE_NAMES
    assert (ftype_name(15), ftype_name(None), ftype_name(999)) == ("Q4_K_M", "unknown", "ftype 999")


# --- the real starter model --------------------------------------------------------------------

@pytest.mark.real_model
def test_starter_model(starter_model: Path) -> None:
    """``starter_model`` is conftest.py's session fixture (skips when the package is absent)."""
    start = time.perf_counter()
    info = read_gguf_info(starter_model)
    elapsed = time.perf_counter() - start
    assert (info.architecture, info.quant, info.n_vocab) == ("gemma3", "Q4_K_M", 262144)
    assert (info.n_layer, info.n_embd, info.n_head, info.n_head_kv, info.key_length) == (18, 640, 4, 1, 256)
    assert info.sliding_window == 512 and info.n_ctx_train == 32768
    assert info.tensor_count == len(info.tensors) == 236
    assert info.params == 268_098_176
    assert elapsed < 1.0, f"reading the starter header took {elapsed:.2f} s"
