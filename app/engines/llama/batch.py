"""Several replies decoded together: document work as separate sequences of one context.

Summary map steps and translated segments are independent prompts. Decoding them one by
one reads every weight of the model once per token of each reply; decoding them as
separate sequences reads the weights once per step for all of them (a CPU's memory
bandwidth and a GPU's kernel launches are shared), so the same replies come sooner.

- The run has a context of its own, made for it and freed after it: ``n_seq_max`` = the
  width and a non-unified KV cache of ``width x n_ctx`` cells, so every sequence has the
  whole context and attends to its own cells only. The chat's context, the tokens it
  caches and the saved conversation states are never touched, and the memory for the
  extra sequences is taken only while documents are worked on.
- One ``llama_decode`` per step for every decoding sequence: the next token of each, in one
  ``llama_batch``. A prompt is read in steps of its own, in a single reply's chunks (why:
  ``BatchRun._fill``); the sequences decoding meanwhile wait for it.
- Each sequence samples from its own logits with its own sampler and has its own text
  stream (UTF-8 pieces, its chat format's stop strings), exactly as a single reply.
- Continuous: when a sequence ends, the next prompt takes its place at the next step,
  keeping what that sequence's cache shares with it (the instruction requests begin with).

The width: the ``parallel_sequences`` setting, or automatic (:func:`width_for`).

The replies are the requests' own, computed the same way; only the rounding of llama.cpp's
matrix kernels can differ (a CPU multiplies four rows at once in other kernels than one), so
a greedy reply may take the other side of a near tie, as it can between two single replies
whose prompts were split into micro-batches differently (docs/engine.md has the figures).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.base.speed import rate
from app.engines.contract import (
    BatchItem,
    ContextOverflowError,
    EngineError,
    GenerationParams,
    GenerationStats,
    LoadedModel,
    LocalModel,
    StopReason,
)
from app.engines.llama import native
from app.engines.llama.opening import N_BATCH, context_params
from app.engines.llama.sampling import make_sampler
from app.engines.llama.states.store import common_prefix
from app.engines.llama.textstream import LeadingSpaceTrimmer, StopBuffer, Utf8Stream
from app.engines.llama.vocab import Pieces
from app.gguf.memory import kv_cache_bytes, machine_memory
from app.gguf.reader import GGUFInfo

CPU_WIDTH = 4  # automatic width on a CPU: beyond it a step's arithmetic grows as fast as the gain
GPU_WIDTH = 8
MAX_WIDTH = 64
MEMORY_SHARE = 0.5  # at most this part of the memory free now goes to the extra sequences' KV cache
ABORTED = 2  # llama_decode's return code when the abort callback said stop

TokenPrompt = tuple[list[int], tuple[str, ...]]  # a prompt's tokens and the stop strings its format needs


def choose_width(asked: int, kv_bytes: int, free_bytes: int | None, gpu: bool) -> int:
    """Sequences for document work: ``asked`` when set, else what the machine runs well and memory holds.

    ``kv_bytes``: one sequence's KV cache at the full context; ``free_bytes``: memory free
    where it would live (VRAM with the model on a GPU, else RAM). Unknown sizes: 1.
    """
    if asked > 0:
        return min(asked, MAX_WIDTH)
    if kv_bytes <= 0 or free_bytes is None:
        return 1
    return max(1, min(GPU_WIDTH if gpu else CPU_WIDTH, int(free_bytes * MEMORY_SHARE) // kv_bytes))


def width_for(loaded: LoadedModel, info: GGUFInfo) -> int:
    """The width for the loaded model: its spec's ``parallel_sequences``, or automatic from free memory."""
    spec = loaded.spec
    asked = spec.parallel_sequences if isinstance(spec, LocalModel) else 1
    if asked > 0:
        return choose_width(asked, 0, None, False)
    memory = machine_memory()
    gpu = (loaded.gpu_layers or 0) > 0
    free = memory.vram_free if gpu and memory.vram_free is not None else memory.ram_available
    return choose_width(0, kv_cache_bytes(info, loaded.n_ctx), free, gpu)


def checked(prompts: Sequence[TokenPrompt], params: GenerationParams | Sequence[GenerationParams],
            n_ctx: int) -> list[GenerationParams]:
    """Each prompt's parameters; an empty prompt or one the context cannot hold is refused before anything runs."""
    each = [params] * len(prompts) if isinstance(params, GenerationParams) else list(params)
    if len(each) != len(prompts):
        raise EngineError(f"{len(prompts)} prompts were given {len(each)} sets of parameters.")
    for tokens, _stops in prompts:
        if not tokens:
            raise EngineError("A prompt is empty.")
        if len(tokens) >= n_ctx:
            raise ContextOverflowError(len(tokens), n_ctx, f"A prompt is {len(tokens):,} tokens but the context "
                                       f"holds {n_ctx:,}; shorten it or load the model with a larger context.")
    return each


def open_context(ll: Any, model: Any, spec: LocalModel, n_ctx: int, width: int) -> tuple[Any, int]:
    """A context of ``width`` sequences with ``n_ctx`` tokens each; half as many while memory runs out."""
    while True:
        native.clear_log()
        cparams = context_params(ll, n_ctx * width, spec)
        cparams.n_seq_max = width
        cparams.kv_unified = False  # a cache stream per sequence: each attends to its own cells only
        cparams.n_outputs_max = width  # one logits row per sequence and step: no n_batch x n_vocab buffer
        ctx = ll.llama_init_from_model(model, cparams)
        if ctx:
            return ctx, width
        if width == 1:
            raise EngineError("Not enough memory for the batched document work: "
                              + (native.failure_reason() or f"no context of {n_ctx:,} tokens could be created"))
        width //= 2


@dataclass
class _Sequence:
    """One reply in progress: its prompt, what its cache holds, its sampler and text stream."""

    index: int
    slot: int  # its sequence id in the context
    prompt: list[int]
    params: GenerationParams
    sampler: Any
    started: float
    cached: int  # prompt tokens kept from the slot's previous sequence
    kv: list[int]  # the tokens in its cache, in order
    utf8: Utf8Stream = field(default_factory=Utf8Stream)
    stopper: StopBuffer = field(default_factory=lambda: StopBuffer(()))
    trim: LeadingSpaceTrimmer = field(default_factory=LeadingSpaceTrimmer)
    completion: int = 0
    token: int = -1  # sampled, evaluated at the next step; -1 while the prompt is read
    chunk: list[int] = field(default_factory=list)  # prompt tokens in the step being decoded
    prefill_end: float = 0.0
    t_first: float = 0.0
    t_last: float = 0.0


@dataclass
class _Totals:
    """The run's figures: steps that read prompts are prefill, steps that only decode are decode."""

    started: float
    prompt_tokens: int = 0
    cached: int = 0
    evaluated: int = 0
    completion: int = 0
    first_token: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    decoded: int = 0  # tokens sampled in decode-only steps


class BatchRun:
    """One batched run over a loaded model: open a context, step every sequence, free it all."""

    def __init__(self, ll: Any, model: Any, vocab: Any, pieces: Pieces, loaded: LoadedModel, width: int,
                 stop: threading.Event, ended: set[int], on_end: Callable[[GenerationStats], None]) -> None:
        assert isinstance(loaded.spec, LocalModel)
        self._ll, self._model, self._vocab, self._pieces = ll, model, vocab, pieces
        self._loaded, self._spec = loaded, loaded.spec
        self._width, self._stop, self._ended, self._on_end = width, stop, ended, on_end
        self._totals = _Totals(time.perf_counter())

    def items(self, prompts: Sequence[TokenPrompt], params: Sequence[GenerationParams]) -> Iterator[BatchItem]:
        """Every prompt's deltas and its closing item; the run's totals go to ``on_end`` however it ends."""
        ll, n_ctx = self._ll, self._loaded.n_ctx
        ctx = batch = None
        slots: list[_Sequence | None] = []
        try:
            ctx, width = open_context(ll, self._model, self._spec, n_ctx, max(1, min(self._width, len(prompts))))
            batch = ll.llama_batch_init(N_BATCH, 0, 1)
            abort_cb, no_abort = ll.ggml_abort_callback(lambda _data: self._stop.is_set()), ll.ggml_abort_callback()
            slots = [None] * width
            kept: list[list[int]] = [[] for _ in range(width)]  # what each sequence id's cache holds
            waiting = deque(range(len(prompts)))
            while not self._stop.is_set():
                for seq in [s for s in slots if s is not None and s.index in self._ended]:
                    yield from self._finish(seq, "cancelled", slots, kept)
                for slot in range(width):
                    while slots[slot] is None and waiting:
                        index = waiting.popleft()
                        if index in self._ended:
                            yield self._unstarted(index, prompts[index][0])
                        else:
                            slots[slot] = self._admit(ctx, slot, index, prompts[index], params[index], kept[slot])
                active = [s for s in slots if s is not None]
                if not active:
                    break
                reading = next((s for s in active if s.token < 0), None)
                stepped = [reading] if reading is not None else active
                outputs = self._fill(batch, stepped)
                ll.llama_set_abort_callback(ctx, abort_cb if reading is not None else no_abort, None)
                step_started = time.perf_counter()
                rc = ll.llama_decode(ctx, batch)
                if rc == ABORTED:
                    break  # the stop event: every sequence ends cancelled below
                if rc != 0:
                    raise EngineError(f"llama.cpp failed while generating (code {rc}); "
                                      + (native.failure_reason() or "it may be out of memory"))
                yield from self._sample(ctx, outputs, stepped, slots, kept, step_started, reading is not None)
            for seq in [s for s in slots if s is not None]:
                yield from self._finish(seq, "cancelled", slots, kept)
            for index in waiting:
                yield self._unstarted(index, prompts[index][0])
        finally:
            for left in slots:
                if left is not None and left.sampler is not None:
                    ll.llama_sampler_free(left.sampler)
            if batch is not None:
                ll.llama_batch_free(batch)
            if ctx is not None:
                ll.llama_free(ctx)
            self._on_end(self._run_stats())

    # ---- one step ----------------------------------------------------------------------
    def _admit(self, ctx: Any, slot: int, index: int, prompt: TokenPrompt, params: GenerationParams,
               kept: list[int]) -> _Sequence:
        """Start prompt ``index`` on sequence ``slot``, keeping the prefix its cache shares with the last one."""
        ll = self._ll
        tokens, stops = prompt
        reused = common_prefix(kept, tokens)
        if reused == len(tokens):
            reused -= 1  # at least one token is evaluated, for fresh logits
        mem = ll.llama_get_memory(ctx)
        if reused < len(kept) and not ll.llama_memory_seq_rm(mem, slot, reused, -1):
            ll.llama_memory_seq_rm(mem, slot, 0, -1)
            reused = 0
        self._totals.prompt_tokens += len(tokens)
        self._totals.cached += reused
        return _Sequence(index, slot, tokens, params, make_sampler(ll, self._vocab, params), time.perf_counter(),
                         reused, tokens[:reused], stopper=StopBuffer(params.stop + stops))

    def _fill(self, batch: Any, stepped: list[_Sequence]) -> list[tuple[_Sequence, int]]:
        """The step's tokens: a chunk of one sequence's prompt, or the next token of every decoding sequence.

        A prompt is read in steps of its own, in the chunks a single reply reads it in. Beside
        decode tokens it would gain nothing: with a cache stream per sequence llama.cpp splits
        such a batch into a micro-batch of one token per sequence and one of the prompt's rest,
        the cost of two steps; and the prompt's logits would round differently (up to 0.4 on
        the starter model with two prompts in one step). Decoders wait while a prompt is read,
        then decode together: on a CPU a step of four rows costs little more than one of three.
        Returns (sequence, batch row) for each row whose logits are sampled.
        """
        if stepped[0].token >= 0:  # decoding: every sequence's next token
            for row, seq in enumerate(stepped):
                batch.token[row], batch.pos[row], batch.seq_id[row][0] = seq.token, len(seq.kv), seq.slot
                batch.n_seq_id[row], batch.logits[row] = 1, True
            batch.n_tokens = len(stepped)
            return [(seq, row) for row, seq in enumerate(stepped)]
        seq = stepped[0]
        start = len(seq.kv)
        seq.chunk = seq.prompt[start:start + N_BATCH]
        last = start + len(seq.chunk) == len(seq.prompt)
        for i, token in enumerate(seq.chunk):
            batch.token[i], batch.pos[i], batch.seq_id[i][0] = token, start + i, seq.slot
            batch.n_seq_id[i], batch.logits[i] = 1, last and i == len(seq.chunk) - 1
        batch.n_tokens = len(seq.chunk)
        return [(seq, len(seq.chunk) - 1)] if last else []

    def _sample(self, ctx: Any, outputs: list[tuple[_Sequence, int]], stepped: list[_Sequence],
                slots: list[_Sequence | None], kept: list[list[int]], step_started: float,
                reading: bool) -> Iterator[BatchItem]:
        """After a decode: the cache grew; each sequence with logits takes its next token, or ends."""
        ll, n_ctx, totals = self._ll, self._loaded.n_ctx, self._totals
        for seq in stepped:
            if seq.chunk:
                seq.kv.extend(seq.chunk)
                totals.evaluated += len(seq.chunk)
                seq.chunk = []
            else:
                seq.kv.append(seq.token)
        for seq, row in outputs:
            token = ll.llama_sampler_sample(seq.sampler, ctx, row)
            now = time.perf_counter()
            if seq.completion == 0:
                seq.prefill_end = now
            reason: StopReason | None = None
            seq.token = -1
            if ll.llama_vocab_is_eog(self._vocab, token):
                reason = "eos"
            else:
                seq.t_last = now
                if seq.completion == 0:
                    seq.t_first = now
                    totals.first_token = totals.first_token or now
                seq.completion += 1
                text = seq.trim.feed(seq.stopper.feed(seq.utf8.feed(self._pieces.bytes_of(token))))
                if text:
                    yield BatchItem(seq.index, text)
                if seq.stopper.stopped:
                    reason = "stop"
                elif seq.completion >= seq.params.max_tokens:
                    reason = "length"
                elif len(seq.kv) + 1 >= n_ctx:
                    reason = "context"
                else:
                    seq.token = token
            if reason is not None:
                yield from self._finish(seq, reason, slots, kept)
        elapsed = time.perf_counter() - step_started
        if reading:
            totals.prefill_s += elapsed
        else:
            totals.decode_s += elapsed
            totals.decoded += len(outputs)

    def _finish(self, seq: _Sequence, reason: StopReason, slots: list[_Sequence | None],
                kept: list[list[int]]) -> Iterator[BatchItem]:
        """The reply's held-back text and its closing item; the sequence id is free for the next prompt."""
        tail = seq.trim.feed(seq.stopper.feed(seq.utf8.flush())) + seq.stopper.flush()
        if tail:
            yield BatchItem(seq.index, tail)
        self._ll.llama_sampler_free(seq.sampler)
        seq.sampler = None
        slots[seq.slot] = None
        kept[seq.slot] = seq.kv
        self._totals.completion += seq.completion
        yield BatchItem(seq.index, stats=self._stats(seq, reason))

    # ---- figures -----------------------------------------------------------------------
    def _stats(self, seq: _Sequence, reason: StopReason) -> GenerationStats:
        """One reply's figures, timed from when its sequence started."""
        end = time.perf_counter()
        loaded, n = self._loaded, seq.completion
        evaluated = min(len(seq.kv), len(seq.prompt)) - seq.cached
        prefill_s = (seq.prefill_end or end) - seq.started
        decode_s = seq.t_last - seq.t_first if n > 1 else 0.0
        return GenerationStats(
            prompt_tokens=len(seq.prompt), cached_tokens=seq.cached, evaluated_tokens=evaluated, completion_tokens=n,
            ttft_s=(seq.t_first - seq.started) if n else None, prefill_s=prefill_s,
            prefill_tps=rate(evaluated, prefill_s), decode_s=decode_s if n > 1 else None,
            decode_tps=rate(n - 1, decode_s), total_s=end - seq.started, stop_reason=reason, n_ctx=loaded.n_ctx,
            context_used=len(seq.kv), backend=loaded.backend, gpu_layers=loaded.gpu_layers, model=loaded.name)

    def _unstarted(self, index: int, prompt: list[int]) -> BatchItem:
        """The closing item of a prompt that never started (the run was stopped first)."""
        loaded = self._loaded
        return BatchItem(index, stats=GenerationStats(
            completion_tokens=0, total_s=0.0, stop_reason="cancelled", backend=loaded.backend, model=loaded.name,
            prompt_tokens=len(prompt), cached_tokens=0, evaluated_tokens=0, n_ctx=loaded.n_ctx, context_used=0,
            gpu_layers=loaded.gpu_layers))

    def _run_stats(self) -> GenerationStats:
        """The whole run: token counts summed; prefill = steps that read prompts, decode = steps that only decoded."""
        t, loaded = self._totals, self._loaded
        end = time.perf_counter()
        return GenerationStats(
            prompt_tokens=t.prompt_tokens, cached_tokens=t.cached, evaluated_tokens=t.evaluated,
            completion_tokens=t.completion, ttft_s=(t.first_token - t.started) if t.first_token else None,
            prefill_s=t.prefill_s, prefill_tps=rate(t.evaluated, t.prefill_s),
            decode_s=t.decode_s or None, decode_tps=rate(t.decoded, t.decode_s), total_s=end - t.started,
            stop_reason="cancelled" if self._stop.is_set() else "eos", n_ctx=loaded.n_ctx,
            backend=loaded.backend, gpu_layers=loaded.gpu_layers, model=loaded.name)
