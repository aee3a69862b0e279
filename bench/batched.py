"""Several sequences per decode: whole-document summary and document translation, serial against batched.

Prints, in one run on the same model, thread count and documents, with the engine in its
child process as the app runs it:
- a whole-document summary (map over every chunk, then the combined summary) of a generated
  document of ``--chunks`` chunks, with one sequence at a time (``parallel_sequences=1``) and
  with the automatic width (or ``--width``);
- a document translation (English to French) of ``--segments`` paragraphs, the same two ways;
each with its wall time, the tokens generated, the decode-phase speed (tokens produced per
second while only decoding: one reply's first to last token one at a time, the steps that
read no prompt when batched) and whether the output is the same; then the serial/batched
ratios. Nothing is cached between the runs; each mode runs ``--rounds`` times, alternating,
and the medians are compared.

Usage: python bench/batched.py [--model PATH] [--threads N] [--width N] [--chunks N] [--segments N] [--rounds N]
       [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.documents.extract import extract_text
from app.engines.contract import BatchItem, ChatMessage, GenerationParams, GenerationStats, LocalModel
from app.engines.llama.opening import default_threads
from app.engines.process.engine import ProcessEngine
from app.models.starter import ensure_starter_model
from app.summarize.cache import SummaryCache
from app.summarize.options import SummaryOptions
from app.summarize.plan import plan_summary
from app.summarize.run import summarize
from app.translate.runner import translate_document

SUBJECTS = ["the kestrel", "the river delta", "the old lighthouse", "the copper mine", "the tea road", "the glassworks",
            "the orchard", "the harbour", "the observatory", "the salt marsh"]
VERBS = ["describes", "explains", "records", "questions", "compares", "follows", "measures", "recalls"]
OBJECTS = ["the seasons of the year", "the people who worked there", "a long dispute over water",
           "the first survey of the land", "a storm that changed the coast", "the trade in wool and salt",
           "the routes of migrating birds", "how prices rose and fell", "the lamps and their keepers"]


class NoCache(SummaryCache):
    """Every chunk is really summarized, in both runs."""

    def get(self, key: str, name: str) -> str | None:
        return None

    def put(self, key: str, name: str, text: str) -> None:
        return None


class Recorded(ProcessEngine):
    """The app's engine, keeping every request's figures (a batched run's as one)."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[GenerationStats] = []

    def _kept(self, items: Iterator[Any]) -> Iterator[Any]:
        try:
            yield from items
        finally:
            if self.last_stats is not None:
                self.figures.append(self.last_stats)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams, stop: Any = None,
               on_progress: Any = None) -> Iterator[str]:
        return self._kept(super().stream(messages, params, stop, on_progress))

    def stream_tokens(self, tokens: list[int], params: GenerationParams, **options: Any) -> Iterator[str]:
        return self._kept(super().stream_tokens(tokens, params, **options))

    def stream_batch(self, prompts: Sequence[Any], params: Any, stop: Any = None) -> Iterator[BatchItem]:
        return self._kept(super().stream_batch(prompts, params, stop))


@dataclass
class Run:
    seconds: float
    generated: int  # tokens generated, all requests
    decode_tokens: float  # tokens produced while only decoding
    decode_s: float
    output: object
    requests: int

    @property
    def decode_tps(self) -> float:
        return self.decode_tokens / self.decode_s if self.decode_s else 0.0


def measure(engine: Recorded, work: Callable[[Recorded], object]) -> Run:
    engine.figures.clear()
    started = time.perf_counter()
    output = work(engine)
    seconds = time.perf_counter() - started
    figures = list(engine.figures)
    decode_tokens = sum((f.decode_tps or 0.0) * (f.decode_s or 0.0) for f in figures)
    return Run(seconds, sum(f.completion_tokens for f in figures), decode_tokens,
               sum(f.decode_s or 0.0 for f in figures), output, len(figures))


def make_document(approx_tokens: int, seed: int = 7) -> str:
    """Varied English prose with headings, about ``approx_tokens`` tokens long (as bench/summarize.py)."""
    rng = random.Random(seed)
    parts: list[str] = []
    tokens = section = 0
    while tokens < approx_tokens:
        section += 1
        subject = SUBJECTS[section % len(SUBJECTS)]
        parts.append(f"## {section}. On {subject}")
        for _ in range(rng.randint(3, 6)):
            paragraph = " ".join(f"{rng.choice(['This chapter', 'The account', 'A letter', 'The survey'])} "
                                 f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} near {subject}, "
                                 f"in the year {rng.randint(1700, 1950)}." for _ in range(rng.randint(4, 8)))
            parts.append(paragraph)
            tokens += len(paragraph) // 4
    return "\n\n".join(parts)


def make_paragraphs(count: int, seed: int = 11) -> str:
    """``count`` short English paragraphs (two or three sentences each) to translate."""
    rng = random.Random(seed)
    return "\n\n".join(" ".join(f"{rng.choice(['The keeper', 'A farmer', 'The old map', 'Her letter'])} "
                                f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} near {rng.choice(SUBJECTS)}."
                                for _ in range(rng.randint(2, 3))) for _ in range(count))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="GGUF file (default: the starter model)")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--width", type=int, default=0, help="sequences at once when batched (default: automatic)")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--chunks", type=int, default=10, help="chunks the document to summarize fills")
    parser.add_argument("--segments", type=int, default=24, help="paragraphs of the document to translate")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model = args.model or ensure_starter_model()
    engines = {}
    for mode, width in (("serial", 1), ("batched", args.width)):
        engine = Recorded()
        engine.load(LocalModel(path=model, n_ctx=args.n_ctx, n_threads=args.threads, n_gpu_layers=0,
                               state_budget_mb=0, parallel_sequences=width))
        for _ in engine.stream([ChatMessage("user", make_document(600, seed=99))], GenerationParams(max_tokens=4)):
            pass  # warm: weights paged in, buffers sized
        engines[mode] = engine
    loaded = engines["serial"].loaded
    assert loaded is not None
    width = engines["batched"].batch_width
    doc = extract_text(make_document(int(args.chunks * (args.n_ctx - 200) * 0.85)), name="bench.md")
    plan = plan_summary(engines["serial"], doc, SummaryOptions())
    text = make_paragraphs(args.segments)
    tasks: dict[str, Callable[[Recorded], object]] = {
        "summary": lambda e: summarize(e, doc, SummaryOptions(), cache=NoCache()).summary,
        "translation": lambda e: translate_document(e, text, "fr", "en").translations,
    }
    runs: dict[tuple[str, str], list[Run]] = {}
    for _ in range(args.rounds):
        for task, work in tasks.items():
            for mode, engine in engines.items():
                runs.setdefault((task, mode), []).append(measure(engine, work))
    for engine in engines.values():
        engine.unload()

    def med(task: str, mode: str, field: str) -> float:
        return float(statistics.median(getattr(r, field) for r in runs[(task, mode)]))

    rows = []
    for task in tasks:
        s_wall, b_wall = med(task, "serial", "seconds"), med(task, "batched", "seconds")
        s_tps, b_tps = med(task, "serial", "decode_tps"), med(task, "batched", "decode_tps")
        same = all(a.output == b.output for a, b in zip(runs[(task, "serial")], runs[(task, "batched")], strict=True))
        rows.append({"task": task, "serial_s": round(s_wall, 2), "batched_s": round(b_wall, 2),
                     "wall_ratio": round(s_wall / b_wall, 3), "serial_decode_tps": round(s_tps, 1),
                     "batched_decode_tps": round(b_tps, 1), "decode_ratio": round(b_tps / s_tps, 3) if s_tps else None,
                     "serial_tokens": runs[(task, "serial")][-1].generated,
                     "batched_tokens": runs[(task, "batched")][-1].generated,
                     "serial_requests": runs[(task, "serial")][-1].requests,
                     "batched_requests": runs[(task, "batched")][-1].requests, "same_output": same})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    result = {"model": loaded.name, "quant": loaded.quant, "backend": loaded.backend, "threads": args.threads,
              "width": width, "chunks": plan.chunk_count, "segments": args.segments, "rounds": args.rounds,
              "load_average": round(load, 2), "tasks": rows}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"model {loaded.name} {loaded.quant} on {loaded.backend}, {args.threads} threads, n_ctx {loaded.n_ctx}; "
          f"batched: {width} sequences at once{' (automatic)' if not args.width else ''}; medians of {args.rounds}")
    print(f"summary: {plan.chunk_count} chunks, {plan.total_tokens:,} tokens, map answers <= {plan.map_tokens} tokens; "
          f"translation: {args.segments} paragraphs, English to French")
    print(f"{'task':<12} {'mode':<8} {'wall s':>8} {'tokens':>7} {'requests':>8} {'decode tok/s':>13}")
    for row in rows:
        for mode in ("serial", "batched"):
            print(f"{row['task']:<12} {mode:<8} {row[f'{mode}_s']:>8.2f} {row[f'{mode}_tokens']:>7} "
                  f"{row[f'{mode}_requests']:>8} {row[f'{mode}_decode_tps']:>13.1f}")
    for row in rows:
        print(f"{row['task']}: wall time serial/batched {row['wall_ratio']:.2f}x, decode-phase tokens/s "
              f"batched/serial {row['decode_ratio']}x, same output: {'yes' if row['same_output'] else 'no'}")
    if load > 3:
        print(f"note: the machine was busy (load {load:.1f}); other processes share its cores")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
