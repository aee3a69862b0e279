"""Engine benchmark: Kestrel's engine (in its child process) against a bare ctypes loop, and prefix reuse.

Prints, in one run on the same model file and thread count:
- decode tokens/s of Kestrel's engine as the app runs it: ``ProcessEngine`` streaming from
  its child process (detokenizing, stop strings, stats, progress, every delta across the
  pipe), and of a bare llama.cpp decode loop in this process (sample + decode, nothing
  else), and their ratio. Runs alternate A/B (never at the same time) and the median of
  each is compared.
- time to first token of a first turn with ~2,000 tokens of history against the
  follow-up turn that reuses it from the KV cache, and their ratio.
- resident memory of the engine's process after a reply.

Usage: python bench/engine.py [--model PATH] [--threads N] [--tokens N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engines.contract import ChatMessage, GenerationParams, LocalModel
from app.engines.llama import native
from app.engines.llama.engine import LlamaEngine
from app.engines.llama.opening import default_threads
from app.engines.process.engine import ProcessEngine
from app.models.starter import ensure_starter_model

PROMPT = [ChatMessage("user", "Write a long, detailed story about a kestrel that lives in an old lighthouse.")]


def process_cpu_s() -> float:
    """CPU seconds this process (not the engine's child) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def kestrel_decode(engine: ProcessEngine, tokens: list[int], n_tokens: int) -> tuple[float, int]:
    """Kestrel's full streaming path (sampling chain, UTF-8 and stop handling, stats, progress,
    the pipe) on exactly the prompt tokens the bare loop gets, so both decode the same greedy
    sequence. Decode speed is timed in the child from first to last token, as the app shows it.
    Speculative decoding is off: this measures the loop's own cost against the bare loop's
    (bench/speculative.py measures what drafting adds)."""
    params = GenerationParams(max_tokens=n_tokens, temperature=0.0, speculative="off")
    for _ in engine.stream_tokens(tokens, params, on_progress=lambda _live: None):
        pass
    stats = engine.last_stats
    assert stats is not None and stats.decode_tps is not None
    return stats.decode_tps, stats.completion_tokens


def bare_decode(engine: LlamaEngine, tokens: list[int], n_tokens: int) -> tuple[float, int]:
    """The least a decode loop can do through the same bindings: greedy sample + decode."""
    ll, ctx = native.lib(), engine._ctx
    engine._trim_cache(0)
    arr = (ll.llama_token * len(tokens))(*tokens)
    assert ll.llama_decode(ctx, ll.llama_batch_get_one(arr, len(tokens))) == 0
    sampler = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
    ll.llama_sampler_chain_add(sampler, ll.llama_sampler_init_greedy())
    vocab = ll.llama_model_get_vocab(engine._model)
    one = (ll.llama_token * 1)()
    batch = ll.llama_batch_get_one(one, 1)
    count = 0
    t_first = t_last = 0.0
    try:
        while count < n_tokens:
            token = ll.llama_sampler_sample(sampler, ctx, -1)
            if ll.llama_vocab_is_eog(vocab, token):
                break
            t_last = time.perf_counter()
            if count == 0:
                t_first = t_last
            count += 1
            if count >= n_tokens:
                break
            one[0] = token
            assert ll.llama_decode(ctx, batch) == 0
    finally:
        ll.llama_sampler_free(sampler)
        engine._tokens = []
        engine._trim_cache(0)
    return (count - 1) / (t_last - t_first), count


def history_messages(engine: ProcessEngine, target_tokens: int) -> list[ChatMessage]:
    """A conversation of about ``target_tokens`` tokens, ending with a user turn."""
    messages = [ChatMessage("system", "You are Kestrel, a helpful assistant.")]
    i = 0
    while engine.count_tokens(messages) < target_tokens - 120:
        messages.append(ChatMessage("user", f"Tell me fact number {i} about birds of prey and their habits."))
        messages.append(ChatMessage("assistant", " ".join(
            f"Kestrels hover over fields and hunt voles; observation {i}.{j} shows how keen their eyes are."
            for j in range(5))))
        i += 1
    messages.append(ChatMessage("user", "Summarise what we discussed."))
    return messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gpu-layers", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model = args.model or ensure_starter_model()
    # no saved conversation states: every round must evaluate its prompt as the first one did
    spec = LocalModel(path=model, n_ctx=4096, n_threads=args.threads, n_gpu_layers=args.gpu_layers,
                      state_budget_mb=0)
    engine = ProcessEngine()
    loaded = engine.load(spec)
    bare = LlamaEngine()  # the same model in this process, for the bare loop
    bare.load(spec)
    tokens, _ = engine.prompt_tokens(PROMPT)
    assert tokens == bare.prompt_tokens(PROMPT)[0]

    kestrel_decode(engine, tokens, 16)  # warm-up: first graph allocation is slow
    bare_decode(bare, tokens, 16)
    kestrel_runs: list[float] = []
    bare_runs: list[float] = []
    counts: list[int] = []
    parent_cpu_s = kestrel_wall_s = 0.0
    for _ in range(args.rounds):
        cpu_before, wall_before = process_cpu_s(), time.perf_counter()
        tps, n = kestrel_decode(engine, tokens, args.tokens)
        parent_cpu_s += process_cpu_s() - cpu_before  # what reading the pipe costs this process
        kestrel_wall_s += time.perf_counter() - wall_before
        kestrel_runs.append(tps)
        counts.append(n)
        tps, n = bare_decode(bare, tokens, args.tokens)
        bare_runs.append(tps)
        counts.append(n)
    k, b = statistics.median(kestrel_runs), statistics.median(bare_runs)
    pair_ratio = statistics.median(x / y for x, y in zip(kestrel_runs, bare_runs, strict=True))

    bare.unload()
    history = history_messages(engine, 2000)
    params = GenerationParams(max_tokens=16, temperature=0.0)
    reply = "".join(engine.stream(history, params))
    first = engine.last_stats
    history += [ChatMessage("assistant", reply), ChatMessage("user", "And which bird hovers best?")]
    list(engine.stream(history, params))
    follow = engine.last_stats
    assert first is not None and follow is not None
    assert first.ttft_s is not None and follow.ttft_s is not None

    result = {
        "model": loaded.name, "quant": loaded.quant, "backend": loaded.backend,
        "gpu_layers": loaded.gpu_layers, "threads": args.threads,
        "engine_process_rss_mb": None if follow.engine_rss_bytes is None else round(follow.engine_rss_bytes / 2**20, 1),
        "first_turn_evaluated_tokens": first.evaluated_tokens,
        "kestrel_decode_tps": round(k, 2), "bare_decode_tps": round(b, 2),
        "decode_ratio": round(k / b, 3), "decode_pair_ratio_median": round(pair_ratio, 3),
        "parent_cpu_share_while_streaming": round(parent_cpu_s / kestrel_wall_s, 4),
        "kestrel_runs": [round(x, 2) for x in kestrel_runs], "bare_runs": [round(x, 2) for x in bare_runs],
        "tokens_per_run": counts,
        "history_prompt_tokens": first.prompt_tokens,
        "first_turn_ttft_s": round(first.ttft_s, 4), "follow_up_ttft_s": round(follow.ttft_s, 4),
        "follow_up_cached_tokens": follow.cached_tokens, "follow_up_evaluated_tokens": follow.evaluated_tokens,
        "ttft_ratio": round(follow.ttft_s / first.ttft_s, 4),
    }
    engine.unload()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"model {loaded.name} {loaded.quant} on {loaded.backend} ({loaded.gpu_layers} GPU layers), "
          f"{args.threads} threads")
    rss = "unknown" if follow.engine_rss_bytes is None else f"{follow.engine_rss_bytes / 2**20:.0f} MiB"
    print(f"engine process RSS after a reply: {rss}")
    print(f"decode: Kestrel {k:.2f} tok/s, bare loop {b:.2f} tok/s, ratio {k / b:.3f} "
          f"(median of {args.rounds} alternating runs of up to {args.tokens} tokens); "
          f"median of the adjacent-pair ratios {pair_ratio:.3f}")
    print(f"this process's CPU while Kestrel's child streamed: {parent_cpu_s / kestrel_wall_s:.1%} of one core")
    print(f"TTFT with {first.prompt_tokens} prompt tokens: first turn {first.ttft_s * 1000:.0f} ms, "
          f"follow-up {follow.ttft_s * 1000:.0f} ms ({follow.cached_tokens} cached, "
          f"{follow.evaluated_tokens} evaluated), ratio {follow.ttft_s / first.ttft_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
