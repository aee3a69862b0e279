"""``kestrel serve`` on the real starter model, driven by clients nobody here wrote: openai, curl, sockets.

One server process serves the whole module (starting it loads the model once). Replies are
short (a few tokens) so the module stays within seconds on two CPU cores.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import psutil
import pytest

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[2]
KEY_VAR = "KESTREL_TEST_SERVER_KEY"
KEY = "serve-test-key-abcdefghijklmnopqrstuvwxyz"


def prepare_home(home: Path, starter_model: Path) -> Path:
    """A Kestrel home whose models folder already holds the starter model (saves assembling it)."""
    models = home / "data" / "models"
    models.mkdir(parents=True)
    target = models / starter_model.name
    os.link(starter_model, target)
    (models / (starter_model.name + ".verified.json")).write_text(json.dumps({"size": target.stat().st_size}))
    return home


def environment(home: Path) -> dict[str, str]:
    return {**os.environ, "KESTREL_HOME": str(home), KEY_VAR: KEY}


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    model: str
    home: Path
    lines: list[str]

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=KEY, max_retries=0, timeout=60)


def start_serve(home: Path, *extra: str) -> Served:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", "0", "--api-key-env", KEY_VAR, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        env=environment(home), cwd=ROOT)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
            seen.append(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 120
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            raise AssertionError(f"kestrel serve did not start: {''.join(seen)}") from None
        if line.startswith("Kestrel serves "):
            model, url = line.removeprefix("Kestrel serves ").strip().split(" at ")
            return Served(process, url, model, home, seen)
        assert process.poll() is None or not lines.empty(), f"kestrel serve ended: {''.join(seen)}"


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    process.send_signal(sig)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, starter_model: Path) -> Iterator[Served]:
    home = prepare_home(tmp_path_factory.mktemp("serve") / "home", starter_model)
    server = start_serve(home)
    yield server
    stop(server.process)


def chat(client: openai.OpenAI, content: str, max_tokens: int = 12) -> str:
    reply = client.chat.completions.create(model="gemma-3-270m-q4_k_m", messages=[{"role": "user", "content": content}],
                                           temperature=0, seed=7, max_tokens=max_tokens)
    return str(reply.choices[0].message.content)


# ---- the goals -------------------------------------------------------------------------------------
def test_reply_equals_kestrel_chat(served: Served) -> None:
    prompt = "Name one bird of prey."
    result = subprocess.run(
        [sys.executable, "-m", "app", "chat", "--system", "", "--temperature", "0", "--seed", "7",
         "--max-tokens", "12", "--json", prompt],
        capture_output=True, text=True, env=environment(served.home), timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    expected = json.loads(result.stdout.strip().splitlines()[-1])["text"]
    assert expected.strip()
    assert chat(served.client(), prompt) == expected


def test_openai_client_chat_whole_and_streamed(served: Served) -> None:
    client = served.client()
    whole = client.chat.completions.create(model=served.model, messages=[{"role": "user", "content": "Say hi."}],
                                           temperature=0, seed=1, max_tokens=8)
    assert whole.model == served.model and whole.choices[0].message.content
    assert whole.usage is not None and whole.usage.completion_tokens > 0
    timings = whole.model_extra["timings"] if whole.model_extra else {}
    assert timings["predicted_n"] == whole.usage.completion_tokens and timings["prompt_ms"] > 0
    stream = client.chat.completions.create(model=served.model, messages=[{"role": "user", "content": "Say hi."}],
                                            temperature=0, seed=1, max_tokens=8, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_openai_client_completions_whole_and_streamed(served: Served) -> None:
    client = served.client()
    whole = client.completions.create(model=served.model, prompt="The kestrel is a", temperature=0, seed=1,
                                      max_tokens=8)
    assert whole.object == "text_completion" and whole.choices[0].text
    assert whole.usage is not None and whole.usage.completion_tokens > 0
    stream = client.completions.create(model=served.model, prompt="The kestrel is a", temperature=0, seed=1,
                                       max_tokens=8, stream=True)
    assert "".join(chunk.choices[0].text for chunk in stream) == whole.choices[0].text


def test_the_openai_client_sees_refusals_as_its_own_errors(served: Served) -> None:
    with pytest.raises(openai.NotFoundError, match="is not loaded"):
        served.client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    wrong = openai.OpenAI(base_url=served.url, api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    assert [model.id for model in served.client().models.list()] == [served.model]


def test_a_continued_conversation_reuses_the_prefix(served: Served) -> None:
    client = served.client()
    history = [{"role": "user", "content": "Tell me one fact about falcons."}]
    first = client.chat.completions.create(model=served.model, messages=history, temperature=0, max_tokens=16)  # type: ignore[arg-type]
    history += [{"role": "assistant", "content": first.choices[0].message.content or ""},
                {"role": "user", "content": "And one about owls?"}]
    second = client.chat.completions.create(model=served.model, messages=history, temperature=0, max_tokens=4)  # type: ignore[arg-type]
    assert first.usage is not None and second.usage is not None and second.usage.prompt_tokens_details is not None
    cached = second.usage.prompt_tokens_details.cached_tokens or 0
    assert cached >= first.usage.prompt_tokens  # the first turn's prompt was not evaluated again


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_sees_well_framed_server_sent_events(served: Served) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "Count to three."}], "max_tokens": 8,
                       "temperature": 0, "stream": True})
    result = subprocess.run(
        ["curl", "-sS", "-N", "--fail-with-body", f"{served.url}/chat/completions",
         "-H", f"Authorization: Bearer {KEY}", "-H", "Content-Type: application/json", "-d", body, "-D", "-"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr + result.stdout
    head, _, stream = result.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200") and "content-type: text/event-stream" in head.lower()
    assert stream.endswith("data: [DONE]\n\n")
    events = stream.split("\n\n")[:-1]
    assert len(events) >= 4 and all(event.startswith("data: ") and "\n" not in event for event in events)
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length") and "timings" in chunks[-1]


def first_token_s(served: Served, content: str) -> float:
    """Seconds from sending a streamed request to its first piece of text."""
    started = time.perf_counter()
    stream = served.client().chat.completions.create(
        model=served.model, messages=[{"role": "user", "content": content}], max_tokens=4, temperature=0, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            elapsed = time.perf_counter() - started
            stream.close()
            return elapsed
    raise AssertionError("no text came back")


def test_a_client_leaving_mid_stream_frees_the_engine_at_once(served: Served) -> None:
    normal = max(first_token_s(served, f"Say {word}.") for word in ("yes", "no"))  # on a busy machine: the slower
    host, port = served.url.removeprefix("http://").removesuffix("/v1").split(":")
    body = json.dumps({"messages": [{"role": "user", "content": "Write a long story about a kestrel."}],
                       "max_tokens": 400, "temperature": 0, "stream": True}).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        seen = b""
        while seen.count(b'"content":"') < 4:  # the role chunk and three pieces of text
            chunk = sock.recv(65536)
            assert chunk, seen
            seen += chunk
    # 400 tokens would take ~10 s: the next request starts at once only if the first one stopped
    after = first_token_s(served, "Say maybe.")
    assert after < normal + 0.5, (after, normal)


def test_eight_clients_at_once_all_answered(served: Served) -> None:
    prompts = [f"Say the number {i}." for i in range(2)]
    alone = {prompt: chat(served.client(), prompt, max_tokens=6) for prompt in prompts}
    answers: dict[int, str | BaseException] = {}

    def ask(i: int) -> None:
        try:
            answers[i] = chat(served.client(), prompts[i % 2], max_tokens=6)
        except BaseException as exc:  # noqa: BLE001 - reported below
            answers[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(answers) == list(range(8))
    for i, answer in answers.items():
        assert answer == alone[prompts[i % 2]], answer  # each got its own reply, whole: no mixing, no 5xx


# ---- the command --------------------------------------------------------------------------------------
def test_serve_stops_cleanly_on_sigint_and_sigterm(tmp_path: Path, starter_model: Path) -> None:
    home = prepare_home(tmp_path / "home", starter_model)
    for sig in (signal.SIGINT, signal.SIGTERM):
        server = start_serve(home)
        children = psutil.Process(server.process.pid).children(recursive=True)
        assert children, "the engine runs in a child process"
        assert stop(server.process, sig) == 0, "".join(server.lines)
        assert "Traceback" not in "".join(server.lines)
        psutil.wait_procs(children, timeout=10)
        assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


def test_serve_reports_bad_input_in_one_line(tmp_path: Path, served: Served) -> None:
    busy_port = served.url.removesuffix("/v1").rsplit(":", 1)[1]
    cases = [
        (["--port", busy_port, "--api-key-env", KEY_VAR], "already in use"),
        (["--model", str(tmp_path / "missing.gguf"), "--api-key-env", KEY_VAR], "model file not found"),
        (["--api-key-env", "KESTREL_NO_SUCH_VARIABLE"], "not set"),
        (["--port", "70000"], "--port must be between"),
    ]
    for args, message in cases:
        result = subprocess.run([sys.executable, "-m", "app", "serve", *args], capture_output=True, text=True,
                                env=environment(served.home), timeout=120, cwd=ROOT)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kestrel: error:") and message in lines[0], result.stderr
