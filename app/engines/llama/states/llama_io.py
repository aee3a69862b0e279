"""Moving a conversation's KV state between llama.cpp's context and the :class:`KVStore` on disk.

The engine decides when (after a reply worth keeping, before a prompt a saved state
begins); this module does the copying through llama.cpp's sequence-state API, and opens
the store under the key that makes a stale state unusable: the model file's identity, the
context size, the KV cache layout and the llama.cpp version.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

from app.base import paths
from app.engines.llama.states.store import KVStore, Match, StateKey, model_identity

SEQ = 0  # the one sequence the engine uses


def open_store(path: Path, n_ctx: int, budget_mb: int, layout: tuple[int, int, int, bool],
               runtime: str) -> KVStore | None:
    """The saved states for this model and context, or None when saving is off or impossible.

    ``layout``: the KV cache's key and value types, flash attention and full-size SWA cache.
    """
    if budget_mb <= 0:
        return None
    type_k, type_v, flash_attn, swa_full = layout
    try:
        size, mtime_ns, head = model_identity(path)
        key = StateKey(size, mtime_ns, head, n_ctx, type_k, type_v, flash_attn, swa_full, runtime)
        return KVStore(paths.cache_dir() / "kv-states", key, budget_mb * 1024 * 1024)
    except OSError:
        return None  # an unreadable cache folder only costs speed


def load_state(ll: Any, ctx: Any, store: KVStore, match: Match) -> bool:
    """Put a saved state into the (emptied) context; a state llama.cpp refuses is deleted."""
    data = store.load(match)
    if data is None:
        return False
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    if ll.llama_state_seq_set_data(ctx, buf, len(data), SEQ) != len(data):
        store.discard(match.entry_name)
        return False
    return True


def save_state(ll: Any, ctx: Any, store: KVStore, tokens: list[int]) -> None:
    """Copy the sequence's state here (the context is this thread's); the store writes it in the background."""
    size = int(ll.llama_state_seq_get_size(ctx, SEQ))
    if size <= 0:
        return
    data = bytearray(size)  # llama.cpp writes straight into it: one copy of a state that may be 100s of MB
    written = int(ll.llama_state_seq_get_data(ctx, (ctypes.c_uint8 * size).from_buffer(data), size, SEQ))
    if written > 0:
        del data[written:]
        store.put(list(tokens), data)
