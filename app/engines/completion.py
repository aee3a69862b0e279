"""Prompting a base model: text sent as it is, for the model to continue.

A base model (no chat template of its own, like the bundled starter model) continues text; it
does not follow instructions. Asked "Summarize the document below" it writes more document, or
a run of "1. 2. 3."; given the document followed by "TL;DR:" it writes a summary, because that
is what such text is followed by in what it was trained on. So the features prompt a base model
in completion style, and send that text without any chat wrapping: the engine's plain chat
format would turn it into "User: ...\\nAssistant:", a dialogue the model handles worse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

from app.engines.contract import (
    ChatMessage,
    ContextOverflowError,
    Engine,
    GenerationParams,
    LoadedModel,
    LocalModel,
    TokenEngine,
)


def is_base_model(loaded: LoadedModel | None) -> bool:
    """A local model with no chat template of its own (the engine prompts it in its plain format).

    Instruct models ship their template, so a missing one marks a base model. A server's model
    is never taken for one: the server formats its prompts.
    """
    return loaded is not None and isinstance(loaded.spec, LocalModel) and loaded.chat_format == "plain"


def stream_completion(engine: Engine, text: str, params: GenerationParams, stop: threading.Event,
                      extra_stops: tuple[str, ...] = ()) -> Iterator[str]:
    """Stream the continuation of ``text`` itself, with no chat format around it.

    An engine without a tokenizer gets ``text`` as one user message (the nearest it offers).
    ``max_tokens`` is lowered to the room left in the context; a prompt that leaves none
    raises ContextOverflowError.
    """
    loaded = engine.loaded
    if not isinstance(engine, TokenEngine) or loaded is None:
        return engine.stream([ChatMessage("user", text)], replace(params, stop=params.stop + extra_stops), stop)
    tokens = engine.tokenize(text, add_special=True)
    room = loaded.n_ctx - len(tokens) - 1
    if room < 4:
        raise ContextOverflowError(len(tokens), loaded.n_ctx,
                                   f"A prompt of {len(tokens):,} tokens does not fit the context of "
                                   f"{loaded.n_ctx:,}.")
    return engine.stream_tokens(tokens, replace(params, max_tokens=min(params.max_tokens, room)), stop=stop,
                                extra_stops=extra_stops)
