"""Quantization A/B on synthetic variants of one model: figures, KL ordering, recommendation, memory.

The comparison runs on the engine it is given: the real llama engine for the figures, the
fake engine for what the UI's job relies on (one engine, variants loaded in turn, nothing
left loaded, a stop that cancels).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.engines.contract import GenerationStats, LiveStats, LocalModel
from app.engines.fake import FakeEngine
from app.engines.llama.quantize import quantize
from app.engines.process.engine import ProcessEngine
from app.engines.reporting import ReportingEngine
from app.models.compare import compare, recommend, remembered
from tests import gguf_files
from tests.engine_children import ASSERT_REASON, CrashOnName

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("ab")
    f16 = gguf_files.write_tiny_llama(folder / "m-F16.gguf", n_layer=4, n_embd=256, n_head=4, n_head_kv=2,
                                      n_vocab=1024, n_ctx_train=512)
    return [f16, quantize(f16, "Q8_0", folder / "m-Q8_0.gguf").path, quantize(f16, "Q4_K_M", folder / "m-Q4.gguf").path]


def test_compare_measures_every_variant_against_the_most_precise(variants: list[Path]) -> None:
    engine = ProcessEngine()
    result = compare(engine, list(reversed(variants)), n_ctx=512, max_tokens=8)
    quants = [v.quant for v in result.variants]
    assert quants == ["F16", "Q8_0", "Q4_K_M"]  # most precise first, whatever the order given
    f16, q8, q4 = result.variants
    assert f16.reference and f16.kl_divergence == 0.0
    assert q8.kl_divergence is not None and q4.kl_divergence is not None
    assert 0 < q8.kl_divergence < q4.kl_divergence
    for v in result.variants:
        assert v.error is None and v.decode_tps > 0 and v.prefill_tps > 0 and v.ttft_s > 0
        assert v.memory_measured and v.memory_bytes > 0
    assert result.recommended in {str(p) for p in variants}
    assert remembered(str(variants[1])) is not None  # kept for this machine
    assert engine.loaded is None  # the last variant is not left in memory


def test_recommendation_skips_variants_that_drift_too_far(variants: list[Path]) -> None:
    result = compare(ProcessEngine(), variants[:2], n_ctx=512, max_tokens=4)
    fast_but_bad = result.variants[1].__class__(**{**result.variants[1].__dict__, "decode_tps": 1e9,
                                                   "kl_divergence": 5.0})
    choice, reason = recommend([result.variants[0], fast_but_bad])
    assert choice == result.variants[0].path and "KL" in reason


def test_cli_compare_json(variants: list[Path], kestrel_home: Path) -> None:
    code = "import sys; from app.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "KESTREL_HOME": str(kestrel_home)}
    result = subprocess.run([sys.executable, "-c", code, "compare", *map(str, variants), "--n-ctx", "512",
                             "--max-tokens", "8", "--json"], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(data["variants"]) == 3 and data["recommended"]
    one = subprocess.run([sys.executable, "-c", code, "compare", str(variants[0])], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60)
    assert one.returncode == 1 and "at least two" in one.stderr


def test_a_small_context_truncates_the_reference_text_instead_of_crashing(variants: list[Path]) -> None:
    result = compare(ProcessEngine(), variants[:2], n_ctx=256, max_tokens=4)
    assert all(v.error is None for v in result.variants)


def test_compare_loads_each_variant_in_turn_on_the_engine_it_is_given(variants: list[Path]) -> None:
    engine = FakeEngine(reply="one two three four five", tokens_per_s=0, prefill_tps=0)
    engine.load(LocalModel(path=Path("users-model.gguf")))
    result = compare(engine, list(reversed(variants)), n_ctx=512, max_tokens=4)
    assert [spec.path for spec in engine.loads[1:]] == variants  # most precise first, one at a time
    assert all(isinstance(spec, LocalModel) and spec.n_ctx == 512 for spec in engine.loads[1:])
    assert engine.loaded is None  # neither the user's model nor a variant is left: the worker reloads
    assert [v.quant for v in result.variants] == ["F16", "Q8_0", "Q4_K_M"]
    assert [v.kl_divergence for v in result.variants] == [0.0, 0.0, 0.0]  # the fake's log-probabilities
    assert all(v.error is None and v.decode_tps is not None for v in result.variants)
    assert result.recommended in {str(p) for p in variants}


def test_without_log_probabilities_the_quality_is_unknown(variants: list[Path]) -> None:
    stats: list[GenerationStats] = []
    live: list[LiveStats] = []
    fake = FakeEngine(reply="one two three", tokens_per_s=0, prefill_tps=0)
    plain = ReportingEngine(fake, live.append, stats.append)  # a chat-only engine: no tokens, no log-probabilities
    result = compare(plain, variants[:2], n_ctx=512, max_tokens=4)
    assert [v.kl_divergence for v in result.variants] == [None, None]
    assert all(v.error is None for v in result.variants)
    assert result.recommended is None and "probabilities" in result.reason
    assert len(stats) == 2  # each variant's reply reached the reporter (the speed readout)


def test_stop_cancels_the_load_in_progress(variants: list[Path]) -> None:
    stop = threading.Event()
    engine = FakeEngine(tokens_per_s=0, prefill_tps=0, load_s=30.0)
    lines: list[str] = []

    def report(line: str) -> None:
        lines.append(line)
        stop.set()  # stop while the first variant loads

    started = time.perf_counter()
    result = compare(engine, variants, n_ctx=512, max_tokens=4, stop=stop, report=report)
    assert time.perf_counter() - started < 10  # the 30 s load was cancelled, not waited for
    assert result.variants == [] and len(lines) == 1
    assert len(engine.loads) == 1 and engine.loaded is None


def test_a_variant_that_crashes_the_engine_is_reported_and_the_others_measured(variants: list[Path],
                                                                               tmp_path: Path) -> None:
    crash = tmp_path / "crash-Q8_0.gguf"
    crash.write_bytes(variants[1].read_bytes())
    engine = CrashOnName(reply="one two three four five", tokens_per_s=0, prefill_tps=0)
    result = compare(engine, [variants[0], crash, variants[2]], n_ctx=512, max_tokens=4)
    errors = {Path(v.path).name: v.error for v in result.variants}
    assert errors == {"m-F16.gguf": None, "crash-Q8_0.gguf":
                      f"The engine stopped while loading crash-Q8_0.gguf: {ASSERT_REASON}.", "m-Q4.gguf": None}
    assert engine.loaded is None
