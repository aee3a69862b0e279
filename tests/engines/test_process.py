"""The engine in a child process: the contract across the pipe, stop, and every way the child can die.

Most tests run the fake engine inside a real child process (fast and deterministic); the
last ones run llama.cpp on the starter model and kill its child mid-reply.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engines.contract import (
    ChatMessage,
    ContextOverflowError,
    EngineCrashed,
    EngineError,
    GenerationParams,
    LoadCancelled,
    LocalModel,
    LogprobEngine,
    TokenEngine,
)
from app.engines.process.diagnosis import describe_exit
from app.engines.process.engine import ProcessEngine

HELLO = [ChatMessage("user", "hello there")]
ASSERT_LINE = ("/src/llama.cpp/src/llama-model.cpp:512: GGML_ASSERT(n_layer_all > 0 && "
               "n_layer_all <= LLAMA_MAX_LAYERS) failed")


def fake(**options: object) -> ProcessEngine:
    return ProcessEngine("fake", dict(options), stop_grace_s=1.0, prompt_deadline_s=1.5)


@pytest.fixture
def engine() -> Iterator[ProcessEngine]:
    e = fake(tokens_per_s=400.0, reply=" ".join(f"w{i}" for i in range(400)))
    e.load(LocalModel(Path("fake.gguf")))
    yield e
    e.unload()


def child_exited(pid: int) -> bool:
    """True once the process is gone, or a zombie whose threads have all ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/status", encoding="ascii") as file:
        status = dict(line.split(":", 1) for line in file if ":" in line)
    return status["State"].strip().startswith("Z") and status.get("Threads", "1").strip() in ("0", "1")


def test_capabilities_are_declared() -> None:
    e = fake()
    assert isinstance(e, TokenEngine) and isinstance(e, LogprobEngine)


def test_the_contract_works_across_the_pipe(engine: ProcessEngine) -> None:
    assert engine.loaded is not None and engine.loaded.name == "Fake model"
    assert engine.pid is not None and engine.pid != os.getpid()
    assert engine.count_tokens(HELLO) == len(engine.prompt_tokens(HELLO)[0]) > 0
    assert engine.tokenize("a b c") == engine.tokenize("a b c") and len(engine.tokenize("a b c")) == 3
    live: list[object] = []
    text = "".join(engine.stream(HELLO, GenerationParams(max_tokens=20), on_progress=live.append))
    assert text.split() == [f"w{i}" for i in range(20)]
    stats = engine.last_stats
    assert stats is not None and stats.completion_tokens == 20 and stats.stop_reason == "length"
    assert live, "live figures did not cross the pipe"
    assert engine.next_token_logprobs([1, 2, 3]).shape == (3, 64)


def test_errors_come_back_as_the_same_kinds(tmp_path: Path) -> None:
    e = fake(n_ctx=8)
    e.load(LocalModel(tmp_path / "m.gguf"))
    with pytest.raises(ContextOverflowError) as overflow:
        e.stream([ChatMessage("user", "one two three four five six seven eight nine")], GenerationParams())
    assert overflow.value.n_ctx == 8 and overflow.value.prompt_tokens > 8
    failing = fake(load_error="the file is damaged")
    with pytest.raises(EngineError, match="the file is damaged") as error:
        failing.load(LocalModel(tmp_path / "m.gguf"))
    assert not isinstance(error.value, EngineCrashed)
    assert failing.loaded is None and failing.pid is None
    e.unload()


def test_stop_ends_the_reply_within_a_token_or_two(tmp_path: Path) -> None:
    """At 100 tokens/s: the child stops a token or two after the event is set (deltas travel ~30/s)."""
    e = fake(tokens_per_s=100.0, reply=" ".join(f"w{i}" for i in range(400)))
    e.load(LocalModel(tmp_path / "m.gguf"))
    stop = threading.Event()
    seen = 0
    stopped_at = 0.0
    for text in e.stream(HELLO, GenerationParams(max_tokens=400), stop=stop):
        seen += len(text.split())
        if seen >= 20 and not stop.is_set():
            stop.set()
            stopped_at = time.monotonic()
    assert time.monotonic() - stopped_at < 0.2
    stats = e.last_stats
    assert stats is not None and stats.stop_reason == "cancelled"
    assert seen == stats.completion_tokens  # nothing produced was lost on the way
    assert stats.completion_tokens - 20 <= 5  # at most a held delta (~3 tokens) plus the one in flight
    assert "".join(e.stream(HELLO, GenerationParams(max_tokens=3))).split() == ["w0", "w1", "w2"]
    e.unload()


def test_a_reply_left_unread_is_stopped_and_the_next_request_is_answered(engine: ProcessEngine) -> None:
    replies = engine.stream(HELLO, GenerationParams(max_tokens=400))
    assert next(iter(replies))
    del replies  # dropped mid-way, as a caller that breaks out of its loop
    assert engine.count_tokens(HELLO) > 0
    assert "".join(engine.stream(HELLO, GenerationParams(max_tokens=2))).split() == ["w0", "w1"]


def test_a_job_wide_stop_event_is_not_set_by_one_unfinished_reply(engine: ProcessEngine) -> None:
    shared = threading.Event()
    replies = engine.stream(HELLO, GenerationParams(max_tokens=400), stop=shared)
    next(iter(replies))
    replies.close()  # type: ignore[attr-defined]
    assert not shared.is_set()


def test_kill_9_mid_reply_keeps_the_partial_reply_and_says_so(engine: ProcessEngine) -> None:
    pid = engine.pid
    assert pid is not None
    got: list[str] = []
    with pytest.raises(EngineCrashed) as crash:
        for text in engine.stream(HELLO, GenerationParams(max_tokens=400)):
            got.append(text)
            if len(got) == 10:
                os.kill(pid, signal.SIGKILL)
    assert len(got) >= 10
    message = str(crash.value)
    assert message.startswith("The engine stopped while answering with Fake model: it was killed (SIGKILL)")
    assert "\n" not in message
    assert crash.value.model == LocalModel(Path("fake.gguf"))
    assert engine.loaded is None and engine.pid is None
    with pytest.raises(EngineError, match="No model is loaded"):
        engine.count_tokens(HELLO)
    engine.load(LocalModel(Path("fake.gguf")))  # a fresh child
    assert engine.pid not in (None, pid)
    assert "".join(engine.stream(HELLO, GenerationParams(max_tokens=2))).split() == ["w0", "w1"]


def test_a_native_assert_while_loading_is_named(tmp_path: Path) -> None:
    e = fake(abort_on_load=ASSERT_LINE)
    with pytest.raises(EngineCrashed) as crash:
        e.load(LocalModel(tmp_path / "bad.gguf"))
    assert str(crash.value) == ("The engine stopped while loading bad.gguf: GGML_ASSERT(n_layer_all > 0 && "
                                "n_layer_all <= LLAMA_MAX_LAYERS) failed (llama-model.cpp:512).")
    assert crash.value.model == LocalModel(tmp_path / "bad.gguf")
    assert e.loaded is None and e.pid is None


def test_a_child_that_died_while_idle_is_restarted_with_its_model(engine: ProcessEngine) -> None:
    pid = engine.pid
    assert pid is not None
    child = engine._child
    assert child is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while child.exitcode is None and time.monotonic() < deadline:  # every thread of it has ended
        time.sleep(0.01)
    assert engine.count_tokens(HELLO) > 0
    assert engine.pid not in (None, pid)
    assert engine.loaded is not None


def test_a_child_that_ignores_stop_is_killed_after_the_grace_time(engine: ProcessEngine) -> None:
    pid = engine.pid
    assert pid is not None
    stop = threading.Event()
    replies = iter(engine.stream(HELLO, GenerationParams(max_tokens=400), stop=stop))
    next(replies)
    os.kill(pid, signal.SIGSTOP)  # frozen: it cannot answer the stop
    stop.set()
    started = time.monotonic()
    with pytest.raises(EngineCrashed, match="it did not stop within 1 s, so Kestrel ended it"):
        list(replies)
    assert 0.9 < time.monotonic() - started < 4.0
    assert child_exited(pid)


def test_a_prompt_that_never_finishes_building_is_ended(engine: ProcessEngine) -> None:
    pid = engine.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # stands in for a template stuck in native code
    started = time.monotonic()
    with pytest.raises(EngineCrashed, match=r"building the prompt.*did not finish within 1\.5 s"):
        engine.count_tokens(HELLO)
    assert time.monotonic() - started < 4.0
    assert child_exited(pid)


def test_a_cancelled_load_ends_its_child_at_once(tmp_path: Path) -> None:
    e = fake(load_s=30.0)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(LoadCancelled):
        e.load(LocalModel(tmp_path / "m.gguf"), cancel=cancel)
    assert time.monotonic() - started < 3.0
    assert e.pid is None


def test_unload_ends_the_child(engine: ProcessEngine) -> None:
    pid = engine.pid
    assert pid is not None
    engine.unload()
    assert child_exited(pid)
    assert engine.loaded is None


def test_the_child_exits_when_its_parent_goes_away(tmp_path: Path) -> None:
    """Closing our end of the pipe (what the parent's death does) ends the child, even mid-reply."""
    e = fake(tokens_per_s=5.0)
    e.load(LocalModel(tmp_path / "m.gguf"))
    pid = e.pid
    child = e._child
    assert pid is not None and child is not None
    iter(e.stream(HELLO, GenerationParams(max_tokens=400)))
    child.conn.close()
    deadline = time.monotonic() + 5
    while not child_exited(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert child_exited(pid)


@pytest.mark.parametrize(("code", "output", "reason"), [
    (-6, "noise\n" + ASSERT_LINE + "\n", "GGML_ASSERT(n_layer_all > 0 && n_layer_all <= LLAMA_MAX_LAYERS) failed "
                                         "(llama-model.cpp:512)"),
    (-6, "/x/ggml/src/ggml-cpu/ops.cpp:3711: GGML_ASSERT(eps >= 0.0f) failed\n",
     "GGML_ASSERT(eps >= 0.0f) failed (ops.cpp:3711)"),
    (-6, "terminate called after throwing an instance of 'std::runtime_error'\n  what():  bad vocab\n",
     "llama.cpp raised an error: bad vocab"),
    (1, "Traceback (most recent call last):\n  File \"x\", line 1\nImportError: no llama_cpp\n",
     "ImportError: no llama_cpp"),
    (-9, "", "it was killed (SIGKILL): the system may have run out of memory, or another program ended it"),
    (-11, "some log line\n", "it crashed (segmentation fault)"),
    (3, "", "it exited with code 3"),
    (None, "", "it stopped answering"),
])
def test_describe_exit(code: int | None, output: str, reason: str) -> None:
    assert describe_exit(code, output) == reason


# ---- llama.cpp on the starter model -------------------------------------------------------
@pytest.mark.real_model
def test_kill_9_of_the_real_engine_mid_reply(starter_model: Path) -> None:
    e = ProcessEngine()
    spec = LocalModel(starter_model, n_ctx=1024)
    e.load(spec)
    pid = e.pid
    assert pid is not None
    got: list[str] = []
    params = GenerationParams(max_tokens=400, temperature=0.0)
    opening = e.tokenize("Once upon a time, a kestrel lived in an old lighthouse by the sea. Every morning")
    with pytest.raises(EngineCrashed, match=r"^The engine stopped while answering with Gemma 3 270m: it was killed"):
        for text in e.stream_tokens(opening, params):  # plain continuation: no stop strings end it early
            got.append(text)
            if len(got) == 2:
                os.kill(pid, signal.SIGKILL)
    assert len(got) >= 2 and "".join(got).strip()
    e.load(spec)
    assert "".join(e.stream([ChatMessage("user", "Say hello.")], GenerationParams(max_tokens=4, temperature=0.0)))
    assert e.last_stats is not None and e.last_stats.completion_tokens > 0
    e.unload()


RAW_LOAD = """
import sys, llama_cpp
model = llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), llama_cpp.llama_model_default_params())
context = llama_cpp.llama_init_from_model(model, llama_cpp.llama_context_default_params())
token = (llama_cpp.llama_token * 1)(1)
llama_cpp.llama_decode(context, llama_cpp.llama_batch_get_one(token, 1))
"""


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("llama.block_count", (0, "UINT32"),
     r"GGML_ASSERT\(hparams\.n_layer_all > 0 && hparams\.n_layer_all <= LLAMA_MAX_LAYERS\) failed "
     r"\(llama-model\.cpp:\d+\)"),
    ("llama.attention.layer_norm_rms_epsilon", (float("nan"), "FLOAT32"),
     r"GGML_ASSERT\(eps >= 0\.0f\) failed \(ops\.cpp:\d+\)"),
])
def test_the_reason_is_read_from_llama_cpps_real_assert(tmp_path: Path, key: str, value: tuple[object, str],
                                                        reason: str) -> None:
    """llama.cpp itself (no Kestrel checks in front) aborting on a bad file: its words are found."""
    import subprocess
    import sys

    import gguf

    from tests import gguf_files

    bad = gguf_files.rewrite_metadata(gguf_files.write_tiny_llama(tmp_path / "tiny.gguf"), tmp_path / "bad.gguf",
                                      {key: (value[0], gguf.GGUFValueType[value[1]])})
    result = subprocess.run([sys.executable, "-c", RAW_LOAD, str(bad)], capture_output=True, text=True,
                            env={**os.environ, "GGML_NO_BACKTRACE": "1"}, timeout=60)
    assert result.returncode == -signal.SIGABRT
    assert re.fullmatch(reason, describe_exit(result.returncode, result.stderr))
