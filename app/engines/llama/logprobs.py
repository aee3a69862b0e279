"""Next-token log-probabilities at every position of a text: what the quantization comparison measures."""

from __future__ import annotations

from typing import Any

from app.engines.contract import EngineError


def all_logprobs(ll: Any, ctx: Any, vocab: Any, tokens: list[int]) -> Any:
    """Evaluate ``tokens`` in one batch with logits everywhere; an ``n x n_vocab`` numpy array.

    The context's memory is cleared afterwards (the caller's cache bookkeeping must follow).
    """
    import numpy as np  # noqa: PLC0415 - only the comparison needs it

    n = len(tokens)
    batch = ll.llama_batch_init(n, 0, 1)
    try:
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1
        batch.n_tokens = n
        rc = ll.llama_decode(ctx, batch)
        if rc != 0:
            raise EngineError(f"llama.cpp failed to evaluate the text (code {rc})")
        n_vocab = ll.llama_vocab_n_tokens(vocab)
        pointer = ll.llama_get_logits(ctx)
        logits = np.ctypeslib.as_array(pointer, shape=(n * n_vocab,)).reshape(n, n_vocab).astype(np.float64)
    finally:
        ll.llama_batch_free(batch)
        ll.llama_memory_clear(ll.llama_get_memory(ctx), True)
    logits -= logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
