"""Speculative decoding: decode speed with and without drafting, on copy-heavy tasks and one with no overlap.

Prints, in one run on the same model and thread count, for each task: plain decode tokens/s
(``speculative="off"``), drafted decode tokens/s (``--mode``, default "auto": prompt lookup that
switches itself off when it does not pay), their ratio, the acceptance rate, and whether the
greedy outputs are identical. Decode speed is the engine's own figure: (completion tokens - 1)
over the time from the first token to the last, so prefill is not part of it. Each task runs
``--rounds`` times each way, alternating, and the medians are compared.

Tasks (the starter model is a base model, so each is a text it continues by copying):
- quotes: an article, then "Quotes from the article, word for word:";
- edits: a paragraph, then a corrected version that starts copying it with small edits;
- code: a Python file, then the same file with one function renamed, started;
- no-overlap: an open-ended story with nothing in the prompt to copy, with a repeat penalty of 1.3
  (without one the starter model soon loops on its own words, which is something to copy).

Usage: python bench/speculative.py [--model PATH] [--draft PATH] [--mode auto|ngram|draft] [--threads N]
       [--tokens N] [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engines.contract import GenerationParams, GenerationStats, LocalModel, Speculation
from app.engines.llama.engine import LlamaEngine
from app.engines.llama.opening import default_threads
from app.models.starter import ensure_starter_model

ARTICLE = (
    "The city council met on Tuesday to discuss the new river park. The mayor said the park would open "
    "next spring, with walking paths along both banks and a small harbour for rowing boats. Residents asked "
    "about parking, and the planning office promised two hundred new spaces near the old mill. A local "
    "teacher said the children of the east district had waited ten years for a green space of their own. "
    "The budget for the first phase is four million euros, paid partly by the region and partly by a "
    "national fund for urban nature. Work on the paths starts in March; the harbour follows in the summer. "
)
PARAGRAPH = (
    "Our team have finished the migration of the billing service last week. Every customers account was "
    "moved to the new database without downtime, and the old servers will be switch off at the end of the "
    "month. Please report any invoice that look wrong to the support channel, so we can fixing it quickly. "
    "We thanks everyone who helped with the testing, specially the finance team, whose checks found three "
    "rounding errors before release."
)
CODE = '''import json
from pathlib import Path


def load_settings(path: Path) -> dict[str, object]:
    """Read the settings file, or return the defaults when it is missing."""
    if not path.exists():
        return {"theme": "system", "language": "en", "font_size": 12}
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    return {"theme": data.get("theme", "system"), "language": data.get("language", "en"),
            "font_size": int(data.get("font_size", 12))}


def save_settings(path: Path, settings: dict[str, object]) -> None:
    """Write the settings atomically, so a crash never leaves half a file."""
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(settings, handle, indent=2, sort_keys=True)
    temporary.replace(path)


def reset_settings(path: Path) -> None:
    """Remove the settings file so the next start uses the defaults."""
    if path.exists():
        path.unlink()
'''

TASKS = {
    "quotes": f"{ARTICLE * 2}\nQuotes from the article, word for word:\n\"The mayor said",
    "edits": f"Original:\n{PARAGRAPH}\n\nCorrected version with the grammar fixed:\nOur team has finished",
    "code": f"```python\n{CODE}```\n\nThe same code with `load_settings` renamed to `read_settings`:\n\n"
            "```python\nimport json\n",
    "no-overlap": "Chapter one. The lighthouse keeper had not seen a ship in eleven days when",
}
COPY_TASKS = ("quotes", "edits", "code")


REPEAT_PENALTY = {"no-overlap": 1.3}


def run(engine: LlamaEngine, prompt: list[int], tokens: int, mode: Speculation,
        repeat_penalty: float = 1.0) -> tuple[str, GenerationStats]:
    params = GenerationParams(max_tokens=tokens, temperature=0.0, speculative=mode, save_state=False,
                              repeat_penalty=repeat_penalty)
    text = "".join(engine.stream_tokens(prompt, params))
    stats = engine.last_stats
    assert stats is not None
    return text, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--draft", type=Path, help="a draft GGUF (enables --mode draft)")
    parser.add_argument("--mode", choices=("auto", "ngram", "draft"), default="auto")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model = args.model or ensure_starter_model()
    engine = LlamaEngine()
    engine.load(LocalModel(path=model, n_ctx=4096, n_threads=args.threads, n_gpu_layers=0, state_budget_mb=0,
                           draft_model=args.draft))
    rows = []
    try:
        for name, text in TASKS.items():
            prompt = engine.tokenize(text)
            plain: list[float] = []
            drafted: list[float] = []
            same = True
            accepted = proposed = 0
            for _ in range(args.rounds):
                penalty = REPEAT_PENALTY.get(name, 1.0)
                base_text, base = run(engine, prompt, args.tokens, "off", penalty)
                spec_text, spec = run(engine, prompt, args.tokens, args.mode, penalty)
                plain.append(base.decode_tps or 0.0)
                drafted.append(spec.decode_tps or 0.0)
                same = same and base_text == spec_text
                proposed += spec.drafted_tokens or 0
                accepted += spec.accepted_tokens or 0
            row = {"task": name, "plain_tps": statistics.median(plain), "drafted_tps": statistics.median(drafted),
                   "drafted": proposed // args.rounds, "accepted": accepted // args.rounds,
                   "acceptance": accepted / proposed if proposed else None, "greedy_identical": same,
                   "prompt_tokens": len(prompt), "completion_tokens": base.completion_tokens}
            row["ratio"] = row["drafted_tps"] / row["plain_tps"] if row["plain_tps"] else None
            rows.append(row)
    finally:
        engine.unload()
    if args.json:
        print(json.dumps({"model": model.name, "threads": args.threads, "mode": args.mode, "tasks": rows}))
        return 0
    print(f"model {model.name}, {args.threads} threads, mode {args.mode}, {args.tokens} tokens, "
          f"median of {args.rounds} rounds")
    print(f"{'task':<11} {'plain tok/s':>11} {'drafted tok/s':>13} {'ratio':>6} {'drafted':>8} {'accepted':>9} "
          f"{'rate':>5}  greedy identical")
    for row in rows:
        rate = f"{row['acceptance']:.0%}" if row["acceptance"] is not None else "-"
        print(f"{row['task']:<11} {row['plain_tps']:>11.1f} {row['drafted_tps']:>13.1f} {row['ratio']:>6.2f} "
              f"{row['drafted']:>8} {row['accepted']:>9} {rate:>5}  {'yes' if row['greedy_identical'] else 'NO'}")
    copy = [row["ratio"] for row in rows if row["task"] in COPY_TASKS]
    print(f"copy-heavy tasks: decode speed x{min(copy):.2f} to x{max(copy):.2f} of plain; "
          f"no-overlap task: x{rows[-1]['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
