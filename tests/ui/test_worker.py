"""The engine worker thread: signal order, stop, errors on their own signal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.llm.fake import FakeEngine
from app.llm.types import ChatMessage, GenerationParams, GenerationStats, LoadParams
from app.ui.worker import EngineController

HELLO = [ChatMessage("user", "hello")]


@pytest.fixture
def controller(qtbot: QtBot) -> Iterator[EngineController]:
    engine = FakeEngine(reply="one two three four five six seven eight nine ten", tokens_per_s=2000)
    ctl = EngineController(engine)
    with qtbot.waitSignal(ctl.loaded, timeout=5000):
        ctl.load(LoadParams(model_path=Path("fake.gguf")))
    yield ctl
    assert ctl.shutdown()


def record(ctl: EngineController) -> list[str]:
    events: list[str] = []
    ctl.started.connect(lambda rid: events.append("started"))
    ctl.delta.connect(lambda rid, text: events.append("delta"))
    ctl.stats.connect(lambda rid, stats: events.append("stats"))
    ctl.failed.connect(lambda rid, message: events.append("failed"))
    ctl.finished.connect(lambda rid: events.append("finished"))
    return events


def test_signal_order_is_started_deltas_stats_finished(controller: EngineController, qtbot: QtBot) -> None:
    events = record(controller)
    with qtbot.waitSignals([controller.started, controller.stats, controller.finished],
                           order="strict", timeout=5000):
        controller.generate(HELLO, GenerationParams())
    qtbot.waitUntil(lambda: "finished" in events)
    assert events[0] == "started" and events[-2:] == ["stats", "finished"]
    assert events.count("delta") == 10 and set(events[1:-2]) == {"delta"}
    assert not controller.busy


def test_stop_ends_the_reply_within_one_token(qtbot: QtBot) -> None:
    engine = FakeEngine(reply=" ".join(["word"] * 500), tokens_per_s=200)
    ctl = EngineController(engine)
    try:
        with qtbot.waitSignal(ctl.loaded, timeout=5000):
            ctl.load(LoadParams(model_path=Path("fake.gguf")))
        shown: list[str] = []
        stats: list[GenerationStats] = []

        def on_delta(_rid: int, text: str) -> None:
            shown.append(text)
            if len(shown) == 5:
                ctl.stop()  # from the GUI thread, while the worker is mid-stream

        ctl.delta.connect(on_delta)
        ctl.stats.connect(lambda _rid, s: stats.append(s))
        with qtbot.waitSignal(ctl.finished, timeout=5000):
            ctl.generate(HELLO, GenerationParams(max_tokens=500))
        assert stats[0].stop_reason == "cancelled"
        # Deltas already queued when Stop was pressed may still arrive, but the engine
        # produced at most one token after seeing the event.
        assert stats[0].completion_tokens <= len(shown) + 1 < 50
    finally:
        ctl.shutdown()


def test_errors_travel_on_failed_never_in_the_text(qtbot: QtBot) -> None:
    engine = FakeEngine(reply="a b c d e f", tokens_per_s=2000, fail_after_tokens=3)
    ctl = EngineController(engine)
    try:
        with qtbot.waitSignal(ctl.loaded, timeout=5000):
            ctl.load(LoadParams(model_path=Path("fake.gguf")))
        texts: list[str] = []
        errors: list[str] = []
        ctl.delta.connect(lambda _rid, t: texts.append(t))
        ctl.failed.connect(lambda _rid, message: errors.append(message))
        with qtbot.waitSignals([ctl.started, ctl.failed, ctl.finished], order="strict", timeout=5000):
            ctl.generate(HELLO, GenerationParams())
        assert errors == ["The fake engine failed on purpose."]
        assert "".join(texts) == "a b c" and "fail" not in "".join(texts)
    finally:
        ctl.shutdown()


def test_load_failure_is_reported_and_the_thread_survives(qtbot: QtBot) -> None:
    engine = FakeEngine(load_error="broken.gguf: not a GGUF file")
    ctl = EngineController(engine)
    try:
        with qtbot.waitSignal(ctl.load_failed, timeout=5000) as blocker:
            ctl.load(LoadParams(model_path=Path("broken.gguf")))
        assert blocker.args == ["broken.gguf: not a GGUF file"]
        assert not ctl.busy and ctl.model is None
        engine.load_error = None
        with qtbot.waitSignal(ctl.loaded, timeout=5000):
            ctl.load(LoadParams(model_path=Path("good.gguf")))
    finally:
        ctl.shutdown()


def test_generation_runs_on_the_worker_thread(controller: EngineController, qtbot: QtBot) -> None:
    seen: list[threading.Thread] = []
    original = controller.engine.stream

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread())
        return original(*args, **kwargs)

    controller.engine.stream = spy  # type: ignore[method-assign]
    with qtbot.waitSignal(controller.finished, timeout=5000):
        controller.generate(HELLO, GenerationParams())
    assert seen and seen[0] is not threading.main_thread()


def test_history_longer_than_the_context_drops_oldest_turns(qtbot: QtBot) -> None:
    engine = FakeEngine(reply="ok", tokens_per_s=2000, n_ctx=256)
    ctl = EngineController(engine)
    try:
        with qtbot.waitSignal(ctl.loaded, timeout=5000):
            ctl.load(LoadParams(model_path=Path("fake.gguf"), n_ctx=256))
        long_turns: list[ChatMessage] = [ChatMessage("system", "be brief")]
        for i in range(20):
            long_turns += [ChatMessage("user", f"question {i} " + "word " * 10),
                           ChatMessage("assistant", "answer " * 10)]
        long_turns.append(ChatMessage("user", "last question"))
        with qtbot.waitSignal(ctl.trimmed, timeout=5000) as blocker:
            ctl.generate(long_turns, GenerationParams(max_tokens=64))
        qtbot.waitUntil(lambda: not ctl.busy)
        dropped = blocker.args[1]
        sent = engine.requests[-1]
        assert dropped > 0 and len(sent) == len(long_turns) - dropped
        assert sent[0].role == "system" and sent[-1].content == "last question"
    finally:
        ctl.shutdown()


def test_jobs_run_on_the_worker_and_report_progress_then_result(controller: EngineController, qtbot: QtBot) -> None:
    progress: list[object] = []
    results: list[object] = []
    controller.job_progress.connect(lambda _rid, payload: progress.append(payload))
    controller.job_done.connect(lambda _rid, result: results.append(result))

    def job(engine, stop, report):  # type: ignore[no-untyped-def]
        for i in range(3):
            report(i)
        return ("done", threading.current_thread() is not threading.main_thread(), engine.loaded is not None)

    with qtbot.waitSignals([controller.started, controller.job_done, controller.finished], order="strict",
                           timeout=5000):
        controller.run_job(job)
    assert progress == [0, 1, 2]
    assert results == [("done", True, True)]
    assert not controller.busy


def test_a_failing_job_reports_failed_then_finished(controller: EngineController, qtbot: QtBot) -> None:
    def job(engine, stop, report):  # type: ignore[no-untyped-def]
        raise ValueError("bad document")

    errors: list[str] = []
    controller.failed.connect(lambda _rid, message: errors.append(message))
    with qtbot.waitSignals([controller.started, controller.failed, controller.finished], order="strict",
                           timeout=5000):
        controller.run_job(job)
    assert len(errors) == 1 and "bad document" in errors[0]


def test_replies_streamed_inside_a_job_feed_the_readout_signals(controller: EngineController, qtbot: QtBot) -> None:
    stats: list[GenerationStats] = []
    controller.stats.connect(lambda _rid, s: stats.append(s))

    def job(engine, stop, report):  # type: ignore[no-untyped-def]
        for _ in range(2):
            "".join(engine.stream(HELLO, GenerationParams(), stop))
        return engine.loaded is not None  # other attributes pass through to the real engine

    results: list[object] = []
    controller.job_done.connect(lambda _rid, r: results.append(r))
    with qtbot.waitSignal(controller.finished, timeout=5000):
        controller.run_job(job)
    assert len(stats) == 2 and all(s.completion_tokens == 10 for s in stats)
    assert results == [True]
