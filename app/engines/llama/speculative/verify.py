"""Checking a draft against the model: one decode for the pending token and every drafted token.

The model's own sampler chain draws a token at each drafted position, in order; a drafted
token is kept while it equals the draw. At temperature 0 the draw is the greedy choice, so
the reply is the one plain decoding gives. When sampling, the draw equals the drafted token
with exactly the model's probability for it, and a draw that differs is a sample from the
model's distribution with the drafted token removed: the standard acceptance rule for a
draft that proposes one token per position (prompt lookup, a greedy draft model), so the
reply follows the same distribution as plain decoding. The first differing draw, or the
draw after a fully accepted draft, is the next token, at no extra cost.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

SEQ = 0  # the engine's one sequence


class DecodeFailed(Exception):
    """llama_decode returned an error code while verifying a draft."""

    def __init__(self, code: int) -> None:
        super().__init__(f"llama_decode returned {code}")
        self.code = code


class Verifier:
    """A reusable batch of up to ``capacity`` tokens, each with logits, for one context."""

    def __init__(self, ll: Any, ctx: Any, vocab: Any, capacity: int) -> None:
        self._ll, self._ctx, self._vocab = ll, ctx, vocab
        self.capacity = capacity
        self._token = (ll.llama_token * capacity)()
        self._pos = (ll.llama_pos * capacity)()
        self._n_seq = (ctypes.c_int32 * capacity)(*([1] * capacity))
        self._seq_one = (ll.llama_seq_id * 1)(SEQ)
        seq_ptr = ctypes.cast(self._seq_one, ctypes.POINTER(ll.llama_seq_id))
        self._seq = (ctypes.POINTER(ll.llama_seq_id) * capacity)(*([seq_ptr] * capacity))
        self._logits = (ctypes.c_int8 * capacity)(*([1] * capacity))
        self._batch = ll.llama_batch()
        self._batch.token = self._token
        self._batch.pos = self._pos
        self._batch.n_seq_id = self._n_seq
        self._batch.seq_id = self._seq
        self._batch.logits = self._logits

    def run(self, sampler: Any, position: int, pending: int, draft: Sequence[int]) -> tuple[list[int], int]:
        """Evaluate ``pending`` at ``position`` and the draft after it; return (accepted draft, next token).

        The KV cache keeps ``pending`` and the accepted tokens; the rejected rest is removed.
        An end-of-generation token in the draft is never accepted: it comes back as the next token.
        """
        ll = self._ll
        draft = list(draft[: self.capacity - 1])
        for j, token in enumerate((pending, *draft)):
            self._token[j] = token
            self._pos[j] = position + j
        self._batch.n_tokens = 1 + len(draft)
        rc = ll.llama_decode(self._ctx, self._batch)
        if rc != 0:
            ll.llama_memory_seq_rm(ll.llama_get_memory(self._ctx), SEQ, position, -1)
            raise DecodeFailed(rc)
        accepted: list[int] = []
        for i, drafted in enumerate(draft):
            drawn = int(ll.llama_sampler_sample(sampler, self._ctx, i))
            if drawn != drafted or ll.llama_vocab_is_eog(self._vocab, drawn):
                return self._keep(position, accepted, drawn)
            accepted.append(drafted)
        return self._keep(position, accepted, int(ll.llama_sampler_sample(sampler, self._ctx, len(draft))))

    def _keep(self, position: int, accepted: list[int], following: int) -> tuple[list[int], int]:
        ll = self._ll
        ll.llama_memory_seq_rm(ll.llama_get_memory(self._ctx), SEQ, position + 1 + len(accepted), -1)
        return accepted, following
