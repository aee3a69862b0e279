"""The sampler chain for one reply, built from the reply's parameters (llama.cpp's sampler API)."""

from __future__ import annotations

import random
from typing import Any

from app.engines.contract import GenerationParams


def make_sampler(ll: Any, vocab: Any, params: GenerationParams) -> Any:
    """A chain: repeat penalty, then greedy at temperature 0, else top-k, top-p, min-p, temperature, seeded draw.

    The caller frees it with ``llama_sampler_free``.
    """
    chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
    if params.repeat_penalty != 1.0:
        n_vocab = ll.llama_vocab_n_tokens(vocab)
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_penalties(n_vocab, 64, params.repeat_penalty,
                                                                          0.0, 0.0))
    if params.temperature <= 0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_greedy())
        return chain
    seed = params.seed if params.seed is not None and params.seed >= 0 else random.randrange(2**31)
    if params.top_k > 0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_k(params.top_k))
    if params.top_p < 1.0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_p(params.top_p, 1))
    if params.min_p > 0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_min_p(params.min_p, 1))
    ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_temp(params.temperature))
    ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_dist(seed))
    return chain
