"""How the summarizer measures and sends prompts.

An engine that exposes its tokenizer (:class:`TokenEngine`) gets exact counts and an
exact size check before each request; any other engine is measured by prompt-size
differences and sent plain chat messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

from app.engines.contract import ChatMessage, ContextOverflowError, Engine, GenerationParams, TokenEngine


def make_counter(engine: Engine) -> Callable[[str], int]:
    """``count(text)``: the engine's own tokenizer, or the prompt-size difference as a fallback."""
    if isinstance(engine, TokenEngine):
        return lambda text: len(engine.tokenize(text, add_special=False))
    base = engine.count_tokens([ChatMessage("user", "")])
    return lambda text: max(1, engine.count_tokens([ChatMessage("user", text)]) - base)


def prompt_size(engine: Engine, content: str) -> int:
    """Tokens of a one-message request, chat template included."""
    return engine.count_tokens([ChatMessage("user", content)])


def stream_prompt(engine: Engine, content: str, params: GenerationParams,
                  stop: threading.Event) -> Iterator[str]:
    """Stream one user message; a :class:`TokenEngine`'s prompt is size-checked exactly first."""
    messages = [ChatMessage("user", content)]
    loaded = engine.loaded
    if isinstance(engine, TokenEngine) and loaded is not None:
        tokens, stops = engine.prompt_tokens(messages)
        room = loaded.n_ctx - len(tokens) - 1
        if room < 4:
            raise ContextOverflowError(len(tokens), loaded.n_ctx,
                                       f"A summary prompt of {len(tokens):,} tokens does not fit the context.")
        params = replace(params, max_tokens=min(params.max_tokens, room))
        return engine.stream_tokens(tokens, params, stop=stop, extra_stops=stops)
    return engine.stream(messages, params, stop)
