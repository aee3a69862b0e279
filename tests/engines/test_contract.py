"""The engine contract: honest stats, declared capabilities, one factory."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from app.engines.contract import (
    ChatMessage,
    Endpoint,
    Engine,
    GenerationParams,
    GenerationStats,
    LiveStats,
    LoadedModel,
    LoadProgress,
    LocalModel,
    LogprobEngine,
    ModelSpec,
    ProgressCallback,
    TokenEngine,
)
from app.engines.factory import make_engine, same_kind
from app.engines.fake import FakeEngine
from app.engines.reporting import ReportingEngine, reporting


class ChatOnlyEngine(Engine):
    """The plain contract and nothing more (what a remote server without a tokenizer offers)."""

    def __init__(self) -> None:
        self._fake = FakeEngine(tokens_per_s=0, prefill_tps=0)

    @property
    def loaded(self) -> LoadedModel | None:
        return self._fake.loaded

    @property
    def last_stats(self) -> GenerationStats | None:
        return self._fake.last_stats

    def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        return self._fake.load(spec, on_progress, cancel)

    def unload(self) -> None:
        self._fake.unload()

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self._fake.count_tokens(messages)

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams,
               stop: threading.Event | None = None, on_progress: ProgressCallback | None = None) -> Iterator[str]:
        return self._fake.stream(messages, params, stop, on_progress)


def test_unknown_figures_have_no_source_and_sources_are_per_figure() -> None:
    stats = GenerationStats(completion_tokens=3, total_s=0.5, stop_reason="eos", backend="server", model="m",
                            prompt_tokens=12, ttft_s=0.2, decode_tps=None, source="client",
                            sources={"prompt_tokens": "server"})
    assert stats.source_of("ttft_s") == "client"
    assert stats.source_of("prompt_tokens") == "server"
    assert stats.source_of("decode_tps") is None
    data = stats.to_dict()
    assert data["decode_tps"] is None and data["cached_tokens"] is None
    assert data["sources"] == {"prompt_tokens": "server", "completion_tokens": "client", "ttft_s": "client",
                               "total_s": "client"}


def test_loaded_model_path_only_for_local_models(tmp_path: Path) -> None:
    local = LoadedModel(spec=LocalModel(path=tmp_path / "m.gguf"), name="m", n_ctx=256, backend="CPU",
                        chat_format="plain", load_s=0.0)
    remote = LoadedModel(spec=Endpoint(url="http://127.0.0.1:8080/v1", model_id="m"), name="m", n_ctx=256,
                         backend="server", chat_format="server", load_s=0.0)
    assert local.path == tmp_path / "m.gguf"
    assert remote.path is None
    assert local.gpu_layers is None and local.quant is None


def test_capabilities_are_declared_and_wrappers_keep_them_truthful() -> None:
    fake, chat_only = FakeEngine(), ChatOnlyEngine()
    assert isinstance(fake, TokenEngine) and isinstance(fake, LogprobEngine)
    assert not isinstance(chat_only, TokenEngine) and not isinstance(chat_only, LogprobEngine)

    def ignore(_item: object) -> None:
        return None

    wrapped_fake, wrapped_chat = reporting(fake, ignore, ignore), reporting(chat_only, ignore, ignore)
    assert isinstance(wrapped_fake, TokenEngine) and isinstance(wrapped_fake, LogprobEngine)
    assert type(wrapped_chat) is ReportingEngine
    assert not isinstance(wrapped_chat, TokenEngine) and not isinstance(wrapped_chat, LogprobEngine)


def test_reporting_engine_reports_live_figures_and_final_stats(tmp_path: Path) -> None:
    lives: list[LiveStats] = []
    finals: list[GenerationStats] = []
    engine = reporting(FakeEngine(reply="one two three", tokens_per_s=0, prefill_tps=0), lives.append, finals.append)
    engine.load(LocalModel(path=tmp_path / "m.gguf"))
    assert "".join(engine.stream([ChatMessage("user", "hi")], GenerationParams())) == "one two three"
    assert len(finals) == 1 and finals[0].completion_tokens == 3
    assert lives and lives[0].phase == "decode"


def test_factory_picks_the_engine_by_spec(tmp_path: Path) -> None:
    from app.engines.process.engine import ProcessEngine
    from app.engines.remote.engine import RemoteEngine

    assert isinstance(make_engine(LocalModel(path=tmp_path / "m.gguf")), ProcessEngine)
    assert isinstance(make_engine(Endpoint(url="http://127.0.0.1:1/v1", model_id="m")), RemoteEngine)
    assert same_kind(LocalModel(path=Path("a")), LocalModel(path=Path("b")))
    assert not same_kind(LocalModel(path=Path("a")), Endpoint(url="u", model_id="m"))


def test_fake_engine_token_path_matches_its_chat_path(tmp_path: Path) -> None:
    engine = FakeEngine(reply=lambda messages: messages[-1].content.upper(), tokens_per_s=0, prefill_tps=0)
    engine.load(LocalModel(path=tmp_path / "m.gguf"))
    messages = [ChatMessage("user", "quiet words")]
    tokens, _stops = engine.prompt_tokens(messages)
    assert len(tokens) == engine.count_tokens(messages)
    assert "".join(engine.stream_tokens(tokens, GenerationParams())) == "QUIET WORDS"
    assert engine.requests[-1] == messages
