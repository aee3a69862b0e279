"""The words for speed figures: exact texts, and tolerance of old or partial stats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.chat.stats_text import (
    STOP_REASONS,
    details_line,
    details_tooltip,
    live_line,
    stop_reason_words,
    summary_line,
)
from app.engines.contract import GenerationStats, LiveStats, ServerFigures


def make_stats(**changes: object) -> dict[str, object]:
    """A realistic GenerationStats as the history stores it."""
    stats = GenerationStats(
        prompt_tokens=3000, cached_tokens=1900, evaluated_tokens=1100, completion_tokens=128,
        ttft_s=0.085, prefill_s=3.55, prefill_tps=310.0, decode_s=3.0, decode_tps=42.3,
        total_s=3.1, stop_reason="eos", n_ctx=4096, context_used=2345, backend="CUDA",
        gpu_layers=28, model="Qwen2.5 7B Instruct",
    ).to_dict()
    stats.update(changes)
    return stats


def live(phase: str = "decode", **changes: object) -> LiveStats:
    values: dict[str, object] = {
        "phase": phase, "prompt_tokens": 3000, "evaluated_tokens": 1200, "to_evaluate": 3000,
        "completion_tokens": 57, "elapsed_s": 2.0, "decode_tps": 42.3 if phase == "decode" else None,
    }
    values.update(changes)
    return LiveStats(**values)  # type: ignore[arg-type]


# ---- details_line -------------------------------------------------------------------


def test_details_line_full() -> None:
    assert details_line(make_stats()) == "42.3 tok/s · 128 tokens · 85 ms to first token · stop: eos"


def test_details_line_interrupted_only() -> None:
    assert details_line({"stop_reason": "interrupted"}) == "interrupted"


def test_details_line_empty_and_garbage_values() -> None:
    assert details_line({}) == ""
    garbage = {"decode_tps": "fast", "completion_tokens": True, "ttft_s": float("nan"),
               "stop_reason": 5}
    assert details_line(garbage) == ""


def test_details_line_singular_and_separators() -> None:
    assert details_line({"completion_tokens": 1}) == "1 token"
    assert details_line({"completion_tokens": 12345, "decode_tps": 1234.4}) == (
        "1,234 tok/s · 12,345 tokens"
    )


def test_details_line_slow_first_token_uses_seconds() -> None:
    line = details_line(make_stats(ttft_s=2.5, stop_reason="length"))
    assert line.endswith("2.50 s to first token · stop: length")


def test_details_line_zero_speed_is_left_out() -> None:
    assert details_line(make_stats(decode_tps=0.0, completion_tokens=1)).startswith("1 token ·")


# ---- details_tooltip -------------------------------------------------------------


def test_details_tooltip_full() -> None:
    lines = details_tooltip(make_stats()).splitlines()
    assert lines == [
        "Time to first token: 85 ms",
        "Prompt: 3,000 tokens (1,900 cached, 1,100 evaluated)",
        "Prompt reading: 310 tok/s",
        "Generation: 42.3 tok/s (excluding the first token)",
        "Reply: 128 tokens in 3.10 s",
        "Stopped: end of text",
        "Context used: 2,345 / 4,096 tokens (57%)",
        "Backend: CUDA, 28 GPU layers",
        "Model: Qwen2.5 7B Instruct",
    ]


@pytest.mark.parametrize(
    ("reason", "words"),
    [("eos", "end of text"), ("length", "length limit"), ("stop", "stop string"),
     ("cancelled", "stopped by you"), ("context", "context full"),
     ("interrupted", "interrupted")],
)
def test_stop_reasons_in_words(reason: str, words: str) -> None:
    assert stop_reason_words(reason) == words
    assert f"Stopped: {words}" in details_tooltip(make_stats(stop_reason=reason)).splitlines()


def test_every_engine_stop_reason_has_words() -> None:
    from typing import get_args

    from app.engines.contract import StopReason

    assert set(get_args(StopReason)) <= set(STOP_REASONS)


def test_details_tooltip_partial_and_cpu() -> None:
    assert details_tooltip({"stop_reason": "interrupted"}) == "Stopped: interrupted"
    assert details_tooltip({}) == ""
    text = details_tooltip(make_stats(backend="CPU", gpu_layers=0))
    assert "Backend: CPU" in text.splitlines()
    assert "Backend: CUDA, all layers on the GPU" in details_tooltip(make_stats(gpu_layers=-1))


def test_details_tooltip_all_cached_prompt() -> None:
    text = details_tooltip(make_stats(cached_tokens=3000, evaluated_tokens=0, prefill_tps=0.0))
    assert "Prompt reading: all from cache" in text.splitlines()
    assert "Prompt: 3,000 tokens (3,000 cached, 0 evaluated)" in text.splitlines()


# ---- summary_line ------------------------------------------------------------------


def test_summary_line_full() -> None:
    assert summary_line(make_stats()) == (
        "42.3 tok/s · TTFT 85 ms · prompt 310 tok/s · 1,900 cached · ctx 2,345/4,096"
    )


def test_summary_line_leaves_out_misleading_zeros() -> None:
    text = summary_line(make_stats(cached_tokens=0, prefill_tps=0.0, decode_tps=0.0))
    assert text == "TTFT 85 ms · ctx 2,345/4,096"
    assert summary_line({"stop_reason": "cancelled"}) == "stopped by you"


def test_a_restored_conversation_says_how_many_tokens_and_how_long() -> None:
    stats = make_stats(restored_tokens=1900, restore_s=0.041)
    assert summary_line(stats) == (
        "42.3 tok/s · TTFT 85 ms · prompt 310 tok/s · 1,900 cached · restored 1,900 tokens in 41 ms · ctx 2,345/4,096"
    )
    assert "Saved conversation: restored 1,900 tokens in 41 ms" in details_tooltip(stats).splitlines()
    # absent (older history) or zero: no part at all
    assert "restored" not in summary_line(make_stats())
    assert "restored" not in summary_line({**stats, "restored_tokens": 0})
    assert "restored" not in details_tooltip({**stats, "restored_tokens": "many"})


def test_speculative_decoding_shows_drafted_and_accepted_tokens() -> None:
    stats = make_stats(drafted_tokens=120, accepted_tokens=95)
    assert summary_line(stats) == (
        "42.3 tok/s · TTFT 85 ms · prompt 310 tok/s · 1,900 cached · drafted 120, accepted 95 (79%) · ctx 2,345/4,096"
    )
    assert ("Speculative decoding: drafted 120, accepted 95 (79%) (the generation speed above includes the accepted "
            "tokens)") in details_tooltip(stats).splitlines()
    live = LiveStats("decode", 50, 50, 50, 30, 1.0, 42.0, drafted_tokens=20, accepted_tokens=5)
    assert live_line(live) == "42.0 tok/s · 30 tokens · drafted 20, accepted 5 (25%)"
    # not drafting (None), nothing drafted yet (0) or an old history entry: no part at all
    for quiet in (make_stats(), make_stats(drafted_tokens=0, accepted_tokens=0), make_stats(drafted_tokens="x")):
        assert "drafted" not in summary_line(quiet) and "Speculative" not in details_tooltip(quiet)
    assert "drafted" not in live_line(LiveStats("decode", 50, 50, 50, 30, 1.0, 42.0))


# ---- live_line ---------------------------------------------------------------------


def test_live_line_prefill() -> None:
    assert live_line(live("prefill")) == "Reading prompt 1,200 / 3,000 tokens"
    assert live_line(live("prefill", evaluated_tokens=3100)) == "Reading prompt 3,000 / 3,000 tokens"
    assert live_line(live("prefill", to_evaluate=0, evaluated_tokens=0)) == "Reading prompt…"


def test_live_line_decode() -> None:
    assert live_line(live()) == "42.3 tok/s · 57 tokens"
    assert live_line(live(decode_tps=1500.0, completion_tokens=2048)) == "1,500 tok/s · 2,048 tokens"
    assert live_line(live(decode_tps=0.0, completion_tokens=1)) == "1 token"


def test_live_line_shows_a_servers_running_rate_beside_the_one_measured_here() -> None:
    running = ServerFigures(decode_tps=61.0)
    assert live_line(live(server=running)) == "42.3 tok/s · server 61.0 tok/s · 57 tokens"
    assert live_line(live(server=ServerFigures())) == "42.3 tok/s · 57 tokens"  # it said nothing: nothing shown


def test_module_stays_qt_free() -> None:
    code = (
        "import sys, app.chat.stats_text\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'app.ui'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# ---- unknown figures and where figures were measured ---------------------------------


def server_stats() -> dict[str, object]:
    """A remote engine's reply: token counts from the server, timings taken here, the rest unknown."""
    return GenerationStats(
        completion_tokens=128, total_s=3.1, stop_reason="eos", backend="llama-server", model="qwen2.5-7b",
        prompt_tokens=3000, ttft_s=0.4, decode_s=2.7, decode_tps=47.0, source="client",
        sources={"prompt_tokens": "server", "completion_tokens": "server"},
    ).to_dict()


def test_unknown_figures_are_dashes_or_left_out_never_shown_as_zero() -> None:
    stats = GenerationStats(completion_tokens=12, total_s=0.5, stop_reason="eos", backend="server",
                            model="m").to_dict()
    assert details_line(stats) == "12 tokens · stop: eos"
    assert summary_line(stats) == "end of text"
    tooltip = details_tooltip(stats)
    assert tooltip.splitlines() == ["Time to first token: —", "Prompt: —", "Prompt reading: —", "Generation: —",
                                    "Reply: 12 tokens in 500 ms", "Stopped: end of text", "Backend: server",
                                    "Model: m"]
    assert details_tooltip({"stop_reason": "interrupted"}) == "Stopped: interrupted"  # not a reply record
    assert " 0 " not in tooltip and "0 tok/s" not in tooltip


def test_the_tooltip_says_which_figures_a_server_reported_or_the_client_measured() -> None:
    lines = details_tooltip(server_stats()).splitlines()
    assert lines == [
        "Time to first token: 400 ms (measured here)",
        "Prompt: 3,000 tokens (server)",
        "Prompt reading: —",
        "Generation: 47.0 tok/s (measured here) (excluding the first token)",
        "Reply: 128 tokens (server) in 3.10 s (measured here)",
        "Stopped: end of text",
        "Backend: llama-server",
        "Model: qwen2.5-7b",
    ]


def test_engine_figures_carry_no_note_and_the_message_line_stays_short() -> None:
    assert "(measured here)" not in details_tooltip(make_stats()) and "(server)" not in details_tooltip(make_stats())
    assert details_line(server_stats()) == "47.0 tok/s · 128 tokens · 400 ms to first token · stop: eos"
    # the readout says where a remote figure was timed (issue 12); the message's tooltip has every note
    assert summary_line(server_stats()) == "47.0 tok/s measured here · TTFT 400 ms measured here"


def test_a_stored_sources_value_of_the_wrong_type_is_ignored() -> None:
    stats = make_stats(sources=["server"])
    assert details_tooltip(stats) == details_tooltip(make_stats())
    assert "Reply: 128 tokens in 3.10 s" in details_tooltip(make_stats(sources={"completion_tokens": 5}))


def test_live_line_before_the_speed_is_known() -> None:
    assert live_line(live(decode_tps=None, completion_tokens=3)) == "3 tokens"


def test_a_servers_own_figures_and_the_network_time_are_shown_and_labelled() -> None:
    stats = {"ttft_s": 0.250, "decode_tps": 40.0, "completion_tokens": 64, "stop_reason": "eos",
             "sources": {"ttft_s": "client", "decode_tps": "client", "completion_tokens": "server"},
             "server": {"decode_tps": 52.5, "prefill_s": 0.180, "prompt_tokens": 30}}
    tooltip = details_tooltip(stats)
    assert "Generation: 40.0 tok/s (measured here)" in tooltip
    assert "Generation on the server: 52.5 tok/s (server)" in tooltip
    assert "Network and queueing: 70 ms (time to first token measured here, less the server's prompt time)" in tooltip
    assert "Reply: 64 tokens (server)" in tooltip


def test_server_figures_that_are_missing_or_malformed_add_nothing() -> None:
    base = {"ttft_s": 0.1, "sources": {"ttft_s": "client"}}
    assert "server" not in details_tooltip(base).lower()
    assert "Network" not in details_tooltip({**base, "server": {"prefill_s": 0.5}})  # longer than the TTFT
    assert "Network" not in details_tooltip({**base, "server": "garbage"})
    local = {"ttft_s": 0.3, "server": {"prefill_s": 0.1}}  # timed in the engine: no network in between
    assert "Network" not in details_tooltip(local)


def test_the_readout_line_says_where_remote_figures_were_measured() -> None:
    remote = {"decode_tps": 40.0, "ttft_s": 0.25, "stop_reason": "eos",
              "sources": {"decode_tps": "client", "ttft_s": "client"}, "server": {"decode_tps": 52.5}}
    assert summary_line(remote) == "40.0 tok/s measured here · server 52.5 tok/s · TTFT 250 ms measured here"
    local = {"decode_tps": 40.0, "ttft_s": 0.25, "sources": {"decode_tps": "engine", "ttft_s": "engine"}}
    assert summary_line(local) == "40.0 tok/s · TTFT 250 ms"
