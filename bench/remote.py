"""Remote benchmark: Kestrel's remote engine against a bare SSE reader, on the same server.

Prints, in one run against one OpenAI-compatible server:
- decode tokens/s measured here by Kestrel's client as the app runs it: ``RemoteEngine.stream``
  (its SSE parsing, the stream watch thread, stats, progress callbacks), read from its
  ``GenerationStats.decode_tps`` (source "client");
- the same for a bare reader, the least a client can do: one httpx request with the same
  body, ``data:`` lines found with plain string operations, content chunk arrival timed the
  same way: (tokens - 1) / (last content chunk - first), with the server's token count when
  it reports one (llama-server ``timings.predicted_n``, OpenAI ``usage.completion_tokens``),
  else the number of content chunks;
- their ratio: the medians of each, and the median of the adjacent-pair ratios. Runs
  alternate Kestrel / bare (never at the same time) for ``--rounds`` rounds, with the same
  greedy request (temperature 0, a fixed seed), so both decode the same tokens (checked);
- time to first content for both, and the server's own decode rate where it reports one
  (llama-server's ``timings``), labelled as the server's. For the server this script starts,
  also llama.cpp's own decode rate from the server's log (``llama_perf_context_print``: the
  decode calls alone) and the CPU the server and this process used while streaming.

By default it starts ``python -m llama_cpp.server`` on the starter model on 127.0.0.1 (a free
port) and stops it at the end; ``--endpoint URL --model ID`` uses a server already running.

Usage: python bench/remote.py [--gguf PATH] [--threads N] [--tokens N] [--rounds N] [--json]
       python bench/remote.py --endpoint http://host:8080/v1 --model ID [--api-key-env VAR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
from huggingface_hub.utils import httpx

from app.engines.contract import ChatMessage, Endpoint, GenerationParams
from app.engines.llama.opening import default_threads
from app.engines.remote.engine import RemoteEngine
from app.models.starter import ensure_starter_model

PROMPT = [ChatMessage("user", "Write a long, detailed story about a kestrel that lives in an old lighthouse.")]
N_CTX = 1024
SEED = 1234
#: llama.cpp's own decode timing, printed by llama-cpp-python's server after each reply (verbose on).
EVAL_LINE = re.compile(r"llama_perf_context_print:\s+eval time =.*?([\d.]+) tokens per second")


@dataclass
class Run:
    """One reply as one client timed it."""

    decode_tps: float
    ttft_s: float
    tokens: int
    text: str
    client_cpu_s: float = 0.0
    wall_s: float = 0.0
    server_cpu_s: float | None = None
    server_tps: float | None = None  # reported in the reply (llama-server timings)
    log_tps: float | None = None  # llama.cpp's decode rate from the server's log
    extra: dict[str, Any] = field(default_factory=dict)


def process_cpu_s() -> float:
    """CPU seconds of this process, all its threads (Kestrel's stream watch included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def request_body(model_id: str, params: GenerationParams) -> dict[str, Any]:
    """The body ``RemoteEngine.stream`` posts for ``PROMPT`` and ``params`` (kept equal by the text check)."""
    body: dict[str, Any] = {
        "model": model_id, "messages": [{"role": m.role, "content": m.content} for m in PROMPT],
        "stream": True, "stream_options": {"include_usage": True},
        "max_tokens": params.max_tokens, "temperature": params.temperature, "top_p": params.top_p,
    }
    if params.seed is not None:
        body["seed"] = params.seed
    return body


def kestrel_run(engine: RemoteEngine, params: GenerationParams) -> Run:
    """Kestrel's whole client path, with a stop event and a progress callback as the app passes them."""
    text = "".join(engine.stream(PROMPT, params, threading.Event(), on_progress=lambda _live: None))
    stats = engine.last_stats
    assert stats is not None and stats.decode_tps is not None and stats.ttft_s is not None, stats
    assert stats.source_of("decode_tps") == "client" and stats.source_of("ttft_s") == "client"
    server = engine.last_server_figures
    return Run(stats.decode_tps, stats.ttft_s, stats.completion_tokens, text,
               server_tps=server.decode_tps if server is not None else None)


def has_content(data: str) -> bool:
    """Whether an event's JSON carries non-empty ``"content"``: string search, no JSON parsing."""
    at = data.find('"content":')
    if at < 0:
        return False
    rest = data[at + 10:].lstrip()
    return rest.startswith('"') and not rest.startswith('""')


def bare_client() -> httpx.Client:
    """Made once (its SSL context costs ~30 ms); a new connection per reply, as Kestrel's stream client."""
    return httpx.Client(trust_env=False, timeout=httpx.Timeout(600.0, connect=10.0),
                        limits=httpx.Limits(max_keepalive_connections=0))


def bare_run(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> Run:
    """One request, lines in, content arrivals timed; the events are decoded only after the stream ends."""
    arrivals: list[float] = []
    events: list[str] = []
    started = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            if has_content(data):
                arrivals.append(time.perf_counter())
            events.append(data)
    usage: dict[str, Any] = {}
    timings: dict[str, Any] = {}
    text: list[str] = []
    for data in events:
        obj = json.loads(data)
        usage.update(obj.get("usage") or {})
        timings.update(obj.get("timings") or {})
        for choice in obj.get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
    tokens = timings.get("predicted_n") or usage.get("completion_tokens") or len(arrivals)
    assert len(arrivals) >= 2, f"only {len(arrivals)} content chunks came"
    return Run((tokens - 1) / (arrivals[-1] - arrivals[0]), arrivals[0] - started, tokens, "".join(text),
               server_tps=timings.get("predicted_per_second"))


class ServerLog:
    """The decode rates llama.cpp prints into the log of the server this script started."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def next_rate(self, wait_s: float = 2.0) -> float | None:
        """The rate of the reply that just ended (None: no new line within ``wait_s``)."""
        deadline = time.monotonic() + wait_s
        while True:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                new = log.read()
            rates = EVAL_LINE.findall(new.decode("utf-8", errors="replace"))
            if rates:
                self.offset += len(new)
                return float(rates[-1])
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_cpp_server(gguf: Path, threads: int, log_path: Path) -> Iterator[tuple[str, psutil.Process]]:
    """llama-cpp-python's OpenAI server on 127.0.0.1, verbose (for its decode timings), stopped at the end."""
    port = free_port()
    with log_path.open("wb") as output:
        # gemma's own chat format: without it the server falls back to llama-2's and the model answers "\n"
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", str(N_CTX), "--chat_format", "gemma", "--n_threads", str(threads),
             "--n_threads_batch", str(threads), "--verbose", "true"],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited: {log_path.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 120 s")
            try:
                if httpx.get(f"{url}/models", timeout=1.0, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measured(run: Callable[[], Run], server: psutil.Process | None, log: ServerLog | None) -> Run:
    """Call ``run``; add this process's and the server's CPU time and the server log's decode rate."""
    server_before = sum(server.cpu_times()[:2]) if server is not None else 0.0
    cpu_before, wall_before = process_cpu_s(), time.perf_counter()
    result: Run = run()
    result.client_cpu_s = process_cpu_s() - cpu_before
    result.wall_s = time.perf_counter() - wall_before
    if server is not None:
        result.server_cpu_s = sum(server.cpu_times()[:2]) - server_before
    if log is not None:
        result.log_tps = log.next_rate()
    return result


def median_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def fmt(value: float | None, spec: str = ".2f", unit: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{unit}"


def bench(url: str, model_id: str, api_key: str | None, args: argparse.Namespace,
          server: psutil.Process | None, log: ServerLog | None) -> dict[str, Any]:
    engine = RemoteEngine(api_key)
    loaded = engine.load(Endpoint(url, model_id, n_ctx=N_CTX))
    params = GenerationParams(max_tokens=args.tokens, temperature=0.0, seed=SEED)
    headers = {"Accept": "text/event-stream"} | ({"Authorization": f"Bearer {api_key}"} if api_key else {})
    chat_url = f"{url.rstrip('/')}/chat/completions"
    body = request_body(model_id, params)
    warm = GenerationParams(max_tokens=min(16, args.tokens), temperature=0.0, seed=SEED)
    measured(lambda: kestrel_run(engine, warm), server, log)  # warm-up: first graph, prompt into the cache
    client = bare_client()
    measured(lambda: bare_run(client, chat_url, request_body(model_id, warm), headers), server, log)
    kestrel: list[Run] = []
    bare: list[Run] = []
    for _ in range(args.rounds):
        kestrel.append(measured(lambda: kestrel_run(engine, params), server, log))
        bare.append(measured(lambda: bare_run(client, chat_url, body, headers), server, log))
    engine.unload()
    client.close()

    k = statistics.median(r.decode_tps for r in kestrel)
    b = statistics.median(r.decode_tps for r in bare)
    every = kestrel + bare
    # Each client's rate over the server's own for the same reply: cancels the server's speed
    # swings between runs (another process on the machine), leaving what the client path costs.
    k_share = median_or_none([r.decode_tps / r.log_tps if r.log_tps else None for r in kestrel])
    b_share = median_or_none([r.decode_tps / r.log_tps if r.log_tps else None for r in bare])
    server_cpu = [r.server_cpu_s / r.wall_s for r in every if r.server_cpu_s is not None]
    return {
        "server": loaded.backend, "model": loaded.name, "endpoint": url,
        "server_threads": args.threads if server is not None else None,
        "tokens_requested": args.tokens, "rounds": args.rounds, "cpus": os.cpu_count(),
        "kestrel_decode_tps": round(k, 2), "bare_decode_tps": round(b, 2), "decode_ratio": round(k / b, 3),
        "decode_pair_ratio_median": round(statistics.median(
            x.decode_tps / y.decode_tps for x, y in zip(kestrel, bare, strict=True)), 3),
        "kestrel_ttft_s": round(statistics.median(r.ttft_s for r in kestrel), 4),
        "bare_ttft_s": round(statistics.median(r.ttft_s for r in bare), 4),
        "server_reported_decode_tps": _round(median_or_none([r.server_tps for r in every])),
        "server_log_decode_tps": _round(median_or_none([r.log_tps for r in every])),
        "server_cpu_cores_while_streaming": _round(statistics.median(server_cpu), 3) if server_cpu else None,
        "kestrel_client_cpu_cores": round(sum(r.client_cpu_s for r in kestrel) / sum(r.wall_s for r in kestrel), 4),
        "bare_client_cpu_cores": round(sum(r.client_cpu_s for r in bare) / sum(r.wall_s for r in bare), 4),
        "kestrel_over_server_log": _round(k_share, 3), "bare_over_server_log": _round(b_share, 3),
        "share_ratio": _round(k_share / b_share, 3) if k_share and b_share else None,
        "same_text": all(x.text == y.text for x, y in zip(kestrel, bare, strict=True)),
        "kestrel_runs": [round(r.decode_tps, 2) for r in kestrel], "bare_runs": [round(r.decode_tps, 2) for r in bare],
        "server_log_runs": [_round(r.log_tps) for r in every] if log is not None else None,
        "tokens_per_run": [r.tokens for r in every],
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def report(r: dict[str, Any]) -> None:
    where = f"started here, {r['server_threads']} threads" if r["server_threads"] else "already running"
    print(f"server {r['server']} at {r['endpoint']} ({where}), model {r['model']}, {r['cpus']} CPUs on this machine")
    print(f"decode measured here: Kestrel {r['kestrel_decode_tps']:.2f} tok/s, bare reader {r['bare_decode_tps']:.2f} "
          f"tok/s, ratio {r['decode_ratio']:.3f} (median of {r['rounds']} alternating runs of up to "
          f"{r['tokens_requested']} tokens); median of the adjacent-pair ratios {r['decode_pair_ratio_median']:.3f}")
    print(f"  runs: Kestrel {r['kestrel_runs']}, bare {r['bare_runs']}; tokens per run {r['tokens_per_run']}; "
          f"same text: {'yes' if r['same_text'] else 'NO'}")
    if r["server_log_runs"] is not None:
        print(f"  server log's decode rate per run (Kestrel's runs, then the bare reader's): {r['server_log_runs']}")
    if r["share_ratio"] is not None:
        print(f"  each client's rate over the server log's rate for the same reply (cancels the server's own "
              f"speed swings): Kestrel {r['kestrel_over_server_log']:.3f}, bare {r['bare_over_server_log']:.3f}, "
              f"ratio {r['share_ratio']:.3f}")
    print(f"time to first content measured here: Kestrel {r['kestrel_ttft_s'] * 1000:.0f} ms, "
          f"bare reader {r['bare_ttft_s'] * 1000:.0f} ms")
    print(f"server's own decode rate: reported in the reply (timings) {fmt(r['server_reported_decode_tps'])} tok/s; "
          f"llama.cpp's decode calls alone, from the server's log {fmt(r['server_log_decode_tps'])} tok/s")
    print(f"CPU while streaming (cores): server {fmt(r['server_cpu_cores_while_streaming'], '.2f')}, "
          f"this process with Kestrel {r['kestrel_client_cpu_cores']:.3f}, with the bare reader "
          f"{r['bare_client_cpu_cores']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="base URL of a running server (http://host:port/v1)")
    parser.add_argument("--model", help="model id on that server (with --endpoint)")
    parser.add_argument("--api-key-env", help="environment variable holding that server's API key")
    parser.add_argument("--gguf", type=Path, help="model file for the server started here (default: the starter)")
    parser.add_argument("--threads", type=int, default=default_threads(), help="threads of the server started here")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if (args.endpoint is None) != (args.model is None):
        parser.error("--endpoint and --model go together")
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None

    if args.endpoint is not None:
        result = bench(args.endpoint, args.model, api_key, args, None, None)
    else:
        gguf = args.gguf or ensure_starter_model()
        with tempfile.TemporaryDirectory(prefix="kestrel-bench-remote-") as folder:
            log_path = Path(folder) / "server.log"
            with llama_cpp_server(gguf, args.threads, log_path) as (url, server):
                result = bench(url, str(gguf), None, args, server, ServerLog(log_path))
    if args.json:
        print(json.dumps(result))
    else:
        report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
