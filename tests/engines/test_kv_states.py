"""Conversation KV states on disk: restored answers match, stale or damaged states are never used."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.base import paths
from app.engines.contract import ChatMessage, GenerationParams, GenerationStats, LocalModel
from app.engines.llama.engine import LlamaEngine
from app.engines.llama.states.store import SUFFIX, KVStore, StateKey, decode, encode
from app.engines.process.engine import ProcessEngine

GREEDY = GenerationParams(max_tokens=6, temperature=0.0)
RIVERS = " ".join(f"The river number {i} flows past the old mill and turns its wheel." for i in range(25))
BIRDS = " ".join(f"Bird {i} sings a different song at dawn, high above the quiet valley." for i in range(25))

Factory = Callable[..., LlamaEngine]


def states_dir() -> Path:
    return paths.cache_dir() / "kv-states"


def state_files() -> list[Path]:
    return sorted(states_dir().glob("*" + SUFFIX))


@pytest.fixture
def make_engine(starter_model: Path) -> Iterator[Factory]:
    """Engines on the starter model with a small context; all unloaded at the end."""
    engines: list[LlamaEngine] = []

    def make(n_ctx: int = 1024, budget_mb: int = 2048) -> LlamaEngine:
        engine = LlamaEngine()
        engine.load(LocalModel(path=starter_model, n_ctx=n_ctx, state_budget_mb=budget_mb))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.unload()


def reply(engine: LlamaEngine, messages: list[ChatMessage]) -> tuple[str, GenerationStats]:
    text = "".join(engine.stream(messages, GREEDY))
    assert engine.last_stats is not None
    return text, engine.last_stats


def follow_up(engine: LlamaEngine, topic: str) -> list[ChatMessage]:
    """A first turn about ``topic``, its reply, and a short question after it."""
    first = [ChatMessage("user", topic)]
    answer, _ = reply(engine, first)
    return [*first, ChatMessage("assistant", answer), ChatMessage("user", "Say that again, shorter.")]


def warm_reference(make_engine: Factory, topic: str) -> tuple[list[ChatMessage], str]:
    """The follow-up and its greedy answer from an engine that kept the first turn in its cache."""
    engine = make_engine(budget_mb=0)
    messages = follow_up(engine, topic)
    text, stats = reply(engine, messages)
    assert stats.restored_tokens is None and stats.cached_tokens and stats.cached_tokens > 100
    engine.unload()
    return messages, text


pytestmark = pytest.mark.real_model


def test_switching_chats_restores_and_answers_the_same(make_engine: Factory) -> None:
    messages, expected = warm_reference(make_engine, RIVERS)
    engine = make_engine()
    assert follow_up(engine, RIVERS) == messages  # greedy: the same first reply
    reply(engine, [ChatMessage("user", BIRDS)])  # another chat takes the cache
    text, stats = reply(engine, messages)
    assert text == expected
    assert stats.restored_tokens is not None and stats.restored_tokens > 300
    assert stats.restore_s is not None and 0 < stats.restore_s <= stats.ttft_s  # type: ignore[operator]
    assert stats.cached_tokens == stats.restored_tokens
    assert stats.evaluated_tokens is not None and stats.evaluated_tokens < 30
    assert stats.prompt_tokens == stats.cached_tokens + stats.evaluated_tokens
    # and back to the other chat: it was saved too
    _, back = reply(engine, [ChatMessage("user", BIRDS), ChatMessage("assistant", "Yes."),
                             ChatMessage("user", "More.")])
    assert back.restored_tokens is not None and back.restored_tokens > 300


def test_a_new_engine_restores_from_disk(make_engine: Factory) -> None:
    messages, expected = warm_reference(make_engine, RIVERS)
    first = make_engine()
    follow_up(first, RIVERS)
    first.unload()  # waits for the write, as the app's engine process does when it ends
    assert len(state_files()) == 1
    restarted = make_engine()
    text, stats = reply(restarted, messages)
    assert text == expected
    assert stats.restored_tokens is not None and stats.restored_tokens > 300
    assert stats.evaluated_tokens is not None and stats.evaluated_tokens < 30


def test_an_engine_process_that_ends_writes_its_state_first(starter_model: Path) -> None:
    """The app's engine runs in a child that exits when its pipe closes: the queued state is written first."""
    spec = LocalModel(path=starter_model, n_ctx=1024)
    engine = ProcessEngine()
    engine.load(spec)
    first = [ChatMessage("user", RIVERS)]
    answer = "".join(engine.stream(first, GREEDY))
    engine.unload()
    assert len(state_files()) == 1
    restarted = ProcessEngine()
    restarted.load(spec)
    try:
        messages = [*first, ChatMessage("assistant", answer), ChatMessage("user", "Say that again, shorter.")]
        "".join(restarted.stream(messages, GREEDY))
        stats = restarted.last_stats
        assert stats is not None and stats.restored_tokens is not None and stats.restored_tokens > 300
        assert stats.restore_s is not None and stats.restore_s > 0
    finally:
        restarted.unload()


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage-state"])
def test_a_damaged_state_is_ignored_deleted_and_recomputed(make_engine: Factory, damage: str) -> None:
    messages, expected = warm_reference(make_engine, RIVERS)
    first = make_engine()
    follow_up(first, RIVERS)
    key = first.state_store.key  # type: ignore[union-attr]
    first.unload()
    (path,) = state_files()
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":  # same size, header intact: only the checksum tells
        path.write_bytes(blob[:-100] + bytes(b ^ 0xFF for b in blob[-100:]))
    else:  # a well-formed file whose state llama.cpp refuses
        tokens, _ = decode(blob, key) or ([], b"")
        path.write_bytes(b"".join(encode(key, tokens, b"not a llama.cpp state" * 50)))
    restarted = make_engine()
    text, stats = reply(restarted, messages)
    assert text == expected
    assert stats.restored_tokens is None and stats.restore_s is None
    assert stats.evaluated_tokens == stats.prompt_tokens
    assert not path.exists()  # the bad one is deleted


def test_a_state_for_another_context_size_is_not_used(make_engine: Factory) -> None:
    messages, expected = warm_reference(make_engine, RIVERS)
    small = make_engine(n_ctx=1024)
    follow_up(small, RIVERS)
    small.unload()
    other = make_engine(n_ctx=1280)
    text, stats = reply(other, messages)
    assert stats.restored_tokens is None and stats.evaluated_tokens == stats.prompt_tokens
    assert text == expected
    other.unload()
    assert len(state_files()) == 2  # the 1024-token state is kept for that context size


def test_saving_never_delays_the_reply(make_engine: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer is held until the reply is over; the reply (and a restore) go on without it."""
    gate = threading.Event()
    real_write = KVStore._write_file

    def held_write(self: KVStore, path: Path, parts: list[bytes | bytearray]) -> None:
        assert gate.wait(60)
        real_write(self, path, parts)

    monkeypatch.setattr(KVStore, "_write_file", held_write)
    engine = make_engine()
    messages = follow_up(engine, RIVERS)  # its state is queued, not written
    assert state_files() == []
    reply(engine, [ChatMessage("user", BIRDS)])
    _, stats = reply(engine, messages)  # served from the queued bytes
    assert stats.restored_tokens is not None and stats.restored_tokens > 300
    assert state_files() == []
    gate.set()
    store = engine.state_store
    assert store is not None and store.flush(30)
    assert len(state_files()) == len(store) >= 2  # birds, and rivers' follow-up (its first turn if not extended)


def test_saving_off_writes_nothing(make_engine: Factory) -> None:
    engine = make_engine(budget_mb=0)
    follow_up(engine, RIVERS)
    assert engine.state_store is None and state_files() == []


def test_one_off_steps_and_short_chats_are_not_saved(make_engine: Factory) -> None:
    """A summary step or a translated segment is never continued, and a short chat is read again faster."""
    engine = make_engine()
    store = engine.state_store
    assert store is not None
    "".join(engine.stream([ChatMessage("user", RIVERS)], replace(GREEDY, save_state=False)))
    "".join(engine.stream([ChatMessage("user", "Hello there.")], GREEDY))  # far under SAVE_MIN_TOKENS
    store.flush(10)
    assert len(store) == 0 and state_files() == []
    "".join(engine.stream([ChatMessage("user", RIVERS)], GREEDY))
    store.flush(10)
    assert len(store) == 1


def test_stats_with_restore_figures_survive_pickle_and_to_dict() -> None:
    stats = GenerationStats(completion_tokens=3, total_s=0.5, stop_reason="eos", backend="CPU", model="m",
                            restored_tokens=1200, restore_s=0.04)
    assert pickle.loads(pickle.dumps(stats)) == stats
    data = stats.to_dict()
    assert (data["restored_tokens"], data["restore_s"]) == (1200, 0.04)


# ---- the store alone (no model) ----------------------------------------------------------


KEY = StateKey(1, 2, "abc", 1024, 1, 1, -1, True, "test")


def test_eviction_keeps_the_budget_and_drops_the_least_recently_used(tmp_path: Path) -> None:
    store = KVStore(tmp_path, KEY, budget=2500)
    for i in range(5):
        store.put([1000 + i] * 100, bytes([i]) * 1000)  # about 1.5 kB a file with tokens and header
        assert store.flush(10)
    on_disk = sum(p.stat().st_size for p in tmp_path.glob("*" + SUFFIX))
    assert on_disk <= 2500 and store.disk_bytes == on_disk
    assert len(store) == 1
    match = store.best([1004] * 100 + [7])
    assert match is not None and store.load(match) == bytes([4]) * 1000  # the newest survived
    store.close()


def test_another_models_states_are_kept_but_count_in_the_budget(tmp_path: Path) -> None:
    other = KVStore(tmp_path, StateKey(9, 9, "other", 4096, 1, 1, -1, True, "test"), budget=10_000)
    other.put(list(range(100)), b"o" * 1000)
    other.close()
    store = KVStore(tmp_path, KEY, budget=2000)
    assert store.best(list(range(120))) is None  # never matched
    assert len(store) == 1  # but indexed: it is the oldest, so it goes first
    store.put(list(range(200, 300)), b"n" * 1000)
    assert store.flush(10)
    assert [p.stat().st_size < 2000 for p in tmp_path.glob("*" + SUFFIX)] == [True]
    match = store.best(list(range(200, 310)))
    assert match is not None and store.load(match) == b"n" * 1000
    store.close()


def test_a_state_that_a_newer_one_extends_is_replaced(tmp_path: Path) -> None:
    store = KVStore(tmp_path, KEY)
    store.put(list(range(100)), b"a" * 10)
    store.put(list(range(150)), b"b" * 10)
    store.put(list(range(50, 200)), b"c" * 10)  # another conversation: kept
    assert store.flush(10)
    assert len(list(tmp_path.glob("*" + SUFFIX))) == 2
    match = store.best(list(range(160)))
    assert match is not None and match.shared == 150 and store.load(match) == b"b" * 10
    assert store.best(list(range(30))) is None  # shorter than a state is worth
    store.close()
    again = KVStore(tmp_path, KEY)  # a restart reads the index back
    match = again.best(list(range(160)))
    assert match is not None and match.shared == 150 and again.load(match) == b"b" * 10
    again.close()
