"""Hyperparameter and vocabulary checks for what llama.cpp asserts instead of reporting.

Why: llama.cpp answers a malformed GGUF structure with an error, but many bad hyperparameters
hit a GGML_ASSERT, which aborts the whole process: a block_count of 0 or 513, a negative or NaN
norm epsilon (at the first decode), 2048 experts, attention heads that key/value heads do not
divide, an odd RoPE dimension, an unknown RoPE scaling type, tensor data that is not 32-byte
aligned, a vocabulary that repeats a token. Each rule here mirrors one such assert in the
llama.cpp that llama-cpp-python 0.3.36 bundles (every one was seen to abort it), or refuses a
value no real model has, so a damaged file gets a one-line reason before llama.cpp sees it.
Zero stays allowed where a real architecture writes it: Mamba and RWKV have 0 attention heads
and a 0 feed-forward length, hybrid models 0 key/value heads on their recurrent layers.
Shapes that merely disagree with the tensors are left to llama.cpp, which reports them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

LLAMA_MAX_LAYERS = 512      # llama-hparams.h
LLAMA_MAX_EXPERTS = 1024    # llama-hparams.h of the bundled llama.cpp (1024 loads, 1025 aborts)
TENSOR_ALIGNMENT = 32       # ggml-backend.cpp: memory-mapped tensor data must be 32-byte aligned
ROPE_SCALING_TYPES = ("none", "linear", "yarn", "longrope")
NO_VOCAB_MODELS = ("none", "no_vocab")  # llama.cpp loads these, then aborts at the first tokenize
BYTE_TOKEN = 6              # llama_token_type LLAMA_TOKEN_TYPE_BYTE
UTF8_BYTES = tuple(b for b in range(256) if b not in (0xC0, 0xC1) and b < 0xF5)  # bytes UTF-8 text can hold
DAMAGED = ": the file is damaged or not a model Kestrel can run"
_PREFIX = struct.Struct("<Q")


@dataclass(frozen=True)
class Count:
    """A whole-number hyperparameter ``{arch}.{key}``: words for it and its allowed range."""

    key: str
    words: str
    low: int = 0
    high: int | None = None
    per_layer: bool = False  # may be an array with one value per layer


COUNTS: tuple[Count, ...] = (
    Count("block_count", "layer count", 1, LLAMA_MAX_LAYERS),
    Count("context_length", "training context length", 1),
    Count("embedding_length", "embedding length", 1),
    Count("feed_forward_length", "feed-forward length", per_layer=True),
    Count("attention.head_count", "attention head count", per_layer=True),
    Count("attention.head_count_kv", "key/value head count", per_layer=True),
    Count("attention.key_length", "key length", 1),
    Count("attention.value_length", "value length", 1),
    Count("rope.dimension_count", "RoPE dimension count"),
    Count("expert_count", "expert count", 0, LLAMA_MAX_EXPERTS),
    Count("expert_used_count", "used expert count", per_layer=True),
    Count("expert_group_count", "expert group count"),
    Count("expert_group_used_count", "used expert group count"),
    Count("nextn_predict_layers", "next-token prediction layer count"),
    Count("posnet.block_count", "posnet layer count"),
    Count("convnext.block_count", "convnext layer count"),
)
EPSILONS: tuple[str, ...] = ("attention.layer_norm_rms_epsilon", "attention.layer_norm_epsilon")
CHOICES: dict[str, tuple[str, ...]] = {"rope.scaling.type": ROPE_SCALING_TYPES}
# counts that llama.cpp asserts are at most block_count
WITHIN_LAYERS: tuple[str, ...] = ("nextn_predict_layers", "posnet.block_count", "convnext.block_count")


@dataclass(frozen=True)
class Vocabulary:
    """What the reader saw of tokenizer.ggml.tokens and tokenizer.ggml.token_type.

    ``tokens`` holds each distinct token as the file stores it, behind its 8-byte length
    (cheaper to collect than bare strings); ``count`` is how many tokens the list has and
    ``empty`` how many of them are empty (exact whenever ``repeats`` is not 0).
    """

    tokens: set[bytes]
    count: int
    empty: int = 0
    types: Sequence[int] | None = None

    def has(self, text: bytes) -> bool:
        return _PREFIX.pack(len(text)) + text in self.tokens

    @property
    def repeats(self) -> int:
        """Tokens that repeat an earlier one; llama.cpp renames empty tokens, so they never do."""
        if self.empty:
            return (self.count - self.empty) - (len(self.tokens) - 1)
        return self.count - len(self.tokens)


class _Header:
    """The metadata of one file, read as the checks need it."""

    def __init__(self, meta: Mapping[str, object], arrays: Mapping[str, int]) -> None:
        self.meta, self.arrays = meta, arrays
        arch = meta.get("general.architecture")
        self.arch = arch if isinstance(arch, str) else ""

    def key(self, name: str) -> str:
        return f"{self.arch}.{name}"

    def counts(self, name: str) -> list[int] | None:
        """A validated count as one value per layer (a scalar is one value); None when absent
        or an array too long to have been kept (llama.cpp refuses those by their length)."""
        value = self.meta.get(self.key(name))
        if value is None or (self.key(name) in self.arrays and not isinstance(value, tuple)):
            return None
        values = value if isinstance(value, tuple) else (value,)
        return [v for v in values if isinstance(v, int)]  # already checked to be whole numbers

    def count(self, name: str) -> int | None:
        values = self.counts(name)
        return values[0] if values else None


def _refuse(words: str, value: object, key: str, need: str) -> str:
    return f"its {words} is {value!r} ({key}); llama.cpp needs {need}{DAMAGED}"


def _number_problem(h: _Header, rule: Count) -> str | None:
    key = h.key(rule.key)
    value = h.meta.get(key)
    if value is None or (key in h.arrays and not isinstance(value, tuple)):
        return None
    need = f"{rule.low} to {rule.high}" if rule.high is not None else f"a whole number of at least {rule.low}"
    if isinstance(value, tuple) and not rule.per_layer:
        return f"its {rule.words} ({key}) is a list; llama.cpp needs one number{DAMAGED}"
    items: list[tuple[str, object]] = (
        [(f"{rule.words} for layer {layer}", item) for layer, item in enumerate(value)]
        if isinstance(value, tuple) else [(rule.words, value)]
    )
    for words, item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            return _refuse(words, item, key, need)
        if item < rule.low or (rule.high is not None and item > rule.high):
            return _refuse(words, item, key, need)
    return None


def _epsilon_problem(h: _Header, name: str) -> str | None:
    value = h.meta.get(h.key(name))
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return None if ok else _refuse("norm epsilon", value, h.key(name), "a finite number of at least 0")


def _choice_problem(h: _Header, name: str, allowed: tuple[str, ...]) -> str | None:
    value = h.meta.get(h.key(name))
    if value is None or value in allowed:
        return None
    return _refuse(name.replace(".", " ").replace("rope", "RoPE"), value, h.key(name), "one of " + ", ".join(allowed))


def _heads(h: _Header) -> str | None:
    """Every layer's attention heads must split evenly over its key/value heads (ggml_mul_mat)."""
    heads = h.counts("attention.head_count")
    kv = h.counts("attention.head_count_kv")
    if not heads or not kv:
        return None
    if len(kv) == 1 and len(heads) == 1 and heads[0] > 0 and kv[0] == 0:
        return _refuse("key/value head count", 0, h.key("attention.head_count_kv"),
                       f"at least 1 for {heads[0]} attention heads")
    n = max(len(heads), len(kv))
    for layer in range(n):
        q, k = heads[layer if len(heads) > 1 else 0], kv[layer if len(kv) > 1 else 0]
        if k > 0 and q % k:
            where = f" in layer {layer}" if n > 1 else ""
            return (f"it has {q} attention heads{where} for {k} key/value heads "
                    f"({h.key('attention.head_count')}); llama.cpp needs a whole multiple{DAMAGED}")
    return None


def _head_dim(h: _Header) -> int | None:
    """The per-head key size as llama.cpp derives it (key_length, else embedding / heads of layer 0)."""
    key_length = h.count("attention.key_length")
    if key_length is not None:
        return key_length
    n_embd, heads = h.count("embedding_length"), h.count("attention.head_count")
    return n_embd // heads if n_embd and heads else None


def _head_size(h: _Header) -> str | None:
    heads, n_embd = h.count("attention.head_count"), h.count("embedding_length")
    if h.count("attention.key_length") is None and heads and n_embd and n_embd % heads:
        return (f"its embedding length {n_embd} does not divide into {heads} attention heads "
                f"({h.key('embedding_length')}) and no key length is given{DAMAGED}")
    return None


def _rope(h: _Header) -> str | None:
    """RoPE rotates pairs of dimensions (ggml asserts an even count) within one head."""
    heads, head_dim = h.count("attention.head_count"), _head_dim(h)
    if not heads or head_dim is None:
        return None
    n_rot = h.count("rope.dimension_count")
    key = h.key("rope.dimension_count" if n_rot is not None else "attention.key_length")
    n_rot = head_dim if n_rot is None else n_rot
    if n_rot % 2:
        return _refuse("RoPE dimension count", n_rot, key, "an even number")
    if n_rot > head_dim:
        return _refuse("RoPE dimension count", n_rot, key, f"at most the head size {head_dim}")
    return None


def _experts(h: _Header) -> str | None:
    """The expert asserts of llama_model::load_hparams, in their order."""
    n_expert = h.count("expert_count") or 0
    used = max(h.counts("expert_used_count") or [0])
    groups, group_used = h.count("expert_group_count") or 0, h.count("expert_group_used_count") or 0
    key = h.key("expert_used_count")
    if n_expert == 0:
        if used:
            return _refuse("used expert count", used, key, "0 in a model without experts")
        if groups:
            return _refuse("expert group count", groups, h.key("expert_group_count"), "0 in a model without experts")
        return None
    if not 0 < used <= n_expert:
        return _refuse("used expert count", used, key, f"1 to the expert count {n_expert}")
    if groups >= n_expert:
        return _refuse("expert group count", groups, h.key("expert_group_count"), f"less than {n_expert} experts")
    if groups > 1 and (n_expert % groups or not 0 < group_used < groups):
        return (f"its {n_expert} experts in {groups} groups with {group_used} used "
                f"({h.key('expert_group_count')}) are not what llama.cpp supports{DAMAGED}")
    return None


def _within_layers(h: _Header) -> str | None:
    layers = h.count("block_count")
    words = {rule.key: rule.words for rule in COUNTS}
    for name in WITHIN_LAYERS:
        value = h.count(name)
        if layers is not None and value is not None and value > layers:
            return _refuse(words[name], value, h.key(name), f"at most the layer count {layers}")
    return None


RELATIONS: tuple[Callable[[_Header], str | None], ...] = (_heads, _head_size, _rope, _experts, _within_layers)


def _alignment(tensors: Iterable[tuple[str, int]]) -> str | None:
    for name, offset in tensors:
        if offset % TENSOR_ALIGNMENT:
            return (f"tensor '{name}' data starts at byte {offset}, not a multiple of {TENSOR_ALIGNMENT}; "
                    f"llama.cpp needs {TENSOR_ALIGNMENT}-byte aligned tensor data{DAMAGED}")
    return None


def _vocabulary(h: _Header, vocab: Vocabulary | None) -> str | None:
    model = h.meta.get("tokenizer.ggml.model")
    if model in NO_VOCAB_MODELS:
        return f"it has no tokenizer (tokenizer.ggml.model is {model!r}); Kestrel needs one to chat"
    if vocab is None:
        return None
    if vocab.repeats:
        return (f"its vocabulary lists {vocab.repeats} token(s) more than once "
                f"(tokenizer.ggml.tokens); llama.cpp aborts on that{DAMAGED}")
    if model == "bert" and vocab.types is not None and BYTE_TOKEN in vocab.types:
        return ("its WordPiece vocabulary has byte tokens (tokenizer.ggml.token_type); "
                f"llama.cpp aborts on them{DAMAGED}")
    if model == "llama":  # SentencePiece spells unknown text byte by byte: <0xXX>, else the byte itself
        for byte in UTF8_BYTES:
            if not vocab.has(b"<0x%02X>" % byte) and not (byte and vocab.has(bytes([byte]))):
                return (f"its vocabulary has no token for byte 0x{byte:02X} (tokenizer.ggml.tokens); "
                        f"llama.cpp aborts on text it cannot spell{DAMAGED}")
    return None


def header_problem(meta: Mapping[str, object], arrays: Mapping[str, int],
                   tensors: Iterable[tuple[str, int]], vocab: Vocabulary | None) -> str | None:
    """The first reason llama.cpp would abort on this header, or None.

    ``arrays`` maps each array key to its length (an array longer than the reader keeps is
    counted, not stored); ``tensors`` gives each tensor's name and absolute data offset.
    """
    h = _Header(meta, arrays)
    for problem in (
        *(_number_problem(h, rule) for rule in COUNTS),
        *(_epsilon_problem(h, name) for name in EPSILONS),
        *(_choice_problem(h, name, allowed) for name, allowed in CHOICES.items()),
    ):
        if problem:
            return problem
    for relation in RELATIONS:
        if problem := relation(h):
            return problem
    return _alignment(tensors) or _vocabulary(h, vocab)
