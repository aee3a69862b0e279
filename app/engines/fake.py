"""A fake engine implementing the whole engine contract, token path included.

GUI tests and the UI streaming benchmark use it: it streams a scripted reply at an
exact token rate, honours the stop and cancel events per token, reports stats the same
way, and has a word-level tokenizer, so the summarizer's exact token path runs in
milliseconds without llama.cpp. With ``batch_width`` > 1 it decodes batches as the llama
engine does: that many replies at once, one token of each per step, in a fixed order.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from app.base.speed import RollingRate, rate
from app.engines.contract import (
    BatchEngine,
    BatchItem,
    BatchPrompt,
    ChatMessage,
    ContextOverflowError,
    EngineError,
    GenerationParams,
    GenerationStats,
    LiveStats,
    LoadCancelled,
    LoadedModel,
    LoadProgress,
    LogprobEngine,
    ModelSpec,
    ProgressCallback,
    StopReason,
    TokenEngine,
)

DEFAULT_REPLY = (
    "Here is an example:\n\n```python\ndef hello(name: str) -> str:\n    return f\"Hello, {name}!\"\n```\n\n"
    "It **greets** the person by name."
)


def _split_tokens(text: str) -> list[str]:
    """Words with their leading space, roughly how a tokenizer splits English."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ch in " \n" and word:
            tokens.append(word)
            word = ""
        word += ch
    if word:
        tokens.append(word)
    return tokens


class FakeEngine(TokenEngine, LogprobEngine, BatchEngine):
    """Streams ``reply(messages)`` one word-token at a time at ``tokens_per_s``."""

    def __init__(
        self,
        reply: str | Callable[[Sequence[ChatMessage]], str] = DEFAULT_REPLY,
        *,
        tokens_per_s: float = 1000.0,
        prefill_tps: float = 2000.0,
        n_ctx: int = 4096,
        load_error: str | None = None,
        fail_after_tokens: int | None = None,
        load_s: float = 0.0,
        abort_on_load: str | None = None,
        chat_format: str = "plain",
        batch_width: int = 1,
    ) -> None:
        self.reply = reply
        self.tokens_per_s = tokens_per_s
        self.prefill_tps = prefill_tps
        self.n_ctx = n_ctx
        self.load_error = load_error
        self.fail_after_tokens = fail_after_tokens
        self.load_s = load_s  # how long a load takes (it can be cancelled meanwhile)
        # Simulates a native assert: print this line to stderr and abort the whole process.
        # Only meant for a fake engine inside the engine's child process (isolation tests).
        self.abort_on_load = abort_on_load
        # "plain": no chat template, so features treat it as a base model (as the starter model);
        # "gguf-template": an instruct model, prompted with chat messages
        self.chat_format = chat_format
        self._batch_width = batch_width
        self.batch_runs: list[int] = []  # how many prompts each batched run had
        self.max_in_flight = 0  # the most replies a batched run decoded at once
        self._ended: set[int] = set()
        self.requests: list[list[ChatMessage]] = []
        self.loads: list[ModelSpec] = []
        self._loaded: LoadedModel | None = None
        self._last_stats: GenerationStats | None = None
        self._cache: list[str] = []
        self._vocab: dict[str, int] = {}
        self._words: list[str] = []
        self._prompts: dict[tuple[int, ...], list[ChatMessage]] = {}

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def last_stats(self) -> GenerationStats | None:
        return self._last_stats

    def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        self.loads.append(spec)
        self._loaded = None
        for step in range(1, 5):
            if cancel is not None and cancel.wait(self.load_s / 4):
                raise LoadCancelled(f"Loading {spec.label} was cancelled.")
            if cancel is None and self.load_s:
                time.sleep(self.load_s / 4)
            if on_progress is not None:
                on_progress(step / 4)
        if self.abort_on_load is not None:
            os.write(2, self.abort_on_load.encode("utf-8") + b"\n")
            os.abort()
        if self.load_error:
            raise EngineError(self.load_error)
        self._loaded = LoadedModel(
            spec=spec, name="Fake model", quant="Q4_K_M", n_ctx=self.n_ctx, n_ctx_train=self.n_ctx,
            backend="CPU", gpu_layers=0, n_layers=2, chat_format=self.chat_format, load_s=0.0,
        )
        return self._loaded

    def unload(self) -> None:
        self._loaded = None
        self._cache = []

    # ---- tokens ----------------------------------------------------------------------
    def _ids(self, words: list[str]) -> list[int]:
        ids = []
        for word in words:
            if word not in self._vocab:
                self._vocab[word] = len(self._words)
                self._words.append(word)
            ids.append(self._vocab[word])
        return ids

    def _prompt(self, messages: Sequence[ChatMessage]) -> list[str]:
        text = "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:"
        return _split_tokens(text)

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
        return self._ids(_split_tokens(text))

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        tokens = self._ids(self._prompt(messages))
        self._prompts[tuple(tokens)] = list(messages)
        return tokens, ("\nuser:",)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(self._prompt(messages))

    def next_token_logprobs(self, tokens: list[int]) -> Any:
        """Deterministic log-probabilities over a small vocabulary, one row per position."""
        import numpy as np  # noqa: PLC0415 - only the comparison asks for these

        rng = np.random.default_rng(len(tokens) + sum(tokens))
        logits = rng.standard_normal((len(tokens), 64))
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    # ---- generation ------------------------------------------------------------------
    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stop: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Iterator[str]:
        tokens, _stops = self.prompt_tokens(messages)
        return self.stream_tokens(tokens, params, stop=stop, on_progress=on_progress)

    def stream_tokens(
        self,
        tokens: list[int],
        params: GenerationParams,
        *,
        stop: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
        extra_stops: tuple[str, ...] = (),
        started: float | None = None,
    ) -> Iterator[str]:
        if self._loaded is None:
            raise EngineError("No model is loaded.")
        if len(tokens) >= self.n_ctx:
            raise ContextOverflowError(len(tokens), self.n_ctx,
                                       f"The prompt is {len(tokens):,} tokens but the context holds {self.n_ctx:,}.")
        messages = self._messages(tokens)
        self.requests.append(list(messages))
        text = self.reply(messages) if callable(self.reply) else self.reply
        prompt = [self._words[t] for t in tokens]
        return self._generate(prompt, _split_tokens(text), params, stop or threading.Event(), on_progress,
                              time.perf_counter() if started is None else started)

    def _generate(self, prompt: list[str], tokens: list[str], params: GenerationParams,
                  stop: threading.Event, on_progress: ProgressCallback | None, started: float) -> Iterator[str]:
        cached = 0
        while cached < min(len(self._cache), len(prompt)) and self._cache[cached] == prompt[cached]:
            cached += 1
        if self.prefill_tps > 0:
            stop.wait((len(prompt) - cached) / self.prefill_tps)
        prefill_end = time.perf_counter()
        reason: StopReason = "eos"
        count = 0
        t_first = t_last = prefill_end
        rolling = RollingRate()
        interval = 1.0 / self.tokens_per_s if self.tokens_per_s > 0 else 0.0
        next_report = 0.0
        try:
            for i, token in enumerate(tokens):
                if stop.is_set():
                    reason = "cancelled"
                    break
                if count >= params.max_tokens:
                    reason = "length"
                    break
                if self.fail_after_tokens is not None and count >= self.fail_after_tokens:
                    raise EngineError("The fake engine failed on purpose.")
                due = prefill_end + i * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                t_last = time.perf_counter()
                if count == 0:
                    t_first = t_last
                count += 1
                rolling.add(t_last)
                yield token
                if on_progress is not None and t_last >= next_report:
                    next_report = t_last + 0.25
                    on_progress(LiveStats("decode", len(prompt), len(prompt) - cached, len(prompt) - cached,
                                          count, t_last - started, rolling.value()))
        except GeneratorExit:
            reason = "cancelled"
            raise
        finally:
            self._cache = prompt + tokens[:count]
            end = time.perf_counter()
            decode_s = t_last - t_first if count > 1 else 0.0
            assert self._loaded is not None
            self._last_stats = GenerationStats(
                prompt_tokens=len(prompt), cached_tokens=cached, evaluated_tokens=len(prompt) - cached,
                completion_tokens=count, ttft_s=(t_first - started) if count else None,
                prefill_s=prefill_end - started, prefill_tps=rate(len(prompt) - cached, prefill_end - started),
                decode_s=decode_s if count > 1 else None, decode_tps=rate(count - 1, decode_s),
                total_s=end - started,
                stop_reason=reason, n_ctx=self.n_ctx, context_used=len(prompt) + count,
                backend="CPU", gpu_layers=0, model="Fake model",
            )

    def _messages(self, tokens: list[int]) -> list[ChatMessage]:
        """The messages a prompt was built from (text sent as it is: one user message)."""
        return self._prompts.get(tuple(tokens)) or [ChatMessage("user", "".join(self._words[t] for t in tokens))]

    # ---- several replies at once -------------------------------------------------------
    @property
    def batch_width(self) -> int:
        return self._batch_width if self._loaded is not None else 1

    def batch_prompt(self, prompt: BatchPrompt) -> tuple[list[int], tuple[str, ...]]:
        if isinstance(prompt, str):
            return self.tokenize(prompt), ()
        return self.prompt_tokens(prompt)

    def stream_batch(self, prompts: Sequence[BatchPrompt], params: GenerationParams | Sequence[GenerationParams],
                     stop: threading.Event | None = None) -> Iterator[BatchItem]:
        return self.stream_batch_tokens([self.batch_prompt(p) for p in prompts], params, stop)

    def stream_batch_tokens(self, prompts: Sequence[tuple[list[int], tuple[str, ...]]],
                            params: GenerationParams | Sequence[GenerationParams],
                            stop: threading.Event | None = None, ended: set[int] | None = None) -> Iterator[BatchItem]:
        if self._loaded is None:
            raise EngineError("No model is loaded.")
        each = [params] * len(prompts) if isinstance(params, GenerationParams) else list(params)
        for tokens, _stops in prompts:
            if len(tokens) >= self.n_ctx:
                raise ContextOverflowError(len(tokens), self.n_ctx, f"A prompt is {len(tokens):,} tokens but the "
                                           f"context holds {self.n_ctx:,}.")
        self.batch_runs.append(len(prompts))
        self._last_stats = None
        self._ended = ended if ended is not None else set()
        return self._batch([tokens for tokens, _stops in prompts], each, stop or threading.Event(), self._ended)

    def end_sequence(self, index: int) -> None:
        self._ended.add(index)

    def _batch(self, prompts: list[list[int]], params: list[GenerationParams], stop: threading.Event,
               ended: set[int]) -> Iterator[BatchItem]:
        """Up to ``batch_width`` replies, one token of each per step, admitted in order as others end."""
        started = time.perf_counter()
        waiting = deque(range(len(prompts)))
        replies: dict[int, list[str]] = {}  # the replies decoding now, in the order they started
        counts: dict[int, int] = {}
        interval = 1.0 / self.tokens_per_s if self.tokens_per_s > 0 else 0.0
        total = 0

        def end(index: int, reason: StopReason) -> BatchItem:
            nonlocal total
            del replies[index]
            total += counts[index]
            return BatchItem(index, stats=self._batch_stats(len(prompts[index]), counts[index], reason, started))

        try:
            while (waiting or replies) and not stop.is_set():
                for index in [i for i in replies if i in ended]:
                    yield end(index, "cancelled")
                while len(replies) < self._batch_width and waiting:
                    index = waiting.popleft()
                    counts[index] = 0
                    if index in ended:
                        yield BatchItem(index, stats=self._batch_stats(len(prompts[index]), 0, "cancelled", started))
                        continue
                    messages = self._messages(prompts[index])
                    self.requests.append(messages)
                    replies[index] = _split_tokens(self.reply(messages) if callable(self.reply) else self.reply)
                self.max_in_flight = max(self.max_in_flight, len(replies))
                if interval and stop.wait(interval):
                    break
                for index in list(replies):
                    count, tokens = counts[index], replies[index]
                    if self.fail_after_tokens is not None and count >= self.fail_after_tokens:
                        raise EngineError("The fake engine failed on purpose.")
                    if count >= len(tokens):
                        yield end(index, "eos")
                    elif count >= params[index].max_tokens:
                        yield end(index, "length")
                    else:
                        counts[index] = count + 1
                        yield BatchItem(index, tokens[count])
            for index in list(replies):
                yield end(index, "cancelled")
            for index in waiting:
                yield BatchItem(index, stats=self._batch_stats(len(prompts[index]), 0, "cancelled", started))
        finally:
            self._last_stats = self._batch_stats(sum(map(len, prompts)), total, "cancelled" if stop.is_set() else "eos",
                                                 started)

    def _batch_stats(self, prompt_tokens: int, count: int, reason: StopReason, started: float) -> GenerationStats:
        return GenerationStats(prompt_tokens=prompt_tokens, cached_tokens=0, evaluated_tokens=prompt_tokens,
                               completion_tokens=count, total_s=time.perf_counter() - started, stop_reason=reason,
                               n_ctx=self.n_ctx, context_used=prompt_tokens + count, backend="CPU", gpu_layers=0,
                               model="Fake model")
