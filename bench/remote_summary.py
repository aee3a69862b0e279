"""Summary benchmark on a server with slots: map steps one at a time against side by side.

Starts llama.cpp's ``llama-server --parallel N`` (built by ``packaging/build_llama_tools.sh``)
on the starter model on 127.0.0.1, then summarizes the same generated document with
Kestrel's remote engine limited to 1 request at once and allowed N, alternating for
``--rounds`` rounds with no summary cache, and prints each wall time and the median ratio
(one at a time / side by side: above 1 means side by side is faster). The server's threads
are the same for both, so the difference is what batching the slots buys on this machine.

Usage: python bench/remote_summary.py [--slots N] [--threads N] [--parts N] [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from huggingface_hub.utils import httpx

from app.documents.extract import extract_text
from app.engines.contract import Endpoint
from app.engines.remote.engine import RemoteEngine
from app.models.starter import ensure_starter_model
from app.summarize.cache import SummaryCache
from app.summarize.options import SummaryOptions
from app.summarize.run import summarize

ROOT = Path(__file__).resolve().parents[1]
N_CTX_PER_SLOT = 1024


def tools_folder() -> Path:
    version = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; "
                              "print(m.version('llama-cpp-python'))"], capture_output=True, text=True, check=True)
    done = subprocess.run(["bash", str(ROOT / "packaging" / "build_llama_tools.sh"), "--where"], capture_output=True,
                          text=True, check=True, env={**os.environ, "KESTREL_LLAMA_VERSION": version.stdout.strip()})
    return Path(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(gguf: Path, slots: int, threads: int, log: Path) -> Iterator[str]:
    server = tools_folder() / "llama-server"
    if not server.is_file():
        raise SystemExit(f"{server} is missing: run bash packaging/build_llama_tools.sh")
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen([str(server), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port),
                                    "-c", str(N_CTX_PER_SLOT * slots), "-np", str(slots), "-t", str(threads),
                                    "--offline"], stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"llama-server did not start:\n{log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{root}/health", timeout=1.0, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield f"{root}/v1"
    finally:
        process.terminate()
        process.wait(10)


def document_text(parts: int) -> str:
    return "\n\n".join(f"# Part {i}\n\n" + " ".join(
        f"The kestrel of valley {i} hovers over meadow {j}, watching for voles before it dives." for j in range(40))
        for i in range(parts))


class NoCache(SummaryCache):
    """Every part is summarized again: both runs do the same work."""

    def get(self, key: str, name: str) -> str | None:
        return None

    def put(self, key: str, name: str, text: str) -> None:
        pass


def run_once(url: str, model_id: str, parallel: int, text: str) -> tuple[float, int]:
    engine = RemoteEngine()
    engine.load(Endpoint(url, model_id, parallel=parallel))
    try:
        started = time.perf_counter()
        result = summarize(engine, extract_text(text, "bench.md"), SummaryOptions(preset="bullets", seed=1),
                           cache=NoCache())
        return time.perf_counter() - started, result.chunks
    finally:
        engine.unload()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--parts", type=int, default=8, help="sections in the generated document")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    gguf = ensure_starter_model()
    text = document_text(args.parts)
    one: list[float] = []
    side: list[float] = []
    chunks = 0
    with tempfile.TemporaryDirectory() as tmp, llama_server(gguf, args.slots, args.threads,
                                                            Path(tmp) / "server.log") as url:
        model_id = str(httpx.get(f"{url}/models", timeout=5.0, trust_env=False).json()["data"][0]["id"])
        for _ in range(args.rounds):
            seconds, chunks = run_once(url, model_id, 1, text)
            one.append(seconds)
            seconds, _ = run_once(url, model_id, args.slots, text)
            side.append(seconds)
    ratios = [a / b for a, b in zip(one, side, strict=True)]
    result = {"slots": args.slots, "threads": args.threads, "chunks": chunks, "one_at_a_time_s": one,
              "side_by_side_s": side, "median_ratio": statistics.median(ratios)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"llama-server --parallel {args.slots} -t {args.threads}, starter model, {chunks} map steps")
        print(f"  one at a time : {', '.join(f'{s:.2f} s' for s in one)}")
        print(f"  {args.slots} at once     : {', '.join(f'{s:.2f} s' for s in side)}")
        print(f"  ratio (one at a time / side by side), median of rounds: {result['median_ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
