"""Fast, bounded GGUF header reader (standard library only, Qt-free).

Why: llama.cpp runs in-process and some corrupt headers crash it outright, while the ``gguf``
package's reader decodes every vocabulary string (14 s on a 262k-token model) and trusts
crafted lengths. This reader skips arrays, bounds every count and length by the bytes left in
the file, mirrors the checks of llama.cpp's gguf.cpp, refuses the hyperparameters llama.cpp
asserts on (``checks.py``), and raises only GGUFError for bad files.
"""

from __future__ import annotations

import array
import math
import os
import stat
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from app.base.files import file_kind
from app.base.messages import with_details
from app.gguf.checks import Vocabulary, header_problem

# llama_ftype (general.file_type) -> short name; checked against gguf.constants.LlamaFileType.
FTYPE_NAMES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}

# ggml_type id -> (name, block size, bytes per block); from gguf.constants.GGML_QUANT_SIZES.
_GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {k: (b, s) for k, (_, b, s) in _GGML_TYPES.items()}
GGML_TYPE_NAMES: dict[int, str] = {k: n for k, (n, _, _) in _GGML_TYPES.items()}

_MAGIC = b"GGUF"
_CHUNK = 1 << 20            # read the header in 1 MiB pieces
_MAX_KEY = 65535            # GGUF spec: keys are at most 2**16 - 1 bytes
_MAX_NAME = 63              # GGML_MAX_NAME (64) minus the terminating NUL
_MAX_STRING = 16 << 20      # longer string values are skipped, not loaded into memory
_MAX_DIMS = 4
_MAX_DEPTH = 2              # array of arrays at most
_SMALL_ARRAY = 1024         # numeric arrays up to this length are kept as tuples
_INT64_MAX = (1 << 63) - 1
_MAX_SCANNED_VOCAB = 1 << 22  # vocabularies up to this many tokens (and 64 MiB) are checked for repeats
_MAX_VOCAB_BYTES = 64 << 20
_MAX_TOKEN = 1 << 16          # longer tokens are not collected for that check
_TOKENS, _TOKEN_TYPES = "tokenizer.ggml.tokens", "tokenizer.ggml.token_type"
_INT32 = 5
_EMPTY = bytes(8)  # an empty string as stored: its zero length
_STRING, _ARRAY = 8, 9
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
_DIMS = tuple(struct.Struct(f"<{n}Q") for n in range(_MAX_DIMS + 1))
# GGUF value type id -> (name, struct format, size); 8 = string and 9 = array are separate.
_SCALARS: dict[int, tuple[str, str, int]] = {
    0: ("uint8", "B", 1), 1: ("int8", "b", 1), 2: ("uint16", "H", 2), 3: ("int16", "h", 2),
    4: ("uint32", "I", 4), 5: ("int32", "i", 4), 6: ("float32", "f", 4), 7: ("bool", "?", 1),
    10: ("uint64", "Q", 8), 11: ("int64", "q", 8), 12: ("float64", "d", 8),
}
_SCALAR_STRUCTS = {t: struct.Struct("<" + f) for t, (_, f, _) in _SCALARS.items()}
_TYPE_NAMES = {t: n for t, (n, _, _) in _SCALARS.items()} | {_STRING: "string", _ARRAY: "array"}


class GGUFError(ValueError):
    """Not a usable GGUF file; str() names the file and the reason, then any technical details.

    ``reason`` is in the user's terms; ``details`` is what the file actually says, for a bug
    report (see :mod:`app.base.messages`: the window shows it under "Details").
    """

    def __init__(self, path: str | os.PathLike[str], reason: str, details: str = "") -> None:
        self.path: Path = Path(path)
        self.reason: str = " ".join(str(reason).split())
        self.details: str = " ".join(str(details).split())
        super().__init__(with_details(f"{self.path.name or self.path}: {self.reason}", self.details))

    def __reduce__(self) -> tuple[type[GGUFError], tuple[Path, str, str]]:
        return (type(self), (self.path, self.reason, self.details))  # so it survives pickling across processes


def ftype_name(file_type: int | None) -> str:
    """Human name of a llama_ftype, e.g. 15 -> "Q4_K_M"."""
    return "unknown" if file_type is None else FTYPE_NAMES.get(file_type, f"ftype {file_type}")


@dataclass(frozen=True)
class TensorInfo:
    """One tensor descriptor; ``offset`` is relative to GGUFInfo.data_offset."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int
    n_bytes: int

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class GGUFInfo:
    """What the app needs to know about a model before handing it to llama.cpp."""

    path: Path
    size_bytes: int
    version: int
    architecture: str
    name: str
    file_type: int | None
    quant: str
    params: int
    n_ctx_train: int | None
    n_layer: int | None
    n_embd: int | None
    n_head: int | None
    n_head_kv: int | None
    key_length: int | None
    value_length: int | None
    sliding_window: int | None
    n_vocab: int | None
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    add_bos_token: bool | None
    tensor_count: int
    kv_count: int
    data_offset: int
    tensors: tuple[TensorInfo, ...] = field(repr=False)
    metadata: dict[str, object] = field(repr=False)

    @property
    def has_chat_template(self) -> bool:
        """True when the file carries a non-empty Jinja chat template."""
        return bool(self.chat_template and self.chat_template.strip())


class _Cursor:
    """Sequential reader over one file handle that buffers 1 MiB pieces and bounds every length."""

    def __init__(self, f: BinaryIO, path: Path, size: int) -> None:
        self.f, self.path, self.size = f, path, size
        self.pos, self.base, self.buf = 0, 0, b""

    def fail(self, reason: str, details: str = "") -> GGUFError:
        return GGUFError(self.path, reason, details)

    def check(self, count: int, unit: int, what: str, noun: str = "elements") -> None:
        """Refuse a count that cannot fit in the rest of the file (before looping or allocating)."""
        left = self.size - self.pos
        if count * unit > left:
            raise self.fail(f"{what} at offset {self.pos} claims {count} {noun} "
                            f"but only {max(left, 0)} bytes remain (truncated or corrupt file)")

    def window(self, n: int) -> int:
        """Make bytes [pos, pos + n) available in ``buf`` and return their index there."""
        if n > self.size - self.pos:
            raise self.fail(f"truncated header: needs {n} bytes at offset {self.pos} "
                            f"but only {max(self.size - self.pos, 0)} bytes remain")
        off = self.pos - self.base
        if off + n <= len(self.buf):
            return off
        self.f.seek(self.pos)
        self.buf, self.base = self.f.read(max(n, _CHUNK)), self.pos
        if len(self.buf) < n:
            raise self.fail(f"file shrank while being read (at offset {self.pos})")
        return 0

    def unpack(self, st: struct.Struct) -> tuple[object, ...]:
        off = self.window(st.size)
        self.pos += st.size
        return st.unpack_from(self.buf, off)

    def u32(self) -> int:
        return self.unpack(_U32)[0]  # type: ignore[return-value]

    def u64(self) -> int:
        return self.unpack(_U64)[0]  # type: ignore[return-value]

    def raw(self, n: int, what: str) -> bytes:
        self.check(n, 1, what, "bytes")
        off = self.window(n)
        self.pos += n
        return self.buf[off:off + n]

    def string(self, what: str, limit: int, strict: bool) -> str:
        """Keys and tensor names must be valid UTF-8 within ``limit`` (strict); values decode
        leniently, as llama.cpp does not validate them, and huge ones are skipped, not loaded."""
        n = self.u64()
        if n > limit:
            self.check(n, 1, what, "bytes")
            if strict:
                raise self.fail(f"{what} at offset {self.pos} is {n} bytes long (limit {limit})")
            self.pos += n
            return f"<string of {n} bytes>"
        data = self.raw(n, what)
        try:
            return data.decode("utf-8", "strict" if strict else "replace")
        except UnicodeDecodeError:
            raise self.fail(f"{what} at offset {self.pos - n} is not valid UTF-8: {data[:40]!r}") from None

    def collect_strings(self, count: int, what: str) -> tuple[set[bytes], int] | None:
        """Like skip_strings, also gathering the distinct strings, each behind its length prefix
        (slicing prefix and text together is what keeps this to ~0.1 s for 262k tokens), and
        how many are empty when that matters (some repeat and one is empty: a second walk).
        None, having skipped the rest, when the strings take more than _MAX_VOCAB_BYTES."""
        self.check(count, 8, what)
        start, total, collected = self.pos, count, 0
        unpack_from = _U64.unpack_from
        seen: set[bytes] = set()
        while count:
            if collected > _MAX_VOCAB_BYTES:
                self.skip_strings(count, what)
                return None
            buf, base = self.buf, self.base
            off, end = self.pos - base, len(self.buf)
            offsets = [off]
            while count and off + 8 <= end:
                nxt = off + 8 + unpack_from(buf, off)[0]
                if nxt > end:
                    break
                offsets.append(nxt)
                off, count = nxt, count - 1
            seen.update(map(buf.__getitem__, map(slice, offsets, offsets[1:])))
            collected += off - offsets[0]
            self.pos = base + off
            if count:  # this string crosses the buffer's end: read it on its own
                n = self.u64()
                self.check(n, 1, f"string in {what}", "bytes")
                if n <= _MAX_TOKEN:
                    seen.add(_U64.pack(n) + self.raw(n, what))
                else:
                    self.pos += n
                count -= 1
        if len(seen) == total or _EMPTY not in seen:
            return seen, int(_EMPTY in seen)
        end, self.pos, empty = self.pos, start, 0
        for _ in range(total):
            n = self.u64()
            empty += not n
            self.pos += n
        self.pos = end
        return seen, empty

    def skip_strings(self, count: int, what: str) -> None:
        """Walk ``count`` length-prefixed strings without decoding them (the fast path)."""
        self.check(count, 8, what)
        unpack_from = _U64.unpack_from
        while count:
            buf, base = self.buf, self.base
            off, end = self.pos - base, len(self.buf)
            while count and off + 8 <= end:
                nxt = off + 8 + unpack_from(buf, off)[0]
                if nxt > end:
                    break
                off, count = nxt, count - 1
            self.pos = base + off
            if count:  # this string crosses the buffer's end: refill and bound it
                n = self.u64()
                self.check(n, 1, f"string in {what}", "bytes")
                self.pos += n
                count -= 1


def _read_array(cur: _Cursor, key: str, depth: int, vocab: dict[str, object]) -> tuple[object, int]:
    """Read or skip an array; return (metadata value, element count).

    The vocabulary's tokens and token types also land in ``vocab``, for checks.py.
    """
    etype, count = cur.u32(), cur.u64()
    what = f"array '{key}'"
    top = depth == 1
    if etype in _SCALARS:
        _, fmt, size = _SCALARS[etype]
        cur.check(count, size, what)
        if top and key == _TOKEN_TYPES and etype == _INT32 and count <= _MAX_SCANNED_VOCAB:
            vocab[key] = types = array.array("i", cur.raw(count * size, what))  # little-endian, like llama.cpp
            return (tuple(types) if count <= _SMALL_ARRAY else f"<array {_TYPE_NAMES[etype]} x {count}>"), count
        if count <= _SMALL_ARRAY:
            return struct.unpack(f"<{count}{fmt}", cur.raw(count * size, what)), count
        cur.pos += count * size
    elif etype == _STRING:
        if top and key == _TOKENS and count <= _MAX_SCANNED_VOCAB:
            collected = cur.collect_strings(count, what)
            if collected is not None:
                vocab[key], vocab["empty"] = collected
        else:
            cur.skip_strings(count, what)
    elif etype == _ARRAY:
        if depth >= _MAX_DEPTH:
            raise cur.fail(f"{what} nests arrays deeper than {_MAX_DEPTH} levels")
        cur.check(count, 12, what)
        for _ in range(count):
            _read_array(cur, key, depth + 1, vocab)
    else:
        raise cur.fail(f"{what} has unknown element type {etype}")
    return f"<array {_TYPE_NAMES[etype]} x {count}>", count


def _tensor_info(cur: _Cursor, i: int, seen: set[str]) -> TensorInfo:
    """One tensor descriptor, with the same sanity checks llama.cpp's gguf.c applies."""
    name = cur.string(f"name of tensor {i}", _MAX_NAME, strict=True)
    if name in seen:
        raise cur.fail(f"duplicate tensor name '{name}'")
    seen.add(name)
    n_dims = cur.u32()
    if n_dims > _MAX_DIMS:
        raise cur.fail(f"tensor '{name}' has {n_dims} dimensions (at most {_MAX_DIMS})")
    shape: tuple[int, ...] = cur.unpack(_DIMS[n_dims])  # type: ignore[assignment]
    ggml_type, offset = cur.u32(), cur.u64()
    if 0 in shape:  # older llama.cpp divides by each dimension (SIGFPE); no real model has one
        raise cur.fail(f"tensor '{name}' has a zero dimension {shape}")
    n_elements = math.prod(shape)
    if n_elements >= _INT64_MAX:
        raise cur.fail(f"tensor '{name}' shape {shape} has too many elements")
    if ggml_type not in _GGML_TYPES:
        raise cur.fail(f"tensor '{name}' has unknown ggml type {ggml_type}")
    type_name, block, type_size = _GGML_TYPES[ggml_type]
    row = shape[0] if shape else 1
    if row % block:
        raise cur.fail(f"tensor '{name}' of type {type_name} has {row} elements per row, "
                       f"not a multiple of the block size {block}")
    return TensorInfo(name, shape, ggml_type, offset, n_elements // block * type_size)


def _int(meta: dict[str, object], key: str) -> int | None:
    """An integer key; a short per-layer array counts as its maximum; wrong types count as absent."""
    value = meta.get(key)
    if isinstance(value, tuple):
        ints = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
        return max(ints) if ints else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _vocabulary(found: dict[str, object], counts: dict[str, int]) -> Vocabulary | None:
    """The collected tokens (and token types, when stored as int32) for checks.py."""
    tokens, types, empty = found.get(_TOKENS), found.get(_TOKEN_TYPES), found.get("empty")
    if not isinstance(tokens, set) or not isinstance(empty, int):
        return None
    return Vocabulary(tokens, counts[_TOKENS], empty, types if isinstance(types, array.array) else None)


def _infer_quant(tensors: tuple[TensorInfo, ...]) -> str:
    """Name the ggml type holding the most bytes among 2-D tensors (the weight matrices)."""
    by_type: Counter[int] = Counter()
    for t in tensors:
        if len(t.shape) == 2:
            by_type[t.ggml_type] += t.n_bytes
    return GGML_TYPE_NAMES[by_type.most_common(1)[0][0]] if by_type else "unknown"


def _parse(f: BinaryIO, path: Path, size: int) -> GGUFInfo:
    """Header, metadata, tensor infos and data bounds, in file order."""
    cur = _Cursor(f, path, size)
    magic = cur.f.read(4)
    if magic != _MAGIC:
        if len(magic) < 4 and _MAGIC.startswith(magic):
            raise cur.fail(f"truncated header: file is only {cur.size} bytes")
        raise cur.fail(f"not a GGUF file (first bytes {magic.hex() or 'none'}, expected 47475546 'GGUF')")
    cur.pos = 4
    version = cur.u32()
    if version not in (2, 3):
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        if swapped in (1, 2, 3):
            raise cur.fail(f"big-endian GGUF file (version {swapped}); only little-endian files are supported")
        if version > 100:  # no GGUF version was ever near this: the bytes after 'GGUF' are not a header
            raise cur.fail("is not a GGUF model file, or it is damaged",
                           f"its header says version {version}, a number no GGUF file has")
        hint = " (too old; convert the model again)" if version == 1 else ""
        raise cur.fail(f"unsupported GGUF version {version}{hint}; supported versions are 2 and 3")
    tensor_count, kv_count = cur.u64(), cur.u64()
    cur.check(kv_count, 13, "header kv_count", "entries")
    cur.check(tensor_count, 24, "header tensor_count", "entries")

    meta: dict[str, object] = {}
    types: dict[str, int] = {}
    counts: dict[str, int] = {}
    vocab: dict[str, object] = {}
    for i in range(kv_count):
        key = cur.string(f"key {i}", _MAX_KEY, strict=True)
        if not key or key in meta:
            raise cur.fail(f"duplicate key '{key}'" if key else f"key {i} is empty")
        vtype = types[key] = cur.u32()
        if vtype in _SCALAR_STRUCTS:
            meta[key] = cur.unpack(_SCALAR_STRUCTS[vtype])[0]
        elif vtype == _STRING:
            meta[key] = cur.string(f"value of '{key}'", _MAX_STRING, strict=False)
        elif vtype == _ARRAY:
            meta[key], counts[key] = _read_array(cur, key, 1, vocab)
        else:
            raise cur.fail(f"key '{key}' has unknown value type {vtype}")

    alignment = meta.get("general.alignment", 32)
    if "general.alignment" in meta and types["general.alignment"] != 4:
        raise cur.fail("general.alignment is not a uint32")  # llama.cpp would abort() on this
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.fail(f"general.alignment {alignment!r} is not a power of two")
    arch = meta.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise cur.fail("missing general.architecture (or it is not a string)")

    cur.check(tensor_count, 24, "tensor_count", "entries")
    seen: set[str] = set()
    tensors = tuple(_tensor_info(cur, i, seen) for i in range(tensor_count))
    data_offset = -(-cur.pos // alignment) * alignment
    expected = 0
    for t in tensors:
        if t.offset != expected:
            raise cur.fail(f"tensor '{t.name}' has data offset {t.offset}, expected {expected}")
        if data_offset + t.offset + t.n_bytes > size:
            raise cur.fail(f"tensor '{t.name}' data is not within the file bounds "
                           f"(needs {data_offset + t.offset + t.n_bytes} bytes, file has {size}; "
                           "truncated or incomplete download?)")
        expected += -(-t.n_bytes // alignment) * alignment
    problem = header_problem(meta, counts, ((t.name, data_offset + t.offset) for t in tensors),
                             _vocabulary(vocab, counts))
    if problem:
        raise cur.fail(problem)

    n_embd, n_head = _int(meta, f"{arch}.embedding_length"), _int(meta, f"{arch}.attention.head_count")
    head_dim = n_embd // n_head if n_embd and n_head else None
    key_length = _int(meta, f"{arch}.attention.key_length") or head_dim
    name, template = meta.get("general.name"), meta.get("tokenizer.chat_template")
    add_bos = meta.get("tokenizer.ggml.add_bos_token")
    file_type = _int(meta, "general.file_type")
    return GGUFInfo(
        path=path, size_bytes=size, version=version, architecture=arch,
        name=name if isinstance(name, str) and name.strip() else path.stem,
        file_type=file_type,
        quant=ftype_name(file_type) if file_type is not None else _infer_quant(tensors),
        params=sum(t.n_elements for t in tensors),
        n_ctx_train=_int(meta, f"{arch}.context_length"),
        n_layer=_int(meta, f"{arch}.block_count"),
        n_embd=n_embd, n_head=n_head,
        n_head_kv=_int(meta, f"{arch}.attention.head_count_kv") or n_head,
        key_length=key_length,
        value_length=_int(meta, f"{arch}.attention.value_length") or key_length,
        sliding_window=_int(meta, f"{arch}.attention.sliding_window"),
        n_vocab=counts.get("tokenizer.ggml.tokens"),
        chat_template=template if isinstance(template, str) else None,
        bos_token_id=_int(meta, "tokenizer.ggml.bos_token_id"),
        eos_token_id=_int(meta, "tokenizer.ggml.eos_token_id"),
        add_bos_token=add_bos if isinstance(add_bos, bool) else None,
        tensor_count=tensor_count, kv_count=kv_count, data_offset=data_offset,
        tensors=tensors, metadata=meta,
    )


def read_gguf_info(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read and validate a GGUF header; raises GGUFError (never anything else) for a bad file."""
    p = Path(os.fspath(path))
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise GGUFError(p, "file does not exist") from None
    except (OSError, ValueError) as e:
        raise GGUFError(p, f"cannot access the file: {e}") from None
    if not stat.S_ISREG(st.st_mode):  # never open a pipe or a device: it may block or never end
        raise GGUFError(p, f"is {file_kind(st.st_mode)}, not a GGUF file")
    if st.st_size == 0:
        raise GGUFError(p, "empty file (0 bytes)")
    try:
        with p.open("rb") as f:
            return _parse(f, p, os.fstat(f.fileno()).st_size)
    except GGUFError:
        raise
    except FileNotFoundError:
        raise GGUFError(p, "file does not exist") from None
    except (OSError, struct.error, UnicodeDecodeError, OverflowError, MemoryError, ValueError) as e:
        raise GGUFError(p, f"cannot read the file: {type(e).__name__}: {e}") from e
