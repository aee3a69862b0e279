"""A smaller model with the same vocabulary that drafts greedily for the big one.

It keeps its own context in step with the reply's tokens (re-evaluating only what its
cache lacks), then proposes ``limit`` tokens one decode at a time. A model whose
vocabulary differs from the target's would propose token ids that mean other text, so
:func:`check_vocabulary` refuses it at load time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.engines.llama.states.store import common_prefix
from app.engines.llama.vocab import Pieces

N_BATCH = 512
SAMPLE_IDS = 512  # token ids compared between the vocabularies, spread over the whole range


class DraftModelError(Exception):
    """The draft model cannot be used with this target (file, memory or vocabulary)."""


def check_vocabulary(ll: Any, target: Any, draft: Any, name: str) -> None:
    """Raise DraftModelError unless both vocabularies have the same size, specials and token texts."""
    size = int(ll.llama_vocab_n_tokens(target))
    if int(ll.llama_vocab_n_tokens(draft)) != size:
        raise DraftModelError(f"{name} has {ll.llama_vocab_n_tokens(draft):,} tokens in its vocabulary; "
                              f"the model has {size:,}. A draft model must share the model's vocabulary.")
    for special in ("llama_vocab_bos", "llama_vocab_eos"):
        if getattr(ll, special)(target) != getattr(ll, special)(draft):
            raise DraftModelError(f"{name} marks the start or end of text with other tokens than the model does.")
    ids = sorted({i * size // SAMPLE_IDS for i in range(SAMPLE_IDS)} | {size - 1})
    ours, theirs = Pieces(ll, target), Pieces(ll, draft)
    if [ours.bytes_of(i, True) for i in ids] != [theirs.bytes_of(i, True) for i in ids]:
        raise DraftModelError(f"{name} spells its tokens differently from the model: its vocabulary is another one.")


class DraftModel:
    """A loaded draft model and its context; ``close`` frees both."""

    def __init__(self, ll: Any, path: Path, *, n_ctx: int, n_threads: int, gpu_layers: int, target_vocab: Any) -> None:
        self._ll = ll
        self.path = path
        mparams = ll.llama_model_default_params()
        mparams.n_gpu_layers = gpu_layers
        self._model = ll.llama_model_load_from_file(str(path).encode("utf-8"), mparams)
        if not self._model:
            raise DraftModelError(f"The draft model {path.name} could not be loaded.")
        self._ctx: Any = None
        self._greedy: Any = None
        try:
            self._vocab = ll.llama_model_get_vocab(self._model)
            check_vocabulary(ll, target_vocab, self._vocab, path.name)
            cparams = ll.llama_context_default_params()
            cparams.n_ctx = n_ctx
            cparams.n_batch = cparams.n_ubatch = min(N_BATCH, n_ctx)
            cparams.n_threads = cparams.n_threads_batch = n_threads
            cparams.no_perf = True
            self._ctx = ll.llama_init_from_model(self._model, cparams)
            if not self._ctx:
                raise DraftModelError(f"No context of {n_ctx:,} tokens could be created for {path.name}.")
        except BaseException:
            self.close()
            raise
        self._greedy = ll.llama_sampler_init_greedy()
        self._cached: list[int] = []  # the tokens in the draft context's cache, in order
        self._history: list[int] = []  # the reply's tokens so far (prompt included)
        self._one = (ll.llama_token * 1)()

    def start(self, history: list[int]) -> DraftModel:
        """Begin a reply whose tokens so far are ``history``; the cache keeps what it shares with them."""
        self._history = list(history)
        return self

    def extend(self, tokens: list[int]) -> None:
        self._history.extend(tokens)

    def draft(self, limit: int) -> list[int]:
        """Greedily continue the history by up to ``limit`` tokens ([] if the context is full)."""
        ll, ctx = self._ll, self._ctx
        n_ctx = int(ll.llama_n_ctx(ctx))
        limit = min(limit, n_ctx - len(self._history) - 1)
        if limit <= 0 or not self._sync():
            return []
        out: list[int] = []
        for _ in range(limit):
            token = int(ll.llama_sampler_sample(self._greedy, ctx, -1))
            if ll.llama_vocab_is_eog(self._vocab, token):
                break
            out.append(token)
            if len(out) == limit:
                break
            self._one[0] = token
            if ll.llama_decode(ctx, ll.llama_batch_get_one(self._one, 1)) != 0:
                break
            self._cached.append(token)
        return out

    def _sync(self) -> bool:
        """Make the cache hold exactly the history, evaluating only what differs; False on a failure."""
        ll, ctx = self._ll, self._ctx
        keep = common_prefix(self._cached, self._history)
        if keep == len(self._history):
            keep -= 1  # the last token is evaluated again for fresh logits
        mem = ll.llama_get_memory(ctx)
        if keep < len(self._cached) and not ll.llama_memory_seq_rm(mem, -1, keep, -1):
            ll.llama_memory_clear(mem, True)
            keep = 0
        del self._cached[keep:]
        todo = self._history[keep:]
        for i in range(0, len(todo), N_BATCH):
            chunk = todo[i : i + N_BATCH]
            arr = (ll.llama_token * len(chunk))(*chunk)
            if ll.llama_decode(ctx, ll.llama_batch_get_one(arr, len(chunk))) != 0:
                ll.llama_memory_clear(mem, True)
                self._cached = []
                return False
            self._cached.extend(chunk)
        return True

    def close(self) -> None:
        ll = self._ll
        if self._greedy is not None:
            ll.llama_sampler_free(self._greedy)
            self._greedy = None
        if self._ctx:
            ll.llama_free(self._ctx)
            self._ctx = None
        if self._model:
            ll.llama_model_free(self._model)
            self._model = None
