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

import ctypes
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.base.speed import RollingRate, rate
from app.engines.contract import (
    ChatMessage,
    ContextOverflowError,
    EngineError,
    GenerationParams,
    GenerationStats,
    LiveStats,
    LoadCancelled,
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
from app.engines.llama.chat_format import ChatFormatter, TemplateError
from app.engines.llama.loadplan import auto_layers, describe_change, is_memory_failure, plan
from app.engines.llama.logprobs import all_logprobs
from app.engines.llama.sampling import make_sampler
from app.engines.llama.states.llama_io import load_state, open_store, save_state
from app.engines.llama.states.store import MIN_TOKENS, KVStore, common_prefix
from app.engines.llama.textstream import LeadingSpaceTrimmer, StopBuffer, Utf8Stream
from app.gguf.memory import machine_memory
from app.gguf.reader import GGUFError, GGUFInfo, read_gguf_info

CTX_ALIGN = 256  # llama.cpp pads n_ctx to 256; keeping ours aligned keeps prefix math exact
N_BATCH = 512
PROGRESS_INTERVAL_S = 0.25
TEMPLATE_DEADLINE_S = 2.0  # a chat template renders in milliseconds; one that runs longer is refused
ABORTED = 2  # llama_decode's return code when the abort callback said stop
SAVED_REASONS = frozenset({"eos", "stop", "length", "context"})  # replies whose state is worth keeping
SAVE_MIN_TOKENS = 256  # shorter conversations are read again faster than their state is written and read


def round_ctx(n_ctx: int) -> int:
    """Round a context size up to a multiple of 256 (at least 256)."""
    return max(CTX_ALIGN, -(-n_ctx // CTX_ALIGN) * CTX_ALIGN)


def default_threads() -> int:
    """Decode threads: every core on small machines, half the logical CPUs on big ones."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    return n if n <= 4 else max(4, n // 2)


class _OutOfMemoryError(Exception):
    """A load attempt ran out of memory; the engine may retry with less."""


class LlamaEngine(TokenEngine, LogprobEngine):
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
        self._piece_buf = ctypes.create_string_buffer(256)
        self._one_token: Any = None
        self._store: KVStore | None = None
        self._cache_layout: tuple[int, int, int, bool] = (0, 0, 0, False)  # type_k, type_v, flash attn, swa_full

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
                gpu_layers, backend = self._open(path, layers, ctx_size, params, on_progress=on_progress, cancel=cancel)
            except _OutOfMemoryError as failure:
                last_reason = str(failure)
                continue
            adjustments = tuple(describe_change(attempts[0], (layers, ctx_size), last_reason)) if last_reason else ()
            break
        else:
            raise EngineError(f"Not enough memory to load {path.name}, even on the CPU with a "
                              f"{attempts[-1][1]:,}-token context: {last_reason}")
        ll = self._ll
        self._vocab = ll.llama_model_get_vocab(self._model)
        self._abort_cb = ll.ggml_abort_callback(lambda _data: self._abort.is_set())
        self._null_abort_cb = ll.ggml_abort_callback()  # NULL: no per-node Python call while decoding
        self._one_token = (ll.llama_token * 1)()
        self._info = info
        self._tokens = []
        bos = self._piece_text(ll.llama_vocab_bos(self._vocab), special=True)
        eos = self._piece_text(ll.llama_vocab_eos(self._vocab), special=True)
        self._formatter = ChatFormatter(info.chat_template, bos_token=bos, eos_token=eos)
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

    def _open(self, path: Path, layers: int, n_ctx: int, params: LocalModel, *,
              on_progress: LoadProgress | None, cancel: threading.Event | None) -> tuple[int, str]:
        """One load attempt: model, context, a one-token warm-up decode. Cleans up on failure."""
        ll = self._ll
        native.clear_log()
        mparams = ll.llama_model_default_params()
        mparams.n_gpu_layers = layers
        if on_progress is not None or cancel is not None:

            def _progress(fraction: float, _user: ctypes.c_void_p) -> bool:
                if on_progress is not None:
                    on_progress(float(fraction))
                return not (cancel is not None and cancel.is_set())  # False makes llama.cpp give up

            self._progress_cb = ll.llama_progress_callback(_progress)
            mparams.progress_callback = self._progress_cb
        model = ll.llama_model_load_from_file(str(path).encode("utf-8"), mparams)
        if cancel is not None and cancel.is_set():
            if model:
                ll.llama_model_free(model)
            raise LoadCancelled(f"Loading {path.name} was cancelled.")
        if not model:
            reason = native.failure_reason() or "llama.cpp gave no reason"
            if is_memory_failure(reason):
                raise _OutOfMemoryError(reason)
            raise EngineError(f"Could not load model {path.name}: {reason}")
        gpu_layers, gpu_backend = native.offload_from_log()
        threads = params.n_threads or default_threads()
        cparams = ll.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = min(N_BATCH, n_ctx)
        cparams.n_ubatch = min(N_BATCH, n_ctx)
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.no_perf = True
        if params.flash_attn is not None:
            cparams.flash_attn_type = (
                ll.LLAMA_FLASH_ATTN_TYPE_ENABLED if params.flash_attn else ll.LLAMA_FLASH_ATTN_TYPE_DISABLED
            )
        self._cache_layout = (int(cparams.type_k), int(cparams.type_v), int(cparams.flash_attn_type),
                              bool(cparams.swa_full))
        ctx = ll.llama_init_from_model(model, cparams)
        if not ctx:
            ll.llama_model_free(model)
            raise _OutOfMemoryError(native.failure_reason() or f"no context of {n_ctx:,} tokens could be created")
        self._model, self._ctx = model, ctx
        # The first decode allocates the rest of the compute graph: fail here, not at the first message.
        warm = (ll.llama_token * 1)(max(0, ll.llama_vocab_bos(ll.llama_model_get_vocab(model))))
        rc = ll.llama_decode(ctx, ll.llama_batch_get_one(warm, 1))
        ll.llama_memory_clear(ll.llama_get_memory(ctx), True)
        if rc != 0:
            reason = native.failure_reason() or f"the first decode failed (code {rc})"
            self.unload()
            raise _OutOfMemoryError(reason)
        return gpu_layers, (gpu_backend or "GPU") if gpu_layers > 0 else "CPU"

    @property
    def state_store(self) -> KVStore | None:
        """Where replies' KV states are saved (None when off)."""
        return self._store

    def unload(self) -> None:
        """Free the context and the model (safe to call twice); waits for queued state writes."""
        if self._store is not None:
            self._store.close()
            self._store = None
        ll = self._ll
        if ll is not None:
            if self._ctx:
                ll.llama_free(self._ctx)
            if self._model:
                ll.llama_model_free(self._model)
        self._ctx = self._model = self._vocab = None
        self._loaded = None
        self._info = None
        self._tokens = []

    def close(self) -> None:
        """Alias of unload, for ``contextlib.closing``."""
        self.unload()

    # ---- tokens ----------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """Text to tokens with the model's vocabulary."""
        ll = self._require()
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (ll.llama_token * capacity)()
        n = ll.llama_tokenize(self._vocab, data, len(data), buf, capacity, add_special, parse_special)
        if n < 0:
            capacity = -n
            buf = (ll.llama_token * capacity)()
            n = ll.llama_tokenize(self._vocab, data, len(data), buf, capacity, add_special, parse_special)
        if n < 0:
            raise EngineError("the text could not be tokenized")
        return list(buf[:n])

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

    def _piece(self, token: int, special: bool = False) -> bytes:
        ll = self._ll
        n = ll.llama_token_to_piece(self._vocab, token, self._piece_buf, len(self._piece_buf), 0, special)
        if n < 0:
            self._piece_buf = ctypes.create_string_buffer(-n)
            n = ll.llama_token_to_piece(self._vocab, token, self._piece_buf, len(self._piece_buf), 0, special)
        return self._piece_buf.raw[:n]

    def _piece_text(self, token: int, special: bool) -> str:
        if token < 0:
            return ""
        return self._piece(token, special).decode("utf-8", errors="replace")

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
        sampler = None
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

            # -- decode: sample, show, evaluate, one token at a time --
            sampler = make_sampler(self._ll, self._vocab, params)
            vocab = self._vocab
            one = self._one_token
            batch = ll.llama_batch_get_one(one, 1)
            while True:
                if stop.is_set():
                    reason = "cancelled"
                    break
                token = ll.llama_sampler_sample(sampler, ctx, -1)
                if ll.llama_vocab_is_eog(vocab, token):
                    reason = "eos"
                    break
                t_last = time.perf_counter()
                if completion == 0:
                    t_first = t_last
                completion += 1
                rolling.add(t_last)
                text = trim.feed(stopper.feed(utf8.feed(self._piece(token))))
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
                one[0] = token
                rc = ll.llama_decode(ctx, batch)
                if rc != 0:
                    raise EngineError(f"llama.cpp failed while generating (code {rc}); "
                                      + (native.failure_reason() or "it may be out of memory"))
                self._tokens.append(token)
                if on_progress is not None and t_last >= next_report:
                    next_report = t_last + PROGRESS_INTERVAL_S
                    on_progress(LiveStats("decode", len(tokens), len(to_eval), len(to_eval), completion,
                                          t_last - started, rolling.value()))
            tail = trim.feed(stopper.feed(utf8.flush()))
            tail += stopper.flush()
            if tail:
                yield tail
            finished = True
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
            )
            if finished and reason in SAVED_REASONS and params.save_state:
                self._save_state()

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
