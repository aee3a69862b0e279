"""Saved conversation states: time to first token with ~2,000 tokens of history, four ways.

Prints, in one run on the same model and thread count, with the engine in its child
process as the app runs it:
- first turn: the whole history evaluated;
- warm follow-up: the next turn while the KV cache still holds the conversation;
- after switching: another long chat took the cache, then the first chat's next turn
  (its state is restored from the store);
- after a restart: a new engine process, the chat's next turn (restored from disk);
and the ratios restored / first and restored / warm (medians of ``--rounds`` of each but
the first turn), the restore time, and the disk bytes per saved state. The store lives
in a temporary KESTREL_HOME, so nothing of the user's is read or written.

Usage: python bench/kv_restore.py [--model PATH] [--threads N] [--history N] [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engines.contract import ChatMessage, GenerationParams, GenerationStats, LocalModel
from app.engines.llama.opening import default_threads
from app.engines.llama.states.store import SUFFIX, read_header
from app.engines.process.engine import ProcessEngine
from app.models.starter import ensure_starter_model

PARAMS = GenerationParams(max_tokens=16, temperature=0.0)


def history(engine: ProcessEngine, target_tokens: int, topic: str) -> list[ChatMessage]:
    """A conversation about ``topic`` of about ``target_tokens`` tokens, ending with a user turn."""
    messages = [ChatMessage("system", "You are Kestrel, a helpful assistant.")]
    i = 0
    while engine.count_tokens(messages) < target_tokens - 120:
        messages.append(ChatMessage("user", f"Tell me fact number {i} about {topic}."))
        messages.append(ChatMessage("assistant", " ".join(
            f"About {topic}: observation {i}.{j} shows something new every season." for j in range(5))))
        i += 1
    messages.append(ChatMessage("user", "Summarise what we discussed."))
    return messages


def turn(engine: ProcessEngine, messages: list[ChatMessage],
         question: str) -> tuple[list[ChatMessage], GenerationStats]:
    """Reply to ``messages``; return them with the reply and ``question`` appended, and the reply's stats."""
    reply = "".join(engine.stream(messages, PARAMS))
    stats = engine.last_stats
    assert stats is not None and stats.ttft_s is not None
    return [*messages, ChatMessage("assistant", reply), ChatMessage("user", question)], stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--history", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model = args.model or ensure_starter_model()
    home = Path(tempfile.mkdtemp(prefix="kestrel-kv-bench-"))
    os.environ["KESTREL_HOME"] = str(home)  # the engine's child inherits it: a fresh, private store
    spec = LocalModel(path=model, n_ctx=4096, n_threads=args.threads, n_gpu_layers=0)
    try:
        engine = ProcessEngine()
        loaded = engine.load(spec)
        chat = history(engine, args.history, "birds of prey")
        other = history(engine, args.history, "mountain rivers")
        chat, first = turn(engine, chat, "And which bird hovers best?")
        other, _ = turn(engine, other, "And the longest one?")  # the other chat's first turn: no saved state yet
        warms: list[GenerationStats] = []
        switches: list[GenerationStats] = []
        restarts: list[GenerationStats] = []
        restart_load_s: list[float] = []
        for i in range(args.rounds):
            chat, warm = turn(engine, chat, f"Why is that, part {i}?")  # the cache still holds this chat
            other, _ = turn(engine, other, f"And then, part {i}?")  # the other chat takes the cache
            chat, switched = turn(engine, chat, f"Tell me more, part {i}.")  # restored from the store
            warms.append(warm)
            switches.append(switched)
        for i in range(args.rounds):
            engine.unload()  # the child finishes its queued write, then exits
            started = time.perf_counter()
            engine = ProcessEngine()
            engine.load(spec)
            restart_load_s.append(time.perf_counter() - started)
            chat, restarted = turn(engine, chat, f"Thanks, part {i}.")  # restored from disk
            restarts.append(restarted)
        engine.unload()
        files = sorted((home / "cache" / "kv-states").glob("*" + SUFFIX))
        sizes = [f.stat().st_size for f in files]
        tokens = [int(header["n_tokens"]) for header in map(read_header, files) if header is not None]
    finally:
        shutil.rmtree(home, ignore_errors=True)

    def ms(stats: GenerationStats) -> float:
        assert stats.ttft_s is not None
        return stats.ttft_s * 1000

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    first_ms = ms(first)
    warm_ms, switched_ms, restart_ms = (median([ms(x) for x in runs]) for runs in (warms, switches, restarts))
    per_state = sum(sizes) / len(sizes) if sizes else 0.0
    result = {
        "model": loaded.name, "quant": loaded.quant, "backend": loaded.backend, "threads": args.threads,
        "rounds": args.rounds, "history_prompt_tokens": first.prompt_tokens,
        "first_ttft_ms": round(first_ms, 1), "warm_ttft_ms": warm_ms,
        "switched_ttft_ms": switched_ms, "restart_ttft_ms": restart_ms,
        "warm_runs_ms": [round(ms(x), 1) for x in warms], "switched_runs_ms": [round(ms(x), 1) for x in switches],
        "restart_runs_ms": [round(ms(x), 1) for x in restarts],
        "restart_load_s": round(statistics.median(restart_load_s), 3),
        "warm_evaluated_tokens": [x.evaluated_tokens for x in warms],
        "switched_restored_tokens": [x.restored_tokens for x in switches],
        "switched_evaluated_tokens": [x.evaluated_tokens for x in switches],
        "restart_restored_tokens": [x.restored_tokens for x in restarts],
        "restart_evaluated_tokens": [x.evaluated_tokens for x in restarts],
        "restore_ms": median([x.restore_s * 1000 for x in switches + restarts if x.restore_s is not None] or [0.0]),
        "switched_over_first": round(switched_ms / first_ms, 4), "switched_over_warm": round(switched_ms / warm_ms, 3),
        "restart_over_first": round(restart_ms / first_ms, 4), "restart_over_warm": round(restart_ms / warm_ms, 3),
        "states_on_disk": len(sizes), "bytes_per_state": round(per_state),
        "bytes_per_token": round(sum(sizes) / max(1, sum(tokens))),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"model {loaded.name} {loaded.quant} on {loaded.backend}, {args.threads} threads, "
          f"history {first.prompt_tokens} prompt tokens; medians of {args.rounds} rounds")
    print(f"TTFT first turn          {first_ms:8.1f} ms  ({first.evaluated_tokens} evaluated)")
    print(f"TTFT warm follow-up      {warm_ms:8.1f} ms  (evaluated {result['warm_evaluated_tokens']})")
    print(f"TTFT after switching     {switched_ms:8.1f} ms  (restored {result['switched_restored_tokens']}, "
          f"evaluated {result['switched_evaluated_tokens']})")
    print(f"TTFT after a restart     {restart_ms:8.1f} ms  (restored {result['restart_restored_tokens']}, "
          f"evaluated {result['restart_evaluated_tokens']}; a new process loads in {result['restart_load_s']} s)")
    print(f"restoring a state takes {result['restore_ms']} ms (median, included in the TTFTs above)")
    print(f"ratios: switched/first {result['switched_over_first']}, switched/warm {result['switched_over_warm']}, "
          f"restart/first {result['restart_over_first']}, restart/warm {result['restart_over_warm']}")
    print(f"disk: {len(sizes)} states, {per_state / 2**20:.1f} MiB per state on average "
          f"({result['bytes_per_token']:,} bytes per token)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
