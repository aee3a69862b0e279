"""The engine thread and its controller: per-request handles, signal order, stop, loads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.engines.contract import (
    ChatMessage,
    Engine,
    GenerationParams,
    GenerationStats,
    LoadedModel,
    LocalModel,
    ModelSpec,
)
from app.engines.fake import FakeEngine
from app.ui.engine.controller import EngineController, ModelState
from app.ui.engine.handle import RequestHandle

HELLO = [ChatMessage("user", "hello")]


def factory(engine: Engine) -> Callable[[ModelSpec], Engine]:
    return lambda _spec: engine


def start(qtbot: QtBot, engine: FakeEngine, n_ctx: int = 4096) -> EngineController:
    ctl = EngineController(factory(engine))
    with qtbot.waitSignal(ctl.loaded, timeout=5000):
        ctl.load(LocalModel(path=Path("fake.gguf"), n_ctx=n_ctx))
    return ctl


@pytest.fixture
def controller(qtbot: QtBot) -> Iterator[EngineController]:
    ctl = start(qtbot, FakeEngine(reply="one two three four five six seven eight nine ten", tokens_per_s=2000))
    yield ctl
    assert ctl.shutdown()


def record(handle: RequestHandle) -> list[str]:
    events: list[str] = []
    for name in ("started", "trimmed", "delta", "stats", "job_progress", "done", "failed", "finished"):
        getattr(handle, name).connect(lambda *_args, name=name: events.append(name))
    return events


def test_signal_order_is_started_delta_stats_finished(controller: EngineController, qtbot: QtBot) -> None:
    handle = controller.generate(HELLO, GenerationParams(max_tokens=1))
    events = record(handle)
    with qtbot.waitSignals([handle.started, handle.delta, handle.stats, handle.finished],
                           order="strict", timeout=5000):
        pass
    assert events == ["started", "delta", "stats", "finished"]


def test_every_delta_comes_between_started_and_stats(controller: EngineController, qtbot: QtBot) -> None:
    handle = controller.generate(HELLO, GenerationParams())
    events = record(handle)
    with qtbot.waitSignals([handle.started, handle.stats, handle.finished], order="strict", timeout=5000):
        pass
    assert events[0] == "started" and events[-2:] == ["stats", "finished"]
    assert events.count("delta") == 10 and set(events[1:-2]) == {"delta"}
    assert handle.is_finished and not controller.busy


def test_each_handle_gets_only_its_own_signals(controller: EngineController, qtbot: QtBot) -> None:
    first = controller.generate(HELLO, GenerationParams())
    first_events = record(first)
    qtbot.waitUntil(lambda: first.is_finished, timeout=5000)
    second = controller.generate(HELLO, GenerationParams(max_tokens=3))
    second_events = record(second)
    qtbot.waitUntil(lambda: second.is_finished, timeout=5000)
    assert first.request_id != second.request_id
    assert first_events.count("delta") == 10 and first_events.count("finished") == 1
    assert 0 < second_events.count("delta") < 10 and second_events.count("finished") == 1


def test_controller_wide_signals_feed_the_readout(controller: EngineController, qtbot: QtBot) -> None:
    seen: list[str] = []
    controller.request_started.connect(lambda h: seen.append(f"started {h.request_id}"))
    controller.stats.connect(lambda _s: seen.append("stats"))
    controller.finished.connect(lambda h: seen.append(f"finished {h.request_id}"))
    with qtbot.waitSignal(controller.finished, timeout=5000):
        handle = controller.generate(HELLO, GenerationParams())
    assert seen == [f"started {handle.request_id}", "stats", f"finished {handle.request_id}"]


def test_stop_ends_the_reply_within_one_token(qtbot: QtBot) -> None:
    ctl = start(qtbot, FakeEngine(reply=" ".join(["word"] * 500), tokens_per_s=200))
    try:
        shown: list[str] = []
        stats: list[GenerationStats] = []
        handle = ctl.generate(HELLO, GenerationParams(max_tokens=500))

        def on_delta(text: str) -> None:
            shown.append(text)
            if len(shown) == 5:
                handle.stop()  # from the GUI thread, while the worker is mid-stream

        handle.delta.connect(on_delta)
        handle.stats.connect(stats.append)
        qtbot.waitSignal(handle.finished, timeout=5000).wait()
        assert stats[0].stop_reason == "cancelled"
        # Deltas already queued when Stop was pressed may still arrive, but the engine
        # produced at most one token after seeing the event.
        assert stats[0].completion_tokens <= len(shown) + 1 < 50
    finally:
        ctl.shutdown()


def test_errors_travel_on_failed_never_in_the_text(qtbot: QtBot) -> None:
    ctl = start(qtbot, FakeEngine(reply="a b c d e f", tokens_per_s=2000, fail_after_tokens=3))
    try:
        handle = ctl.generate(HELLO, GenerationParams())
        texts: list[str] = []
        errors: list[str] = []
        handle.delta.connect(texts.append)
        handle.failed.connect(errors.append)
        with qtbot.waitSignals([handle.started, handle.failed, handle.finished], order="strict", timeout=5000):
            pass
        assert errors == ["The fake engine failed on purpose."]
        assert "".join(texts) == "a b c" and "fail" not in "".join(texts)
    finally:
        ctl.shutdown()


def test_a_request_without_a_model_fails_and_still_finishes(qtbot: QtBot) -> None:
    ctl = EngineController(factory(FakeEngine()))
    try:
        assert ctl.state is ModelState.NONE
        reply = ctl.generate(HELLO, GenerationParams())
        events = record(reply)
        qtbot.waitUntil(lambda: reply.is_finished, timeout=5000)
        assert events == ["started", "failed", "finished"]
        count = ctl.count_tokens(HELLO)
        count_events = record(count)
        qtbot.waitUntil(lambda: count.is_finished, timeout=5000)
        assert count_events == ["started", "failed", "finished"]
        assert not ctl.busy
    finally:
        assert ctl.shutdown()


def test_load_failure_is_reported_and_the_thread_survives(qtbot: QtBot) -> None:
    engine = FakeEngine(load_error="broken.gguf: not a GGUF file")
    ctl = EngineController(factory(engine))
    try:
        with qtbot.waitSignal(ctl.load_failed, timeout=5000) as blocker:
            ctl.load(LocalModel(path=Path("broken.gguf")))
        assert blocker.args == ["broken.gguf: not a GGUF file"]
        assert not ctl.busy and ctl.model is None and ctl.state is ModelState.NONE
        engine.load_error = None
        with qtbot.waitSignal(ctl.loaded, timeout=5000):
            ctl.load(LocalModel(path=Path("good.gguf")))
        assert ctl.state is ModelState.READY
    finally:
        ctl.shutdown()


class DeafEngine(FakeEngine):
    """Ignores the cancel flag, like an engine stuck in a step it cannot interrupt."""

    def load(self, spec: ModelSpec, on_progress: Callable[[float], None] | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        return super().load(spec, on_progress, None)


@pytest.mark.parametrize("engine_class", [FakeEngine, DeafEngine], ids=["cancellable", "uncancellable"])
def test_overlapping_loads_stay_busy_until_the_last_one_ends(qtbot: QtBot, engine_class: type[FakeEngine]) -> None:
    engine = engine_class(load_s=0.4)
    ctl = EngineController(factory(engine))
    busy: list[bool] = []
    loaded: list[LoadedModel] = []
    ctl.busy_changed.connect(busy.append)
    ctl.loaded.connect(loaded.append)
    try:
        ctl.load(LocalModel(path=Path("first.gguf")))
        qtbot.waitUntil(lambda: len(engine.loads) == 1, timeout=5000)  # the first load is under way
        ctl.load(LocalModel(path=Path("second.gguf")))
        qtbot.waitUntil(lambda: len(engine.loads) == 2, timeout=5000)  # the first one has ended
        qtbot.wait(1)  # deliver what the first load reported
        assert ctl.busy and ctl.state is ModelState.LOADING and ctl.model is None
        assert False not in busy and loaded == []
        qtbot.waitUntil(lambda: not ctl.busy, timeout=5000)
        assert [m.spec for m in loaded] == [LocalModel(path=Path("second.gguf"))]
        assert ctl.model is loaded[0] and ctl.state is ModelState.READY
        assert busy.count(False) == 1 and busy[-1] is False
    finally:
        assert ctl.shutdown()


def test_shutdown_cancels_a_slow_load_quickly(qtbot: QtBot) -> None:
    ctl = EngineController(factory(FakeEngine(load_s=30.0)))
    ctl.load(LocalModel(path=Path("slow.gguf")))
    qtbot.waitUntil(lambda: ctl.state is ModelState.LOADING)
    assert ctl.shutdown(2000)


def test_generation_runs_on_the_worker_thread(qtbot: QtBot) -> None:
    seen: list[threading.Thread] = []

    class Spy(FakeEngine):
        def stream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(threading.current_thread())
            return super().stream(*args, **kwargs)

    ctl = start(qtbot, Spy(tokens_per_s=2000))
    try:
        handle = ctl.generate(HELLO, GenerationParams())
        qtbot.waitUntil(lambda: handle.is_finished, timeout=5000)
        assert seen and seen[0] is not threading.main_thread()
    finally:
        ctl.shutdown()


def test_history_longer_than_the_context_drops_oldest_turns(qtbot: QtBot) -> None:
    engine = FakeEngine(reply="ok", tokens_per_s=2000, n_ctx=256)
    ctl = start(qtbot, engine, n_ctx=256)
    try:
        long_turns: list[ChatMessage] = [ChatMessage("system", "be brief")]
        for i in range(20):
            long_turns += [ChatMessage("user", f"question {i} " + "word " * 10),
                           ChatMessage("assistant", "answer " * 10)]
        long_turns.append(ChatMessage("user", "last question"))
        handle = ctl.generate(long_turns, GenerationParams(max_tokens=64))
        with qtbot.waitSignal(handle.trimmed, timeout=5000) as blocker:
            pass
        qtbot.waitUntil(lambda: handle.is_finished)
        dropped = blocker.args[0]
        sent = engine.requests[-1]
        assert dropped > 0 and len(sent) == len(long_turns) - dropped
        assert sent[0].role == "system" and sent[-1].content == "last question"
    finally:
        ctl.shutdown()


def test_token_counts_arrive_as_done(controller: EngineController, qtbot: QtBot) -> None:
    handle = controller.count_tokens(HELLO)
    counts: list[object] = []
    handle.done.connect(counts.append)
    with qtbot.waitSignals([handle.started, handle.done, handle.finished], order="strict", timeout=5000):
        pass
    assert len(counts) == 1 and isinstance(counts[0], int) and counts[0] > 0


def test_jobs_run_on_the_worker_and_report_progress_then_result(controller: EngineController, qtbot: QtBot) -> None:
    def job(engine: Engine, stop: threading.Event, report: Callable[[object], None]) -> object:
        report("half way")
        return ("done", threading.current_thread() is not threading.main_thread(), engine.loaded is not None)

    handle = controller.run_job(job)
    events = record(handle)
    progress: list[object] = []
    results: list[object] = []
    handle.job_progress.connect(progress.append)
    handle.done.connect(results.append)
    with qtbot.waitSignals([handle.started, handle.job_progress, handle.done, handle.finished], order="strict",
                           timeout=5000):
        pass
    assert events == ["started", "job_progress", "done", "finished"]
    assert progress == ["half way"]
    assert results == [("done", True, True)]
    assert not controller.busy


def test_a_failing_job_reports_failed_then_finished(controller: EngineController, qtbot: QtBot) -> None:
    def job(engine: Engine, stop: threading.Event, report: Callable[[object], None]) -> object:
        raise ValueError("bad document")

    handle = controller.run_job(job)
    events = record(handle)
    errors: list[str] = []
    handle.failed.connect(errors.append)
    with qtbot.waitSignals([handle.started, handle.failed, handle.finished], order="strict", timeout=5000):
        pass
    assert events == ["started", "failed", "finished"]
    assert len(errors) == 1 and "bad document" in errors[0]


def test_replies_streamed_inside_a_job_feed_the_readout_signals(controller: EngineController, qtbot: QtBot) -> None:
    stats: list[GenerationStats] = []
    controller.stats.connect(stats.append)

    def job(engine: Engine, stop: threading.Event, report: Callable[[object], None]) -> object:
        for _ in range(2):
            "".join(engine.stream(HELLO, GenerationParams(), stop))
        return engine.loaded is not None

    handle = controller.run_job(job)
    results: list[object] = []
    handle.done.connect(results.append)
    qtbot.waitSignal(handle.finished, timeout=5000).wait()
    assert len(stats) == 2 and all(s.completion_tokens == 10 for s in stats)
    assert results == [True]


def test_requests_queued_behind_a_shutdown_still_finish(qtbot: QtBot) -> None:
    release = threading.Event()
    ctl = start(qtbot, FakeEngine())
    blocking = ctl.run_job(lambda engine, stop, report: release.wait(10))
    count = ctl.count_tokens(HELLO)  # queued behind the job; the thread quits before it runs
    finished: list[int] = []
    count.finished.connect(lambda: finished.append(count.request_id))
    qtbot.waitSignal(blocking.started, timeout=5000).wait()
    assert not ctl.shutdown(50)  # the job ignores its stop flag for now
    release.set()
    assert ctl.wait_stopped(5000)
    assert blocking.is_finished and count.is_finished and finished == [count.request_id]
