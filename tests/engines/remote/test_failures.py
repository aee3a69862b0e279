"""The remote engine against scripted servers: every way a server can fail, said in one line, nothing lost.

Each case keeps what was streamed (the deltas already yielded), leaves ``last_stats`` set,
raises an :class:`EngineError` whose message is one line, and ends quickly (timeouts here
are fractions of a second). Everything runs on 127.0.0.1 under the loopback guard.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from huggingface_hub.utils import httpx

from app.engines.contract import (
    ChatMessage,
    ContextOverflowError,
    Endpoint,
    EngineError,
    GenerationParams,
    LogprobEngine,
    TokenEngine,
)
from app.engines.factory import make_engine
from app.engines.remote.client import Timeouts, transport_failure
from app.engines.remote.engine import DEFAULT_N_CTX, RemoteEngine
from tests.openai_servers import ScriptedServer, free_port

HELLO = [ChatMessage("user", "hello there")]
PARAMS = GenerationParams(max_tokens=32, seed=1)
PIECES = ["one", " two", " three", " four", " five", " six"]

pytestmark = pytest.mark.usefixtures("loopback_guard")


def quick(**kwargs: object) -> RemoteEngine:
    options: dict[str, object] = {"connect_s": 2.0, "request_s": 2.0, "first_byte_s": 2.0, "idle_s": 2.0}
    options.update(kwargs)
    return RemoteEngine(**options)  # type: ignore[arg-type]


def loaded(server: ScriptedServer, **kwargs: object) -> RemoteEngine:
    engine = quick(**kwargs)
    engine.load(Endpoint(server.base_url, "test-model"))
    return engine


def collect(engine: RemoteEngine, stop: threading.Event | None = None) -> tuple[list[str], EngineError | None]:
    """The deltas that arrived, and the error the reply ended with (None: it ended well)."""
    deltas: list[str] = []
    try:
        for delta in engine.stream(HELLO, PARAMS, stop):
            deltas.append(delta)
    except EngineError as exc:
        return deltas, exc
    return deltas, None


def one_line(exc: BaseException | None) -> str:
    assert exc is not None, "the reply should have failed"
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text
    return text


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(pieces=PIECES) as s:
        yield s


# ---- a good server -----------------------------------------------------------------------
def test_factory_builds_a_remote_engine_that_claims_no_token_capabilities() -> None:
    engine = make_engine(Endpoint("http://127.0.0.1:1/v1", "m"))
    assert isinstance(engine, RemoteEngine)
    assert not isinstance(engine, TokenEngine) and not isinstance(engine, LogprobEngine)


def test_load_stream_and_stats_with_server_figures(server: ScriptedServer) -> None:
    server.owned_by = "llamacpp"
    server.llama_server = True
    server.usage = {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
    server.timings = {"prompt_n": 4, "cache_n": 8, "prompt_ms": 20.0, "prompt_per_second": 200.0,
                      "predicted_n": 6, "predicted_ms": 50.0, "predicted_per_second": 120.0}
    engine = loaded(server)
    assert engine.loaded is not None
    assert engine.loaded.backend == "llama-server" and engine.loaded.n_ctx == server.n_ctx
    assert engine.loaded.chat_format == "server" and engine.loaded.adjustments == ()
    assert engine.loaded.exact_counts  # llama-server tokenizes with the model's own template
    deltas, error = collect(engine)
    assert error is None and "".join(deltas) == "".join(PIECES)
    stats = engine.last_stats
    assert stats is not None and stats.stop_reason == "eos"
    assert stats.completion_tokens == 6 and stats.source_of("completion_tokens") == "server"
    assert (stats.prompt_tokens, stats.cached_tokens, stats.evaluated_tokens) == (12, 8, 4)
    assert stats.source_of("prefill_s") == "server" and stats.prefill_s == pytest.approx(0.02)
    assert stats.source_of("ttft_s") == "client" and stats.source_of("total_s") == "client"
    assert stats.source_of("decode_tps") == "client" and stats.context_used == 18
    figures = engine.last_server_figures
    assert figures is not None and figures.decode_tps == 120.0  # the server's own rate, kept apart
    body = server.chats()[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 32 and body["seed"] == 1
    count = engine.count_tokens(HELLO)
    assert engine.token_counting == "exact" and engine.last_count_exact and count == 2  # words of the rendered prompt


def test_unknown_figures_stay_unknown_and_an_unreported_context_is_flagged(server: ScriptedServer) -> None:
    engine = loaded(server)
    assert engine.loaded is not None and engine.loaded.n_ctx == DEFAULT_N_CTX
    assert engine.loaded.backend == "OpenAI-compatible server"
    assert any("assumes" in note for note in engine.loaded.adjustments)
    assert not engine.loaded.exact_counts  # no tokenizer on this server: counts are estimates
    collect(engine)
    stats = engine.last_stats
    assert stats is not None and stats.completion_tokens == len(PIECES)
    assert stats.prompt_tokens is None and stats.prefill_s is None and stats.context_used is None
    assert stats.source_of("completion_tokens") == "client" and engine.last_server_figures is None
    assert engine.token_counting == "estimate"
    assert engine.count_tokens(HELLO) > 3 and not engine.last_count_exact
    engine.unload()
    assert engine.loaded is None


def test_the_api_key_is_sent_and_a_wrong_one_refused(server: ScriptedServer) -> None:
    server.api_key = "secret"
    with pytest.raises(EngineError) as refused:
        quick(api_key="wrong").load(Endpoint(server.base_url, "test-model"))
    assert "refused the API key" in one_line(refused.value) and server.base_url in str(refused.value)
    engine = quick(resolve_key={"work": "secret"}.get)
    engine.load(Endpoint(server.base_url, "test-model", credential="work"))
    assert server.requests[-1].headers["Authorization"] == "Bearer secret"
    with pytest.raises(EngineError, match="not stored"):
        quick().load(Endpoint(server.base_url, "test-model", credential="missing"))


# ---- refused before anything streams ---------------------------------------------------
def test_a_refused_port_is_one_clear_line() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(EngineError) as refused:
        quick().load(Endpoint(url, "m"))
    assert "connection refused" in one_line(refused.value) and url in str(refused.value)
    assert time.monotonic() - started < 2.0


def test_tls_to_a_plain_server_fails_clearly(server: ScriptedServer) -> None:
    url = server.base_url.replace("http://", "https://")
    with pytest.raises(EngineError) as failed:
        quick().load(Endpoint(url, "test-model"))
    assert "TLS" in one_line(failed.value) and url in str(failed.value)


def test_dns_failure_names_the_host() -> None:
    exc = httpx.ConnectError("[Errno -2] Name or service not known")
    text = str(transport_failure(exc, "http://gpu-box.lan:8080/v1", Timeouts()))
    assert "gpu-box.lan" in text and "does not resolve" in text


def test_an_unknown_model_lists_what_the_server_offers(server: ScriptedServer) -> None:
    server.models = ["alpha", "beta"]
    with pytest.raises(EngineError) as unknown:
        quick().load(Endpoint(server.base_url, "gamma"))
    assert "'gamma'" in one_line(unknown.value) and "alpha, beta" in str(unknown.value)


def test_a_model_gone_from_the_server_fails_the_reply(server: ScriptedServer) -> None:
    engine = loaded(server)
    server.models = ["another"]
    deltas, error = collect(engine)
    assert deltas == [] and "has no model 'test-model'" in one_line(error)
    assert engine.last_stats is not None and engine.last_stats.completion_tokens == 0


@pytest.mark.parametrize(("status", "words"), [(429, "busy (HTTP 429"), (503, "busy or still loading")])
def test_a_busy_server(server: ScriptedServer, status: int, words: str) -> None:
    engine = loaded(server)
    server.chat_error = (status, {"error": {"message": "slots are all taken"}})
    deltas, error = collect(engine)
    assert deltas == [] and words in one_line(error) and "slots are all taken" in str(error)


@pytest.mark.parametrize("answer", [
    {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
               "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 2048}},
    {"error": {"message": "This model's maximum context length is 2048 tokens. However, your messages "
                          "resulted in 5000 tokens.", "code": "context_length_exceeded"}},
])
def test_context_too_long_in_the_servers_words(server: ScriptedServer, answer: dict[str, object]) -> None:
    engine = loaded(server)
    server.chat_error = (400, answer)
    with pytest.raises(ContextOverflowError) as overflow:
        list(engine.stream(HELLO, PARAMS))
    error = answer["error"]
    assert isinstance(error, dict) and error["message"] in one_line(overflow.value)
    assert overflow.value.prompt_tokens == 5000


# ---- failing mid-reply -------------------------------------------------------------------
def test_a_stream_cut_mid_reply_keeps_the_text_and_says_it_was_cut(server: ScriptedServer) -> None:
    engine = loaded(server)
    server.cut_after = 3
    deltas, error = collect(engine)
    assert deltas == PIECES[:3] and "was cut" in one_line(error) and "kept" in str(error)
    assert engine.last_stats is not None and engine.last_stats.completion_tokens == 3


def test_a_server_that_never_answers_ends_within_the_first_byte_timeout(server: ScriptedServer) -> None:
    engine = loaded(server, first_byte_s=0.4)
    server.never_answer = True
    started = time.monotonic()
    deltas, error = collect(engine)
    assert deltas == [] and "within 0.4 s" in one_line(error)
    assert 0.4 <= time.monotonic() - started < 1.5


def test_a_server_that_goes_silent_ends_within_the_idle_timeout(server: ScriptedServer) -> None:
    engine = loaded(server, idle_s=0.4)
    server.stall_after = 2
    started = time.monotonic()
    deltas, error = collect(engine)
    assert deltas == PIECES[:2] and "silent for 0.4 s" in one_line(error)
    assert time.monotonic() - started < 1.5


def test_a_malformed_chunk_ends_the_reply_and_keeps_the_text(server: ScriptedServer) -> None:
    engine = loaded(server)
    server.malformed_after = 2
    deltas, error = collect(engine)
    assert deltas == PIECES[:2] and "malformed chunk" in one_line(error)


def test_an_error_inside_the_stream_uses_the_servers_words(server: ScriptedServer) -> None:
    engine = loaded(server)
    server.error_after = 2
    deltas, error = collect(engine)
    assert deltas == PIECES[:2] and "llama_decode failed" in one_line(error)


# ---- stop ------------------------------------------------------------------------------
def test_stop_wakes_a_blocked_read_at_once_and_closes_the_connection(server: ScriptedServer) -> None:
    engine = loaded(server)
    server.stall_after = 2
    stop = threading.Event()
    deltas: list[str] = []
    stopped_at: list[float] = []

    def stop_soon() -> None:
        time.sleep(0.2)  # the reply is blocked on a silent server by now
        stopped_at.append(time.monotonic())
        stop.set()

    threading.Thread(target=stop_soon, daemon=True).start()
    for delta in engine.stream(HELLO, PARAMS, stop):
        deltas.append(delta)
    ended = time.monotonic()
    assert deltas == PIECES[:2] and ended - stopped_at[0] < 0.5
    assert engine.last_stats is not None and engine.last_stats.stop_reason == "cancelled"


def test_stop_before_headers_and_leaving_the_loop_early(server: ScriptedServer) -> None:
    engine = loaded(server)
    server.never_answer = True
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    deltas, error = collect(engine, stop)
    assert error is None and deltas == [] and time.monotonic() - started < 0.7
    server.never_answer = False
    server.delay_s = 0.05
    reply = engine.stream(HELLO, PARAMS)
    assert next(reply) == "one"
    reply.close()  # the caller stops reading: the reply ends, its figures stay
    assert engine.last_stats is not None and engine.last_stats.stop_reason == "cancelled"
    assert server.disconnected.wait(2.0)


def test_the_factory_engine_takes_the_key_from_the_referenced_environment_variable(
        server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.api_key = "from-env"
    spec = Endpoint(server.base_url, "test-model", credential="env:KESTREL_TEST_KEY")
    with pytest.raises(EngineError) as missing:
        make_engine(spec).load(spec)
    assert "KESTREL_TEST_KEY" in one_line(missing.value)
    monkeypatch.setenv("KESTREL_TEST_KEY", "from-env")
    engine = make_engine(spec)
    assert engine.load(spec).backend == "OpenAI-compatible server"
    engine.unload()
