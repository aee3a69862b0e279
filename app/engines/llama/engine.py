"""The llama.cpp engine: the only object that owns a model and its context.

We drive llama.cpp's C API directly (through llama-cpp-python's ctypes bindings)
rather than the high-level ``Llama`` class, because that class re-detokenizes the
whole completion on every streamed token, keeps an n_batch x n_vocab float array
(512 MB for a 262k vocabulary) and cannot interrupt a long prompt evaluation. Here:

- prefix reuse: the tokens in the KV cache are remembered; a new prompt evaluates
  only what differs from them;
- stop: a ``threading.Event`` checked before every token, and during prompt
  evaluation through llama.cpp's abort callback (CPU/Metal), which rolls the
  batch back cleanly;
- honest figures: time to first token includes tokenizing and prefill; decode speed
  excludes the first token;
- saved conversations: after a reply the sequence state goes to a :class:`KVStore` on
  disk; a prompt that continues a saved token list (another chat, an app restart, an API
  client) restores it instead of evaluating the history again.

Not thread-safe: one thread (the UI's engine worker, or the CLI) uses an engine.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
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
    LoadedModel,
    LoadProgress,
    LocalModel,
    LogprobEngine,
    ModelSpec,
    ProgressCallback,
    StopReason,
    TokenEngine,
)
from app.engines.llama import native
from app.engines.llama.batch import BatchRun, TokenPrompt, checked, width_for
from app.engines.llama.chat_format import ChatFormatter, TemplateError
from app.engines.llama.loadplan import auto_layers, describe_change, plan
from app.engines.llama.logprobs import all_logprobs
from app.engines.llama.opening import N_BATCH, OutOfMemory, default_threads, open_model
from app.engines.llama.sampling import make_sampler
from app.engines.llama.speculative.draft_model import DraftModel, DraftModelError
from app.engines.llama.speculative.drafting import draft_counts, speculator
from app.engines.llama.speculative.verify import DecodeFailed
from app.engines.llama.states.llama_io import load_state, open_store, save_state
from app.engines.llama.states.store import MIN_TOKENS, KVStore, common_prefix
from app.engines.llama.textstream import LeadingSpaceTrimmer, StopBuffer, Utf8Stream
from app.engines.llama.vocab import Pieces, tokenize
from app.gguf.memory import machine_memory
from app.gguf.reader import GGUFError, GGUFInfo, read_gguf_info

CTX_ALIGN = 256  # llama.cpp pads n_ctx to 256; keeping ours aligned keeps prefix math exact
PROGRESS_INTERVAL_S = 0.25
TEMPLATE_DEADLINE_S = 2.0  # a chat template renders in milliseconds; one that runs longer is refused
ABORTED = 2  # llama_decode's return code when the abort callback said stop
SAVED_REASONS = frozenset({"eos", "stop", "length", "context"})  # replies whose state is worth keeping
SAVE_MIN_TOKENS = 256  # shorter conversations are read again faster than their state is written and read


def round_ctx(n_ctx: int) -> int:
    """Round a context size up to a multiple of 256 (at least 256)."""
    return max(CTX_ALIGN, -(-n_ctx // CTX_ALIGN) * CTX_ALIGN)


def _generation_failed(code: int) -> EngineError:
    return EngineError(f"llama.cpp failed while generating (code {code}); "
                       + (native.failure_reason() or "it may be out of memory"))


class LlamaEngine(TokenEngine, LogprobEngine, BatchEngine):
    """Loads one GGUF model and streams replies from it."""

    def __init__(self) -> None:
        self._ll: Any = None
        self._model: Any = None
        self._ctx: Any = None
        self._vocab: Any = None
        self._info: GGUFInfo | None = None
        self._loaded: LoadedModel | None = None
        self._formatter = ChatFormatter(None)
        self._tokens: list[int] = []  # exactly the tokens held in the KV cache, in order
        self._last_stats: GenerationStats | None = None
        self._abort = threading.Event()
        self._abort_cb: Any = None  # ctypes callbacks must stay referenced
        self._null_abort_cb: Any = None
        self._progress_cb: Any = None
        self._pieces: Pieces | None = None
        self._one_token: Any = None
        self._store: KVStore | None = None
        self._cache_layout: tuple[int, int, int, bool] = (0, 0, 0, False)  # see Opened.cache_layout
        self._draft: DraftModel | None = None
        self._batch_width: int | None = None  # decided on first use (see app.engines.llama.batch)
        self._batch_ended: set[int] = set()  # prompts of the running batch the reader has ended

    # ---- state -----------------------------------------------------------------------
    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def last_stats(self) -> GenerationStats | None:
        return self._last_stats

    @property
    def info(self) -> GGUFInfo | None:
        """The GGUF header of the loaded model."""
        return self._info

    @property
    def cached_tokens(self) -> int:
        """Tokens currently held in the KV cache."""
        return len(self._tokens)

    # ---- loading ---------------------------------------------------------------------
    def load(
        self, spec: ModelSpec, on_progress: LoadProgress | None = None,
        cancel: threading.Event | None = None, *, header: GGUFInfo | None = None,
    ) -> LoadedModel:
        """Load a model; raises EngineError with a user-facing reason on any failure.

        With ``allow_fallback`` a memory failure is retried with fewer GPU layers, then a
        smaller context; ``LoadedModel.adjustments`` says what changed. Setting ``cancel``
        stops the load at llama.cpp's next progress call (LoadCancelled). ``header``: the file's
        GGUF header when the caller has read and checked it already (it takes ~0.2 s to read).
        """
        if not isinstance(spec, LocalModel):
            raise EngineError(f"The llama.cpp engine loads GGUF files, not {spec.label}.")
        params = spec
        path = Path(params.path).expanduser()
        try:
            info = header if header is not None else read_gguf_info(path)
        except GGUFError as exc:
            raise EngineError(str(exc)) from exc
        self.unload()
        ll = native.lib()
        self._ll = ll
        started = time.perf_counter()
        n_ctx = round_ctx(params.n_ctx)
        if params.n_gpu_layers < 0:
            first = auto_layers(info, n_ctx, native.gpu_offload_supported(), machine_memory().vram_free)
        else:
            first = params.n_gpu_layers if native.gpu_offload_supported() else 0
        attempts = plan(first, n_ctx, params.allow_fallback)
        last_reason = ""
        for layers, ctx_size in attempts:
            try:
                opened = open_model(ll, path, layers, ctx_size, params, on_progress=on_progress, cancel=cancel)
            except OutOfMemory as failure:
                last_reason = str(failure)
                continue
            adjustments = tuple(describe_change(attempts[0], (layers, ctx_size), last_reason)) if last_reason else ()
            break
        else:
            raise EngineError(f"Not enough memory to load {path.name}, even on the CPU with a "
                              f"{attempts[-1][1]:,}-token context: {last_reason}")
        self._model, self._ctx, self._progress_cb = opened.model, opened.ctx, opened.progress_cb
        self._cache_layout = opened.cache_layout
        gpu_layers, backend = opened.gpu_layers, opened.backend
        self._vocab = ll.llama_model_get_vocab(self._model)
        self._abort_cb = ll.ggml_abort_callback(lambda _data: self._abort.is_set())
        self._null_abort_cb = ll.ggml_abort_callback()  # NULL: no per-node Python call while decoding
        self._one_token = (ll.llama_token * 1)()
        self._info = info
        self._tokens = []
        self._pieces = pieces = Pieces(ll, self._vocab)
        bos = pieces.text_of(ll.llama_vocab_bos(self._vocab), special=True)
        eos = pieces.text_of(ll.llama_vocab_eos(self._vocab), special=True)
        self._formatter = ChatFormatter(info.chat_template, bos_token=bos, eos_token=eos)
        if params.draft_model is not None:
            self._draft = self._open_draft(Path(params.draft_model).expanduser(), ctx_size, params, gpu_layers)
        self._store = open_store(path, ctx_size, params.state_budget_mb, self._cache_layout,
                                 str(getattr(self._ll, "__version__", "")))
        self._loaded = LoadedModel(
            spec=replace(params, path=path),
            name=info.name,
            quant=info.quant,
            n_ctx=ctx_size,
            n_ctx_train=info.n_ctx_train,
            backend=backend,
            gpu_layers=gpu_layers,
            n_layers=int(ll.llama_model_n_layer(self._model)),
            chat_format=self._formatter.name,
            load_s=time.perf_counter() - started,
            adjustments=adjustments,
        )
        return self._loaded

    def _open_draft(self, path: Path, n_ctx: int, params: LocalModel, gpu_layers: int) -> DraftModel:
        """Load the draft model beside the model (unloading both when it cannot be used)."""
        try:
            read_gguf_info(path)
            return DraftModel(self._ll, path, n_ctx=n_ctx, n_threads=params.n_threads or default_threads(),
                              gpu_layers=gpu_layers, target_vocab=self._vocab)
        except (GGUFError, DraftModelError) as exc:
            self.unload()
            raise EngineError(f"The draft model cannot be used: {exc}") from exc

    @property
    def state_store(self) -> KVStore | None:
        """Where replies' KV states are saved (None when off)."""
        return self._store

    def unload(self) -> None:
        """Free the context and the model (safe to call twice); waits for queued state writes."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._draft is not None:
            self._draft.close()
            self._draft = None
        ll = self._ll
        if ll is not None:
            if self._ctx:
                ll.llama_free(self._ctx)
            if self._model:
                ll.llama_model_free(self._model)
        self._ctx = self._model = self._vocab = self._pieces = None
        self._loaded = None
        self._info = None
        self._tokens = []
        self._batch_width = None

    def close(self) -> None:
        """Alias of unload, for ``contextlib.closing``."""
        self.unload()

    # ---- tokens ----------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """Text to tokens with the model's vocabulary."""
        return tokenize(self._require(), self._vocab, text, add_special=add_special, parse_special=parse_special)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        """The exact tokens ``stream`` would evaluate for these messages, and its stop strings."""
        try:
            prompt = self._formatter.format(messages, max_chars=self._prompt_limit(messages),
                                            deadline_s=TEMPLATE_DEADLINE_S)
        except TemplateError as exc:
            raise EngineError(str(exc)) from exc
        tokens = self.tokenize(prompt.text, add_special=True, parse_special=prompt.parse_special)
        bos = self._ll.llama_vocab_bos(self._vocab)
        if len(tokens) > 1 and tokens[0] == bos and tokens[1] == bos:
            tokens = tokens[1:]  # the template wrote BOS itself; don't double it
        return tokens, prompt.stops

    def _prompt_limit(self, messages: Sequence[ChatMessage]) -> int:
        """The most characters a template may render for ``messages``.

        A template wraps each message in a few markers; it never multiplies the content. So
        a prompt far larger than the messages (or than the context could ever hold) is a
        runaway template, refused before it fills memory. A long history beyond the context
        still renders, so it can be counted and trimmed.
        """
        n_ctx = self._loaded.n_ctx if self._loaded is not None else 4096
        content = sum(len(m.content) for m in messages)
        return max(n_ctx * 16, 4 * content + 65536)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the prompt for ``messages`` takes (what the context budget shows)."""
        return len(self.prompt_tokens(messages)[0])

    # ---- generation ------------------------------------------------------------------
    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stop: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Iterator[str]:
        """Yield reply text deltas; ``last_stats`` is set however the iterator ends."""
        started = time.perf_counter()
        tokens, stops = self.prompt_tokens(messages)
        return self.stream_tokens(
            tokens, params, stop=stop, on_progress=on_progress, extra_stops=stops, started=started
        )

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
        """Like ``stream`` but for an already tokenized prompt (summaries, benchmarks)."""
        self._require()
        assert self._loaded is not None
        n_ctx = self._loaded.n_ctx
        if not tokens:
            raise EngineError("The prompt is empty.")
        if len(tokens) >= n_ctx:
            raise ContextOverflowError(
                len(tokens),
                n_ctx,
                f"The prompt is {len(tokens):,} tokens but the context holds {n_ctx:,}; "
                "shorten it or load the model with a larger context.",
            )
        self._last_stats = None
        return self._generate(
            tokens, params, stop or threading.Event(), on_progress, stops=params.stop + extra_stops,
            started=started if started is not None else time.perf_counter(),
        )

    def _generate(
        self,
        tokens: list[int],
        params: GenerationParams,
        stop: threading.Event,
        on_progress: ProgressCallback | None,
        *,
        stops: tuple[str, ...],
        started: float,
    ) -> Iterator[str]:
        ll, ctx = self._ll, self._ctx
        assert self._loaded is not None
        n_ctx = self._loaded.n_ctx
        restored, restore_s = self._restore_saved(tokens)
        reused = self._reuse_prefix(tokens)
        to_eval = tokens[reused:]
        completion = evaluated = 0
        reason: StopReason = "length"
        t_first = t_last = 0.0
        prefill_end = started
        sampler = spec = None
        rolling = RollingRate()
        next_report = 0.0
        utf8, stopper, trim = Utf8Stream(), StopBuffer(stops), LeadingSpaceTrimmer()
        finished = False
        self._abort = stop
        try:
            # -- prefill: evaluate only what the cache does not already hold --
            self._arm_abort(True)
            for i in range(0, len(to_eval), N_BATCH):
                chunk = to_eval[i : i + N_BATCH]
                if stop.is_set():
                    reason = "cancelled"
                    return
                arr = (ll.llama_token * len(chunk))(*chunk)
                rc = ll.llama_decode(ctx, ll.llama_batch_get_one(arr, len(chunk)))
                if rc == ABORTED:
                    self._trim_cache(len(self._tokens))
                    reason = "cancelled"
                    return
                if rc != 0:
                    self._trim_cache(len(self._tokens))
                    raise EngineError(f"llama.cpp failed to evaluate the prompt (code {rc}); "
                                      + (native.failure_reason() or "it may be out of memory"))
                self._tokens.extend(chunk)
                evaluated += len(chunk)
                now = time.perf_counter()
                if on_progress is not None and now >= next_report:
                    next_report = now + PROGRESS_INTERVAL_S
                    on_progress(LiveStats("prefill", len(tokens), i + len(chunk), len(to_eval), 0,
                                          now - started, None))
            self._arm_abort(False)
            prefill_end = time.perf_counter()

            # -- decode: sample, show, evaluate (with a draft of the next tokens when that pays) --
            sampler = make_sampler(self._ll, self._vocab, params)
            spec = speculator(ll, ctx, self._vocab, sampler, params.speculative, self._draft, tokens)
            vocab, pieces = self._vocab, self._pieces
            assert pieces is not None
            one = self._one_token
            batch = ll.llama_batch_get_one(one, 1)
            ahead: deque[int] = deque()  # verified tokens still to show; all but the last are in the cache
            token = ll.llama_sampler_sample(sampler, ctx, -1)
            while True:
                if stop.is_set():
                    reason = "cancelled"
                    break
                if ll.llama_vocab_is_eog(vocab, token):
                    reason = "eos"
                    break
                t_last = time.perf_counter()
                if completion == 0:
                    t_first = t_last
                completion += 1
                rolling.add(t_last)
                text = trim.feed(stopper.feed(utf8.feed(pieces.bytes_of(token))))
                if text:
                    yield text
                if stopper.stopped:
                    reason = "stop"
                    break
                if completion >= params.max_tokens:
                    reason = "length"
                    break
                if len(self._tokens) + 1 >= n_ctx:
                    reason = "context"
                    break
                if ahead:
                    token = ahead.popleft()
                    continue
                room = min(params.max_tokens - completion, n_ctx - len(self._tokens) - 2)
                following = spec.step(len(self._tokens), token, completion, room) if spec is not None else None
                if following is not None:
                    self._tokens.append(token)
                    self._tokens.extend(following[:-1])
                    ahead.extend(following)
                    token = ahead.popleft()
                else:
                    step_started = time.perf_counter()
                    one[0] = token
                    rc = ll.llama_decode(ctx, batch)
                    if rc != 0:
                        raise _generation_failed(rc)
                    self._tokens.append(token)
                    token = ll.llama_sampler_sample(sampler, ctx, -1)
                    if spec is not None:
                        spec.plain(time.perf_counter() - step_started)
                if on_progress is not None and t_last >= next_report:
                    next_report = t_last + PROGRESS_INTERVAL_S
                    drafted, accepted = draft_counts(spec)
                    on_progress(LiveStats("decode", len(tokens), len(to_eval), len(to_eval), completion,
                                          t_last - started, rolling.value(), drafted_tokens=drafted,
                                          accepted_tokens=accepted))
            # the cache keeps the reply as plain decoding leaves it: without verified tokens past its end, and
            # without its last token when a limit or stop string ended it (that token was never evaluated)
            keep = len(tokens) + completion - (1 if reason in ("stop", "length", "context") else 0)
            if len(self._tokens) > keep:
                self._trim_cache(keep)
            tail = trim.feed(stopper.feed(utf8.flush()))
            tail += stopper.flush()
            if tail:
                yield tail
            finished = True
        except DecodeFailed as failure:
            raise _generation_failed(failure.code) from failure
        except GeneratorExit:
            reason = "cancelled"
            raise
        finally:
            self._arm_abort(False)
            if sampler is not None:
                ll.llama_sampler_free(sampler)
            end = time.perf_counter()
            if prefill_end == started:
                prefill_end = end  # stopped or failed during prefill
            decode_s = (t_last - t_first) if completion > 1 else 0.0
            prefill_s = prefill_end - started
            drafted, accepted = draft_counts(spec)
            self._last_stats = GenerationStats(
                prompt_tokens=len(tokens),
                cached_tokens=reused,
                evaluated_tokens=evaluated,
                completion_tokens=completion,
                ttft_s=(t_first - started) if completion else None,
                prefill_s=prefill_s,
                prefill_tps=rate(evaluated, prefill_s),
                decode_s=decode_s if completion > 1 else None,
                decode_tps=rate(completion - 1, decode_s),
                total_s=end - started,
                stop_reason=reason,
                n_ctx=n_ctx,
                context_used=len(self._tokens),
                backend=self._loaded.backend,
                gpu_layers=self._loaded.gpu_layers,
                model=self._loaded.name,
                restored_tokens=reused if restored and reused > 0 else None,
                restore_s=restore_s if restored and reused > 0 else None,
                drafted_tokens=drafted,
                accepted_tokens=accepted,
            )
            if finished and reason in SAVED_REASONS and params.save_state:
                self._save_state()

    # ---- several sequences at once (document work; see app.engines.llama.batch) -----------
    @property
    def batch_width(self) -> int:
        if self._batch_width is None and self._loaded is not None and self._info is not None:
            self._batch_width = width_for(self._loaded, self._info)
        return self._batch_width or 1

    def batch_prompt(self, prompt: BatchPrompt) -> TokenPrompt:
        """A batch prompt's tokens and stop strings: messages through the chat format, text as it is."""
        return (self.tokenize(prompt), ()) if isinstance(prompt, str) else self.prompt_tokens(prompt)

    def stream_batch(self, prompts: Sequence[BatchPrompt], params: GenerationParams | Sequence[GenerationParams],
                     stop: threading.Event | None = None) -> Iterator[BatchItem]:
        return self.stream_batch_tokens([self.batch_prompt(p) for p in prompts], params, stop)

    def stream_batch_tokens(self, prompts: Sequence[TokenPrompt], params: GenerationParams | Sequence[GenerationParams],
                            stop: threading.Event | None = None, ended: set[int] | None = None) -> Iterator[BatchItem]:
        """Like ``stream_batch`` for tokenized prompts; ``ended``: where ``end_sequence`` requests arrive."""
        ll = self._require()
        assert self._loaded is not None and self._pieces is not None
        each = checked(prompts, params, self._loaded.n_ctx)
        self._last_stats = None
        self._batch_ended = ended if ended is not None else set()
        run = BatchRun(ll, self._model, self._vocab, self._pieces, self._loaded, self.batch_width,
                       stop or threading.Event(), self._batch_ended, self._batch_done)
        return run.items(prompts, each)

    def end_sequence(self, index: int) -> None:
        self._batch_ended.add(index)

    def _batch_done(self, stats: GenerationStats) -> None:
        self._last_stats = stats

    def next_token_logprobs(self, tokens: list[int]) -> Any:
        """Log-probabilities of every next token at every position (numpy, n x n_vocab).

        Used by the quantization comparison (KL divergence against a reference). Evaluates
        ``tokens`` from an empty cache in one batch with logits for every position.
        """
        ll = self._require()
        assert self._loaded is not None
        limit = min(N_BATCH, self._loaded.n_ctx - 1)
        if not tokens or len(tokens) > limit:
            raise EngineError(f"between 1 and {limit} tokens are needed for this context size")
        self._trim_cache(0)
        try:
            return all_logprobs(ll, self._ctx, self._vocab, tokens)
        finally:
            self._tokens = []

    def _arm_abort(self, armed: bool) -> None:
        """Install the abort callback only while a prompt is evaluated: it runs per graph node."""
        self._ll.llama_set_abort_callback(self._ctx, self._abort_cb if armed else self._null_abort_cb, None)

    def _restore_saved(self, tokens: list[int]) -> tuple[bool, float]:
        """Load the saved state that begins ``tokens`` when it holds much more than the cache does.

        Returns (restored, seconds spent). A state llama.cpp refuses is deleted and the
        cache left empty: the prompt is then evaluated in full, as without a store.
        """
        store = self._store
        if store is None:
            return False, 0.0
        match = store.best(tokens, at_least=max(MIN_TOKENS, common_prefix(self._tokens, tokens) + MIN_TOKENS))
        if match is None:
            return False, 0.0
        started = time.perf_counter()
        self._trim_cache(0)
        if not load_state(self._ll, self._ctx, store, match):
            self._trim_cache(0)
            return False, time.perf_counter() - started
        self._tokens = match.tokens
        return True, time.perf_counter() - started

    def _save_state(self) -> None:
        """Hand the sequence's state to the store, which writes it later (never for a short chat)."""
        if self._store is not None and len(self._tokens) >= SAVE_MIN_TOKENS:
            save_state(self._ll, self._ctx, self._store, self._tokens)

    def _reuse_prefix(self, tokens: list[int]) -> int:
        """Keep the cached tokens shared with ``tokens``; drop the rest from the KV cache."""
        reused = common_prefix(self._tokens, tokens)
        if reused == len(tokens):
            reused -= 1  # at least one token must be evaluated to get fresh logits
        if reused < len(self._tokens) and not self._trim_cache(reused):
            self._trim_cache(0)
            reused = 0
        return reused

    def _trim_cache(self, keep: int) -> bool:
        """Remove KV entries from position ``keep`` on; False if llama.cpp can't."""
        ll = self._ll
        mem = ll.llama_get_memory(self._ctx)
        if keep == 0:
            ll.llama_memory_clear(mem, True)
            self._tokens = []
            return True
        ok = bool(ll.llama_memory_seq_rm(mem, -1, keep, -1))
        if ok:
            del self._tokens[keep:]
        return ok

    def _require(self) -> Any:
        if self._ctx is None or self._ll is None:
            raise EngineError("No model is loaded.")
        return self._ll
