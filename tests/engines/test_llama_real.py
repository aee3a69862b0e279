"""The real engine on the real starter model: behaviour, not answer quality."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from app.engines.contract import (
    ChatMessage,
    ContextOverflowError,
    EngineError,
    GenerationParams,
    LiveStats,
    LoadCancelled,
    LocalModel,
)
from app.engines.llama.engine import LlamaEngine

pytestmark = pytest.mark.real_model

GREEDY = GenerationParams(max_tokens=48, temperature=0.0)
STORY = [ChatMessage("user", "Write a long story about a kestrel that lives in a lighthouse.")]


def _collect(engine: LlamaEngine, messages: list[ChatMessage], params: GenerationParams) -> list[str]:
    return list(engine.stream(messages, params))


def test_streaming_yields_text_and_complete_stats(real_engine: LlamaEngine) -> None:
    deltas = _collect(real_engine, STORY, GREEDY)
    stats = real_engine.last_stats
    assert stats is not None
    assert len(deltas) > 3 and "".join(deltas).strip()
    assert stats.completion_tokens >= len(deltas)
    assert stats.prompt_tokens == stats.cached_tokens + stats.evaluated_tokens
    assert 0 < stats.prefill_s <= stats.ttft_s < stats.total_s
    assert stats.decode_tps > 0 and stats.prefill_tps > 0
    assert stats.stop_reason in {"length", "eos", "stop"}
    assert stats.backend == "CPU" and stats.gpu_layers == 0
    assert stats.n_ctx == 4096 and stats.context_used > stats.prompt_tokens


def test_stop_ends_generation_within_one_token(real_engine: LlamaEngine) -> None:
    stop = threading.Event()
    seen = 0
    tokens_at_stop = 0

    def progress(live: LiveStats) -> None:
        nonlocal tokens_at_stop
        if not stop.is_set():
            tokens_at_stop = live.completion_tokens

    params = GenerationParams(max_tokens=300, temperature=0.0)
    for _delta in real_engine.stream(STORY, params, stop=stop, on_progress=progress):
        seen += 1
        if seen == 8:
            stop.set()
    stats = real_engine.last_stats
    assert stats is not None
    assert stats.stop_reason == "cancelled"
    # The stop is checked before every token: nothing is sampled after it is set.
    assert stats.completion_tokens <= seen + 1
    assert stats.completion_tokens < 300


def test_decode_speed_agrees_with_outside_measurement(real_engine: LlamaEngine) -> None:
    params = GenerationParams(max_tokens=120, temperature=0.0)
    times: list[float] = []
    # Raw tokens, no chat format: a base model keeps counting and no stop string cuts it short.
    tokens = real_engine.tokenize("1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,")
    for _delta in real_engine.stream_tokens(tokens, params):
        times.append(time.perf_counter())
    stats = real_engine.last_stats
    assert stats is not None and stats.completion_tokens > 40
    # Deltas can merge tokens (held UTF-8, leading space), so measure from outside with
    # the engine's token count over the wall time between first and last delta.
    outside = (stats.completion_tokens - 1) / (times[-1] - times[0])
    assert stats.decode_tps == pytest.approx(outside, rel=0.10)


def test_second_turn_reuses_the_first_turns_prefix(real_engine: LlamaEngine) -> None:
    history = [ChatMessage("system", "You are terse."), ChatMessage("user", "Name three birds of prey.")]
    reply = "".join(real_engine.stream(history, GREEDY))
    first = real_engine.last_stats
    assert first is not None
    history += [ChatMessage("assistant", reply), ChatMessage("user", "Which one is fastest?")]
    list(real_engine.stream(history, GREEDY))
    second = real_engine.last_stats
    assert second is not None
    assert second.cached_tokens >= first.prompt_tokens
    assert second.evaluated_tokens == second.prompt_tokens - second.cached_tokens
    assert second.evaluated_tokens < 40


def test_long_prefill_is_interrupted_quickly(real_engine: LlamaEngine) -> None:
    text = " ".join(f"Sentence number {i} is about kestrels and lighthouses." for i in range(260))
    messages = [ChatMessage("user", text)]
    assert real_engine.count_tokens(messages) > 2500
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    started = time.perf_counter()
    deltas = list(real_engine.stream(messages, GREEDY, stop=stop))
    elapsed = time.perf_counter() - started
    timer.cancel()
    stats = real_engine.last_stats
    assert stats is not None and stats.stop_reason == "cancelled"
    assert deltas == [] and stats.completion_tokens == 0
    # A full prefill of ~3,000 tokens takes 10+ s on 2 cores; the abort lands in well under 1 s.
    assert elapsed < 1.5
    # The cache is consistent afterwards: a normal turn runs and reuses what was evaluated.
    list(real_engine.stream([ChatMessage("user", "Hello")], GREEDY))
    assert real_engine.last_stats is not None and real_engine.last_stats.completion_tokens > 0


def test_prompt_longer_than_context_is_refused_before_decoding(real_engine: LlamaEngine) -> None:
    huge = [ChatMessage("user", "kestrel " * 5000)]
    with pytest.raises(ContextOverflowError) as info:
        real_engine.stream(huge, GREEDY)
    assert info.value.n_ctx == 4096
    assert "context holds 4,096" in str(info.value)


def test_chinese_is_streamed_as_whole_characters(real_engine: LlamaEngine) -> None:
    params = GenerationParams(max_tokens=40, temperature=0.0)
    messages = [ChatMessage("user", "请用中文介绍一下北京。")]
    for delta in real_engine.stream(messages, params):
        assert "\ufffd" not in delta


def test_n_ctx_is_rounded_to_a_multiple_of_256(starter_model: Path) -> None:
    engine = LlamaEngine()
    loaded = engine.load(LocalModel(path=starter_model, n_ctx=1000))
    try:
        assert loaded.n_ctx == 1024
        assert loaded.chat_format == "plain"  # the base starter model has no template
    finally:
        engine.unload()


def test_a_cancelled_load_raises_and_the_engine_loads_again(starter_model: Path) -> None:
    engine = LlamaEngine()
    spec = LocalModel(path=starter_model, n_ctx=512)
    already = threading.Event()
    already.set()
    with pytest.raises(LoadCancelled):
        engine.load(spec, cancel=already)
    assert engine.loaded is None

    # Set while llama.cpp reads the tensors: its next progress call gives up.
    cancel = threading.Event()
    fractions: list[float] = []

    def progress(fraction: float) -> None:
        fractions.append(fraction)
        cancel.set()

    with pytest.raises(LoadCancelled):
        engine.load(spec, on_progress=progress, cancel=cancel)
    assert fractions and fractions[-1] < 1.0 and engine.loaded is None

    try:
        loaded = engine.load(spec, on_progress=fractions.append, cancel=threading.Event())
        assert loaded.n_ctx == 512 and fractions[-1] == pytest.approx(1.0)
        reply = "".join(engine.stream(STORY, GenerationParams(max_tokens=8, temperature=0.0)))
        assert reply.strip() and engine.last_stats is not None and engine.last_stats.completion_tokens > 0
    finally:
        engine.unload()


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"does not exist|not found"):
        LlamaEngine().load(LocalModel(path=tmp_path / "nope.gguf"))


def test_repeat_penalty_is_applied(real_engine: LlamaEngine) -> None:
    # llama_sampler_init_penalties takes n_vocab first in this llama.cpp; a wrong call
    # used to fail every request with a repeat penalty.
    params = GenerationParams(max_tokens=24, temperature=0.0, repeat_penalty=1.3)
    penalized = "".join(real_engine.stream(STORY, params))
    plain = "".join(real_engine.stream(STORY, GenerationParams(max_tokens=24, temperature=0.0)))
    assert real_engine.last_stats is not None and penalized.strip()
    assert penalized != plain  # the penalty changes greedy output
