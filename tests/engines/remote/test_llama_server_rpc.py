"""One model split across two RPC servers, served by llama.cpp's own llama-server, driven by Kestrel.

Issue 12's "outgrowing one machine", played on one machine: two ``ggml-rpc-server`` processes on
127.0.0.1 hold the starter model's layers, ``llama-server --rpc`` runs the model on them, and
Kestrel's remote engine chats through it, showing llama-server's own ``timings`` beside the
figures timed here. The tools are built by ``packaging/build_llama_tools.sh`` from the llama.cpp
the engine uses; without them this module is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.engines.contract import ChatMessage, Endpoint, GenerationParams
from app.engines.remote.engine import RemoteEngine
from tests.llama_tools import LlamaTools, model_id, run_process, tail, wait_healthy, wait_listening
from tests.openai_servers import free_port

pytestmark = [pytest.mark.real_model, pytest.mark.usefixtures("loopback_guard")]

N_CTX = 1024
QUESTION = [ChatMessage("user", "Name three birds of prey.")]
MIB = 1024 * 1024


@dataclass(frozen=True)
class Cluster:
    """A running llama-server on two RPC servers: its base URL, ports and log files."""

    url: str
    rpc_ports: tuple[int, int]
    server_log: Path
    rpc_logs: tuple[Path, Path]


@pytest.fixture(scope="module")
def cluster(tools: LlamaTools, starter_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    logs = tmp_path_factory.mktemp("llama-server-rpc")
    ports = (free_port(), free_port())
    rpc_logs = (logs / "rpc-0.log", logs / "rpc-1.log")
    server_log = logs / "llama-server.log"
    with ExitStack() as stack:
        for port, log in zip(ports, rpc_logs, strict=True):
            # GGML_RPC_DEBUG: the server logs every buffer it allocates and every graph it computes
            rpc = stack.enter_context(run_process(
                [str(tools.rpc_server), "-H", "127.0.0.1", "-p", str(port), "-t", "1"], log, {"GGML_RPC_DEBUG": "1"}))
            wait_listening(rpc, port, log)
        http_port = free_port()
        server = stack.enter_context(run_process(
            [str(tools.server), "-m", str(starter_model), "--rpc", ",".join(f"127.0.0.1:{p}" for p in ports),
             "--host", "127.0.0.1", "--port", str(http_port), "-c", str(N_CTX), "-np", "1", "-ngl", "99",
             "-t", "1", "--offline", "-lv", "4"], server_log))  # -lv 4: the log names each device's buffers
        root = f"http://127.0.0.1:{http_port}"
        wait_healthy(server, root, server_log)
        yield Cluster(f"{root}/v1", ports, server_log, rpc_logs)


def test_the_layers_live_on_both_rpc_servers(cluster: Cluster) -> None:
    log = cluster.server_log.read_text(errors="replace")
    offloaded = re.search(r"offloaded (\d+)/(\d+) layers to GPU", log)
    assert offloaded is not None and offloaded[1] == offloaded[2], tail(cluster.server_log)
    for port, rpc_log in zip(cluster.rpc_ports, cluster.rpc_logs, strict=True):
        # llama-server's view: a model buffer on this RPC device
        held = re.search(rf"RPC\d+\[127\.0\.0\.1:{port}\] model buffer size = +([\d.]+) MiB", log)
        assert held is not None and float(held[1]) > 10, f"no model buffer on port {port}:\n{tail(cluster.server_log)}"
        # the RPC server's view: it allocated those buffers itself
        allocated = [int(size) for size in re.findall(r"\[alloc_buffer\] device: \d+, size: (\d+) -> remote_ptr",
                                                      rpc_log.read_text(errors="replace"))]
        assert sum(allocated) > 10 * MIB, f"RPC server on port {port} allocated {allocated}:\n{tail(rpc_log)}"


def test_kestrel_chats_through_llama_server_on_rpc(cluster: Cluster) -> None:
    engine = RemoteEngine()
    try:
        loaded = engine.load(Endpoint(url=cluster.url, model_id=model_id(cluster.url)))
        assert loaded.backend == "llama-server" and engine.server_kind == "llama-server"
        assert loaded.n_ctx == N_CTX  # from /props
        computed_before = [_graph_computes(log) for log in cluster.rpc_logs]
        text = "".join(engine.stream(QUESTION, GenerationParams(max_tokens=24, temperature=0.0, seed=1)))
        stats = engine.last_stats
    finally:
        engine.unload()

    assert text.strip(), "no text came back"
    assert stats is not None and stats.stop_reason in ("eos", "length") and stats.backend == "llama-server"
    server = stats.server
    assert server is not None, "llama-server's timings were not read"
    assert server.completion_tokens is not None and server.completion_tokens >= 2  # predicted_n
    assert server.evaluated_tokens is not None and server.evaluated_tokens > 0  # prompt_n
    assert server.cached_tokens is not None and server.prompt_tokens is not None
    assert server.decode_tps is not None and server.decode_tps > 0  # predicted_per_second
    assert server.prefill_tps is not None and server.prefill_s is not None and server.decode_s is not None
    assert stats.completion_tokens == server.completion_tokens
    for figure in ("completion_tokens", "prompt_tokens", "evaluated_tokens", "prefill_s", "prefill_tps"):
        assert stats.source_of(figure) == "server", figure
    for figure in ("ttft_s", "decode_tps", "total_s"):
        assert stats.source_of(figure) == "client", figure
    assert stats.ttft_s is not None and stats.decode_tps is not None and stats.decode_tps > 0
    # the reply was computed on both RPC servers, not only loaded there
    computed_after = [_graph_computes(log) for log in cluster.rpc_logs]
    assert all(after > before for before, after in zip(computed_before, computed_after, strict=True)), (
        computed_before, computed_after)


def _graph_computes(log: Path) -> int:
    return log.read_text(errors="replace").count("[graph_compute]")
