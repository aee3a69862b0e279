"""Helpers that write small GGUF files for tests, valid and deliberately broken.

``write_tiny_llama`` makes a structurally complete llama-architecture model (SentencePiece
style vocabulary, every tensor llama.cpp's llama loader asks for, F32 norms) so tests can
load it in llama.cpp in milliseconds. The ``make_*`` functions derive broken files from a
valid one by patching bytes, the way real-world corruption (truncated downloads, wrong
files, crafted headers) looks.
"""

from __future__ import annotations

import functools
import os
import random
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gguf
import numpy as np

# llama.cpp token types (llama_token_type / gguf.TokenType)
_NORMAL, _UNKNOWN, _CONTROL, _BYTE = 1, 2, 3, 6

# A metadata override for write_tiny_llama: None removes the key; otherwise (value, type) or,
# for arrays, (values, GGUFValueType.ARRAY, element type).
MetaValue = tuple[Any, gguf.GGUFValueType] | tuple[Any, gguf.GGUFValueType, gguf.GGUFValueType] | None


def _vocab(n_vocab: int) -> tuple[list[str], list[float], list[int]]:
    """SentencePiece-like vocabulary: <unk>, <s>, </s>, byte tokens, then printable pieces."""
    if n_vocab < 3:
        raise ValueError("n_vocab must be at least 3 (<unk>, <s>, </s>)")
    tokens = ["<unk>", "<s>", "</s>"]
    types = [_UNKNOWN, _CONTROL, _CONTROL]
    for b in range(256):  # bytes 0xF5..0xFF never occur in UTF-8, so 253 byte tokens suffice
        if len(tokens) == n_vocab:
            break
        tokens.append(f"<0x{b:02X}>")
        types.append(_BYTE)
    pieces = [chr(c) for c in range(0x21, 0x7F)] + ["\u2581" + chr(c) for c in range(0x61, 0x7B)]
    i = 0
    while len(tokens) < n_vocab:
        piece = pieces[i] if i < len(pieces) else f"\u2581tok{i}"
        tokens.append(piece)
        types.append(_NORMAL)
        i += 1
    scores = [0.0 if t != _NORMAL else -float(k) for k, t in enumerate(types)]
    return tokens, scores, types


def _round32(n: int) -> int:
    return max(32, (n + 31) // 32 * 32)


def write_tiny_llama(
    path: str | os.PathLike[str],
    *,
    file_type: int | None = 1,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_vocab: int = 256,
    n_ctx_train: int = 512,
    chat_template: str | None = None,
    tensor_dtype: type[np.floating] = np.float16,
    arch: str = "llama",
    name: str = "Tiny Llama",
    alignment: int | None = None,
    matrix_type: gguf.GGMLQuantizationType | None = None,
    seed: int = 0,
    metadata: Mapping[str, MetaValue] | None = None,
) -> Path:
    """Write a tiny llama model that llama.cpp can load; ``file_type=None`` omits general.file_type.

    Matrices use ``tensor_dtype`` (float16 or float32), or are quantized to ``matrix_type``
    (e.g. Q8_0; keep ``file_type`` consistent yourself). Norms are always float32, as
    llama.cpp expects. ggml shapes are the numpy shapes reversed, so ``token_embd`` is
    stored as (n_vocab, n_embd) in numpy and reads back as (n_embd, n_vocab).
    ``metadata`` replaces, adds (typed, see MetaValue) or removes (None) keys after the
    standard ones are set, so tests can write values no converter would, without changing
    the tensors.
    """
    if n_head <= 0 or n_head_kv <= 0:
        raise ValueError("n_head and n_head_kv must be positive")  # uneven splits are allowed: broken files
    path = Path(path)
    head_dim = n_embd // n_head
    n_ff = _round32(2 * n_embd)
    rng = np.random.default_rng(seed)

    def add_matrix(name: str, rows: int, cols: int) -> None:
        values = (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)
        if matrix_type is None:
            writer.add_tensor(name, values.astype(tensor_dtype))
        else:
            writer.add_tensor(name, gguf.quants.quantize(values, matrix_type), raw_dtype=matrix_type)

    def norm() -> np.ndarray:
        return np.ones(n_embd, dtype=np.float32)

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name)
    if file_type is not None:
        writer.add_file_type(file_type)
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    writer.add_context_length(n_ctx_train)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_rope_dimension_count(head_dim)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(n_vocab)

    tokens, scores, types = _vocab(n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    for key, override in (metadata or {}).items():
        writer.kv_data[0].pop(key, None)  # replace quietly (add_key_value warns on duplicates)
        if override is not None:
            writer.add_key_value(key, *override)

    add_matrix("token_embd.weight", n_vocab, n_embd)
    for i in range(n_layer):
        blk = f"blk.{i}"
        writer.add_tensor(f"{blk}.attn_norm.weight", norm())
        add_matrix(f"{blk}.attn_q.weight", n_head * head_dim, n_embd)
        add_matrix(f"{blk}.attn_k.weight", n_head_kv * head_dim, n_embd)
        add_matrix(f"{blk}.attn_v.weight", n_head_kv * head_dim, n_embd)
        add_matrix(f"{blk}.attn_output.weight", n_embd, n_head * head_dim)
        writer.add_tensor(f"{blk}.ffn_norm.weight", norm())
        add_matrix(f"{blk}.ffn_gate.weight", n_ff, n_embd)
        add_matrix(f"{blk}.ffn_up.weight", n_ff, n_embd)
        add_matrix(f"{blk}.ffn_down.weight", n_embd, n_ff)
    writer.add_tensor("output_norm.weight", norm())
    add_matrix("output.weight", n_vocab, n_embd)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --- broken files -------------------------------------------------------------------------

def data_offset(path: str | os.PathLike[str]) -> int:
    """Start of the tensor data, as the gguf package's own reader sees it (tiny files only)."""
    return int(gguf.GGUFReader(str(path)).data_offset)


def key_value_offset(data: bytes, key: str) -> int:
    """Offset of the value type id that follows ``key`` in a GGUF byte string."""
    raw = key.encode()
    idx = data.find(struct.pack("<Q", len(raw)) + raw)
    if idx < 0:
        raise KeyError(key)
    return idx + 8 + len(raw)


_SCALAR_FORMATS = {
    gguf.GGUFValueType.UINT8: "B", gguf.GGUFValueType.INT8: "b", gguf.GGUFValueType.UINT16: "H",
    gguf.GGUFValueType.INT16: "h", gguf.GGUFValueType.UINT32: "I", gguf.GGUFValueType.INT32: "i",
    gguf.GGUFValueType.FLOAT32: "f", gguf.GGUFValueType.BOOL: "?", gguf.GGUFValueType.UINT64: "Q",
    gguf.GGUFValueType.INT64: "q", gguf.GGUFValueType.FLOAT64: "d",
}


def _pack_value(value: Any, vtype: gguf.GGUFValueType, etype: gguf.GGUFValueType | None = None,
                typed: bool = True) -> bytes:
    """One metadata value as GGUF stores it (type id first when ``typed``); empty arrays allowed."""
    head = struct.pack("<I", vtype) if typed else b""
    if vtype == gguf.GGUFValueType.STRING:
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return head + struct.pack("<Q", len(raw)) + raw
    if vtype == gguf.GGUFValueType.ARRAY:
        if etype is None:
            raise ValueError("an array needs its element type")
        items = b"".join(_pack_value(v, etype, typed=False) for v in value)
        return head + struct.pack("<IQ", etype, len(value)) + items
    return head + struct.pack("<" + _SCALAR_FORMATS[vtype], value)


@functools.lru_cache(maxsize=8)
def _layout(src: str, _stamp: tuple[int, int]) -> tuple[tuple[tuple[str, bytes], ...], int, bytes, int, bytes]:
    """(key, stored bytes) per metadata entry, tensor count, tensor infos, alignment, data of a file."""
    reader = gguf.GGUFReader(src)
    data = Path(src).read_bytes()

    def stored(field: Any) -> bytes:
        return data[field.offset:field.offset + sum(int(p.nbytes) for p in field.parts)]

    kvs = tuple((f.name, stored(f)) for f in reader.fields.values() if not f.name.startswith("GGUF."))
    infos = b"".join(stored(t.field) for t in reader.tensors)
    return kvs, len(reader.tensors), infos, int(reader.alignment), data[reader.data_offset:]


def rewrite_metadata(src: str | os.PathLike[str], dst: str | os.PathLike[str],
                     metadata: Mapping[str, MetaValue]) -> Path:
    """Copy ``src`` with metadata keys replaced in place, added at the end or removed (None).

    Tensor infos and tensor data are copied byte for byte, the data padded to the source's
    alignment as before (so overriding ``general.alignment`` makes a file that disagrees
    with itself). The source's layout is parsed once and cached, so fuzz tests can make
    hundreds of variants in a fraction of a second.
    """
    st = os.stat(src)
    kvs, n_tensors, infos, alignment, tensor_data = _layout(os.fspath(src), (st.st_size, st.st_mtime_ns))
    pending = dict(metadata)
    out: list[bytes] = []
    for key, raw in kvs:
        if key not in pending:
            out.append(raw)
        elif (override := pending.pop(key)) is not None:
            out.append(_pack_value(key, gguf.GGUFValueType.STRING, typed=False) + _pack_value(*override))
    for key, override in pending.items():
        if override is not None:
            out.append(_pack_value(key, gguf.GGUFValueType.STRING, typed=False) + _pack_value(*override))
    head = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(out)) + b"".join(out) + infos
    head += b"\0" * (-len(head) % alignment)
    dst = Path(dst)
    dst.write_bytes(head + tensor_data)
    return dst


def _patched(src: Path, dst: str | os.PathLike[str], at: int, new: bytes) -> Path:
    data = bytearray(Path(src).read_bytes())
    data[at:at + len(new)] = new
    dst = Path(dst)
    dst.write_bytes(bytes(data))
    return dst


def make_empty(dst: str | os.PathLike[str]) -> Path:
    """A zero-byte file (an interrupted copy)."""
    dst = Path(dst)
    dst.write_bytes(b"")
    return dst


def make_wrong_magic(src: Path, dst: str | os.PathLike[str], magic: bytes = b"PK\x03\x04") -> Path:
    """Valid body, wrong first four bytes (default: a zip file's)."""
    return _patched(src, dst, 0, magic)


def make_bad_version(src: Path, dst: str | os.PathLike[str], version: int = 1) -> Path:
    """Patch the u32 version field."""
    return _patched(src, dst, 4, struct.pack("<I", version))


def make_big_endian(src: Path, dst: str | os.PathLike[str]) -> Path:
    """Mark the file as a big-endian GGUF v3 (only the version field, which is how they differ first)."""
    return _patched(src, dst, 4, struct.pack(">I", 3))


def make_truncated_header(src: Path, dst: str | os.PathLike[str], at: int | None = None) -> Path:
    """Cut the file inside the metadata (default: halfway through the header)."""
    data = Path(src).read_bytes()
    cut = data_offset(src) // 2 if at is None else at
    dst = Path(dst)
    dst.write_bytes(data[:cut])
    return dst


def make_truncated_data(src: Path, dst: str | os.PathLike[str]) -> Path:
    """Cut the file halfway through the tensor data (an incomplete download)."""
    data = Path(src).read_bytes()
    start = data_offset(src)
    dst = Path(dst)
    dst.write_bytes(data[:start + (len(data) - start) // 2])
    return dst


def make_random_bytes(dst: str | os.PathLike[str], size: int = 4096, seed: int = 0) -> Path:
    """Noise that does not start with the GGUF magic."""
    data = bytearray(random.Random(seed).randbytes(size))
    if data[:4] == b"GGUF":
        data[0] ^= 0xFF
    dst = Path(dst)
    dst.write_bytes(bytes(data))
    return dst


def make_absurd_array_count(src: Path, dst: str | os.PathLike[str], count: int = 2**60,
                            key: str = "tokenizer.ggml.tokens") -> Path:
    """Claim ``count`` elements in an array (layout: u32 type=9, u32 element type, u64 count)."""
    at = key_value_offset(Path(src).read_bytes(), key) + 8
    return _patched(src, dst, at, struct.pack("<Q", count))


def make_absurd_string_length(src: Path, dst: str | os.PathLike[str], length: int = 2**40,
                              key: str = "general.name") -> Path:
    """Claim a ``length``-byte string value (layout: u32 type=8, u64 length, bytes)."""
    at = key_value_offset(Path(src).read_bytes(), key) + 4
    return _patched(src, dst, at, struct.pack("<Q", length))


def make_missing_architecture(src: Path, dst: str | os.PathLike[str]) -> Path:
    """Rename general.architecture to an unknown key of the same length."""
    data = Path(src).read_bytes()
    at = key_value_offset(data, "general.architecture") - len("general.architecture")
    return _patched(src, dst, at, b"general.xrchitecture")
