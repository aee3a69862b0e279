"""Quantization A/B: the same prompt and text on several variants of one model, measured here.

For each variant: load time, time to first token, prefill and decode tokens/s, memory
growth, and a quality proxy: the mean KL divergence of its next-token distributions from
those of the highest-precision variant, over a short built-in text. Then a
recommendation: the fastest variant whose quality loss stays small and that fits.

The comparison runs on the engine it is given (the window's one engine worker, or the
CLI's engine), loading one variant at a time and unloading it at the end: it never keeps
a second model in memory beside the user's. The KL divergence needs an engine that
returns log-probabilities (:class:`LogprobEngine`); with any other it is unknown.

Results are remembered per machine (keyed by each file's path, size and mtime), so the
settings page can show them without measuring again.
"""

from __future__ import annotations

import json
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.base import paths
from app.base.atomic import write_atomic
from app.engines.contract import (
    ChatMessage,
    Engine,
    EngineError,
    GenerationParams,
    LoadCancelled,
    LocalModel,
    LogprobEngine,
    TokenEngine,
)
from app.gguf.memory import current_rss, estimate
from app.gguf.reader import GGUFInfo, read_gguf_info

# Precision order: the first present is the reference for the quality proxy.
PRECISION = ["F32", "BF16", "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_0",
             "IQ4_XS", "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K"]
KL_GOOD = 0.05  # nats: below this, differences are hard to notice in practice
PROMPT = [ChatMessage("user", "Explain in a few sentences why the sky is blue.")]
REFERENCE_TEXT = (
    "The kestrel is a small bird of prey. It hunts over open fields and is famous for hovering in the "
    "wind while it watches the ground for voles and insects. When it sees something, it drops down quickly. "
    "Kestrels nest on cliffs, in old trees and on tall buildings, and in many cities they have learned to "
    "live close to people. 红隼是一种小型猛禽，常在空中悬停寻找猎物。"
)


@dataclass(frozen=True)
class VariantResult:
    """One variant's measured figures; a figure the engine could not measure is None."""

    path: str
    name: str
    quant: str
    size_bytes: int
    load_s: float
    ttft_s: float | None
    prefill_tps: float | None
    decode_tps: float | None
    # the engine process's resident memory after the reply, or (an engine in this process) the growth of
    # this process's from before the load; an estimate when neither can be measured
    memory_bytes: int
    memory_measured: bool
    kl_divergence: float | None  # mean nats against the reference; 0 for the reference itself; None: unknown
    reference: bool
    error: str | None = None


@dataclass(frozen=True)
class Comparison:
    variants: list[VariantResult]
    recommended: str | None
    reason: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"variants": [asdict(v) for v in self.variants], "recommended": self.recommended,
                "reason": self.reason, "seconds": round(self.seconds, 3)}


def _rank(quant: str) -> int:
    return PRECISION.index(quant) if quant in PRECISION else len(PRECISION)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def compare(
    engine: Engine,
    model_paths: Sequence[Path],
    *,
    n_ctx: int = 2048,
    max_tokens: int = 64,
    threads: int | None = None,
    n_gpu_layers: int = -1,
    stop: threading.Event | None = None,
    report: Callable[[str], None] | None = None,
) -> Comparison:
    """Measure every variant in turn on ``engine`` (one model in memory at a time).

    The engine's current model is unloaded first and the last variant is unloaded at the
    end: the caller reloads whatever it needs. ``stop`` also cancels a load in progress.
    """
    started = time.perf_counter()
    infos = [(Path(p), read_gguf_info(p)) for p in model_paths]
    order = sorted(range(len(infos)), key=lambda i: _rank(infos[i][1].quant))
    reference_index = order[0]
    reference: list[Any] = []  # the reference variant's log-probabilities, once measured
    results: dict[int, VariantResult] = {}
    engine.unload()  # measure memory from an empty engine, and never hold two models
    for i in order:
        path, info = infos[i]
        if stop is not None and stop.is_set():
            break
        if report is not None:
            report(f"Measuring {path.name} ({info.quant})…")
        spec = LocalModel(path=path, n_ctx=n_ctx, n_threads=threads, n_gpu_layers=n_gpu_layers)
        try:
            results[i] = _measure(engine, spec, info, max_tokens, reference, i == reference_index, stop)
        except LoadCancelled:
            break
        except EngineError as exc:
            results[i] = VariantResult(str(path), info.name, info.quant, info.size_bytes, 0.0, None, None, None,
                                       0, False, None, i == reference_index, str(exc))
        finally:
            engine.unload()
    variants = [results[i] for i in order if i in results]
    recommended, reason = recommend(variants)
    comparison = Comparison(variants, recommended, reason, time.perf_counter() - started)
    remember(comparison)
    return comparison


def _measure(engine: Engine, spec: LocalModel, info: GGUFInfo, max_tokens: int, reference: list[Any],
             is_reference: bool, stop: threading.Event | None) -> VariantResult:
    """Load one variant, measure its distance from the reference and one greedy reply."""
    rss_before = current_rss()
    loaded = engine.load(spec, cancel=stop)
    kl = _kl_divergence(engine, loaded.n_ctx, reference, is_reference)
    list(engine.stream(PROMPT, GenerationParams(max_tokens=max_tokens, temperature=0.0), stop=stop))
    stats = engine.last_stats
    if stats is None:
        raise EngineError("the engine reported no figures for its reply")
    rss_after = current_rss()
    if stats.engine_rss_bytes is not None:  # the model lives in the engine's own process: measure that
        memory, measured = stats.engine_rss_bytes, True
    elif rss_before is not None and rss_after is not None:
        memory, measured = rss_after - rss_before, True
    else:
        memory, measured = estimate(info, spec.n_ctx, loaded.gpu_layers or 0).ram_bytes, False
    return VariantResult(
        str(spec.path), info.name, info.quant, info.size_bytes, round(loaded.load_s, 3), _rounded(stats.ttft_s, 4),
        _rounded(stats.prefill_tps, 2), _rounded(stats.decode_tps, 2), int(memory), measured, kl, is_reference)


def _kl_divergence(engine: Engine, n_ctx: int, reference: list[Any], is_reference: bool) -> float | None:
    """Mean KL divergence from the reference's next-token distributions; None when not comparable.

    The reference variant stores its log-probabilities in ``reference`` and scores 0.
    """
    if not (isinstance(engine, LogprobEngine) and isinstance(engine, TokenEngine)):
        return None  # the engine cannot say how likely each token was
    import numpy as np  # noqa: PLC0415 - only the comparison needs it

    tokens = engine.tokenize(REFERENCE_TEXT)[: min(512, n_ctx - 1)]
    logprobs = engine.next_token_logprobs(tokens)
    if is_reference:
        reference.append(logprobs)
        return 0.0
    if not reference or logprobs.shape != reference[0].shape:
        return None  # the reference failed, or a different tokenizer: not comparable
    p = np.exp(reference[0])
    return float(np.mean(np.sum(p * (reference[0] - logprobs), axis=1)))


def recommend(variants: Sequence[VariantResult]) -> tuple[str | None, str]:
    """The fastest decoder among variants whose KL stays under KL_GOOD (the reference always qualifies)."""
    usable = [v for v in variants if v.error is None and v.kl_divergence is not None and v.kl_divergence <= KL_GOOD]
    if not usable:
        if any(v.error is None for v in variants) and all(v.kl_divergence is None for v in variants):
            return None, "This engine does not report token probabilities, so quality could not be compared."
        return None, "No variant could be measured against the reference."
    best = max(usable, key=lambda v: v.decode_tps or 0.0)
    speed = "unknown speed" if best.decode_tps is None else f"{best.decode_tps:.1f} tok/s"
    reason = (f"{best.quant} decodes fastest here ({speed}) among variants whose output "
              f"stays close to the reference (KL {best.kl_divergence:.3f} ≤ {KL_GOOD}).")
    return best.path, reason


def _results_file() -> Path:
    return paths.data_dir() / "comparisons.json"


def _key(path: str) -> str:
    p = Path(path)
    try:
        st = p.stat()
        return f"{p.resolve()}|{st.st_size}|{int(st.st_mtime)}"
    except OSError:
        return path


def remember(comparison: Comparison) -> None:
    """Store each variant's figures for this machine (host name + CPU), newest wins."""
    file = _results_file()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    machine = f"{platform.node()}|{platform.machine()}|{platform.processor()}"
    bucket = data.setdefault(machine, {})
    for variant in comparison.variants:
        if variant.error is None:
            bucket[_key(variant.path)] = {**asdict(variant), "measured_at": time.time()}
    write_atomic(file, json.dumps(data, indent=1))


def remembered(path: str) -> dict[str, Any] | None:
    """The last figures measured on this machine for this exact file, if any."""
    try:
        data = json.loads(_results_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    machine = f"{platform.node()}|{platform.machine()}|{platform.processor()}"
    value = data.get(machine, {}).get(_key(path))
    return value if isinstance(value, dict) else None
