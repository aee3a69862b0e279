"""The llama.cpp engine, run in a child process so that nothing native can end the app.

``ProcessEngine`` implements the engine contract by sending requests to a child
(:mod:`app.engines.process.child`) over a ``multiprocessing`` pipe and turning its answers
back into return values, deltas, progress and errors. One child holds one model: a load
starts a fresh child, ``unload`` ends it (all its memory goes back to the system).

When the child dies (a ``GGML_ASSERT``, a segfault, the out-of-memory killer, ``kill -9``)
the request in progress raises :class:`~app.engines.contract.EngineCrashed` naming what
was being done and why, from the child's exit status and last output; what was already
streamed has been yielded and stays with the caller. The next load starts a fresh child.
A child that died while idle is restarted with its model before the next request.

Stop: a :class:`~app.engines.process.watchdog.Watchdog` thread per request sends
:class:`Stop` the moment the caller's event is set, so the reading thread can block on the
pipe; a child that has not finished ``stop_grace_s`` after a stop is killed (the last
resort), and so is one that takes longer than ``prompt_deadline_s`` to render and tokenize
a prompt (a runaway chat template stuck in native code; each prompt of a batch has its own).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from app.engines.contract import (
    BatchEngine,
    BatchItem,
    BatchPrompt,
    ChatMessage,
    ContextOverflowError,
    EngineCrashed,
    EngineError,
    GenerationParams,
    GenerationStats,
    LoadCancelled,
    LoadedModel,
    LoadProgress,
    LocalModel,
    LogprobEngine,
    ModelSpec,
    ProgressCallback,
    TokenEngine,
)
from app.engines.process.child import CHILD_FLAG, EngineKind
from app.engines.process.diagnosis import describe_exit
from app.engines.process.protocol import (
    Batch,
    BatchWidth,
    Delta,
    Done,
    EndSequence,
    Failed,
    Live,
    Load,
    Logprobs,
    Progress,
    Prompted,
    PromptTokens,
    Reply,
    Request,
    Stop,
    Stream,
    Tokenize,
)
from app.engines.process.watchdog import Watchdog
from app.gguf.reader import GGUFError, read_gguf_info

LOG_TAIL_BYTES = 16384
_T = TypeVar("_T")


def child_command() -> list[str]:
    """How to start the child: the bundle's own executable when frozen, else Python on the module."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG]
    return [sys.executable, "-m", "app.engines.process.child"]


def _child_environment() -> dict[str, str]:
    """Our environment, with this checkout importable and llama.cpp's gdb backtrace off."""
    root = str(Path(__file__).resolve().parents[3])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "GGML_NO_BACKTRACE": "1",
            "PYTHONPATH": root if not path else os.pathsep.join([root, path])}


def _start(theirs: socket.socket, output: int) -> subprocess.Popen[bytes]:
    """Start the child with ``theirs`` as its end of the pipe and ``output`` as its stdout and stderr.

    POSIX passes the socket as an inherited file descriptor; Windows cannot, so the child
    gets it through ``socket.share`` written to its stdin (``-`` tells it so).
    """
    if sys.platform == "win32":
        process = subprocess.Popen([*child_command(), "-"], stdin=subprocess.PIPE, stdout=output, stderr=output,
                                   env=_child_environment())
        assert process.stdin is not None
        process.stdin.write(theirs.share(process.pid))
        process.stdin.close()
        return process
    return subprocess.Popen([*child_command(), str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                            stdin=subprocess.DEVNULL, stdout=output, stderr=output, env=_child_environment())


class _Child:
    """One running child: its process, our end of the pipe, and the file it writes output to."""

    def __init__(self, kind: EngineKind, options: dict[str, Any]) -> None:
        handle, log_path = tempfile.mkstemp(prefix="kestrel-engine-", suffix=".log")
        self.log_path = Path(log_path)
        ours, theirs = socket.socketpair()
        try:
            self.process = _start(theirs, handle)
        finally:
            theirs.close()  # only the child holds that end now: its death reads as end-of-file here
            os.close(handle)
        self.conn = Connection(ours.detach())
        self.conn.send((kind, options))

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def exitcode(self) -> int | None:
        return self.process.poll()

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """The end of what the child printed (a native assert's message is there)."""
        try:
            with self.log_path.open("rb") as file:
                size = file.seek(0, os.SEEK_END)
                file.seek(max(0, size - LOG_TAIL_BYTES))
                return file.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """End the child now (a watchdog's last resort); the pipe then reads as closed."""
        if self.alive():
            self.process.kill()

    def end(self, *, kill: bool = False) -> None:
        """Close the pipe (the child exits on its own), or kill it; then clean up."""
        if kill and self.alive():
            self.process.kill()
        self.conn.close()
        try:
            self.process.wait(2.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_path.unlink(missing_ok=True)

    def wait(self, timeout: float) -> int | None:
        """The exit code once the child has exited (None if it still runs after ``timeout``)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class ProcessEngine(TokenEngine, LogprobEngine, BatchEngine):
    """A llama.cpp engine (or, for tests, a fake one) living in a child process."""

    def __init__(self, kind: EngineKind = "llama", options: dict[str, Any] | None = None, *,
                 stop_grace_s: float = 5.0, prompt_deadline_s: float = 4.5) -> None:
        self._kind: EngineKind = kind
        self._options = dict(options or {})
        self.stop_grace_s = stop_grace_s
        self.prompt_deadline_s = prompt_deadline_s
        self._child: _Child | None = None
        self._spec: LocalModel | None = None  # what the current child holds or is loading
        self._loaded: LoadedModel | None = None
        self._last_stats: GenerationStats | None = None
        self._next_id = 0
        self._open_stream: int | None = None  # the id of a reply not read to its end
        self._batch_width: int | None = None  # asked of the child on first use
        self._send_lock = threading.Lock()  # a request's watchdog sends Stop from its own thread

    # ---- state -----------------------------------------------------------------------
    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def last_stats(self) -> GenerationStats | None:
        return self._last_stats

    @property
    def pid(self) -> int | None:
        """The child's process id while one runs (tests and diagnostics)."""
        child = self._child
        return child.pid if child is not None and child.alive() else None

    # ---- loading ---------------------------------------------------------------------
    def load(self, spec: ModelSpec, on_progress: LoadProgress | None = None,
             cancel: threading.Event | None = None) -> LoadedModel:
        """Start a fresh child and load ``spec`` in it; cancel ends the child at once."""
        if not isinstance(spec, LocalModel):
            raise EngineError(f"The llama.cpp engine loads GGUF files, not {spec.label}.")
        header = None
        if self._kind == "llama":
            try:  # a plainly bad file is refused here, without starting a child; the child reuses the header
                header = read_gguf_info(Path(spec.path).expanduser())
            except GGUFError as exc:
                raise EngineError(str(exc)) from exc
        self.unload()
        if cancel is not None and cancel.is_set():
            raise LoadCancelled(f"Loading {spec.label} was cancelled.")
        self._child = _Child(self._kind, self._options)
        self._spec = spec
        try:
            loaded = self._call(Load(spec, header), f"loading {spec.label}", cancel=cancel, on_progress=on_progress)
        except BaseException:
            self.unload()
            raise
        assert isinstance(loaded, LoadedModel)
        self._loaded = loaded
        return loaded

    def unload(self) -> None:
        """End the child: the model and everything it allocated go back to the system."""
        child, self._child = self._child, None
        self._spec = None
        self._loaded = None
        self._open_stream = None
        self._batch_width = None
        if child is not None:
            child.end()

    def close(self) -> None:
        """Alias of unload, for ``contextlib.closing``."""
        self.unload()

    # ---- tokens ----------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
        value = self._call(Tokenize(text, add_special, parse_special), "tokenizing text")
        return list(value)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], tuple[str, ...]]:
        tokens, stops = self._call(PromptTokens(tuple(messages)), "building the prompt",
                                   deadline=self.prompt_deadline_s)
        return list(tokens), tuple(stops)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return int(self._call(PromptTokens(tuple(messages), count_only=True), "building the prompt",
                              deadline=self.prompt_deadline_s))

    def next_token_logprobs(self, tokens: list[int]) -> Any:
        return self._call(Logprobs(list(tokens)), "measuring token probabilities")

    # ---- generation ------------------------------------------------------------------
    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams,
               stop: threading.Event | None = None, on_progress: ProgressCallback | None = None) -> Iterator[str]:
        return self._stream(Stream(params, messages=tuple(messages)), stop, on_progress)

    def stream_tokens(self, tokens: list[int], params: GenerationParams, *, stop: threading.Event | None = None,
                      on_progress: ProgressCallback | None = None, extra_stops: tuple[str, ...] = (),
                      started: float | None = None) -> Iterator[str]:
        return self._stream(Stream(params, tokens=list(tokens), extra_stops=extra_stops), stop, on_progress)

    def _stream(self, request: Stream, stop: threading.Event | None,
                on_progress: ProgressCallback | None) -> Iterator[str]:
        """Send the request and wait until its prompt is built (errors raise here, as in-process)."""
        self._last_stats = None
        stop = stop or threading.Event()
        rid = self._send(request)
        doing = self._doing("answering")
        watch = self._watch(rid, stop, deadline_s=self.prompt_deadline_s)
        try:
            first = self._receive(rid, doing, watch)
        except BaseException:
            watch.end()
            raise
        if isinstance(first, Failed | Done):
            watch.end()
            self._finish(first)
            return iter(())
        watch.clear_deadline()  # prefill and decode take as long as they take; stop still works
        self._open_stream = rid
        return self._replies(rid, doing, watch, on_progress)

    def _replies(self, rid: int, doing: str, watch: Watchdog,
                 on_progress: ProgressCallback | None) -> Iterator[str]:
        def take(reply: Reply) -> str | None:
            if isinstance(reply, Delta):
                return reply.text
            if isinstance(reply, Live) and on_progress is not None:
                on_progress(reply.stats)
            return None

        return self._until_done(rid, doing, watch, take)

    def _until_done(self, rid: int, doing: str, watch: Watchdog, take: Callable[[Reply], _T | None]) -> Iterator[_T]:
        """Yield what ``take`` makes of each reply of an open request until its Done or Failed.

        A caller that stops reading early stops the request, so the child stays in step.
        """
        ended = False
        try:
            while True:
                reply = self._receive(rid, doing, watch)
                if isinstance(reply, Done | Failed):
                    ended = True
                    self._open_stream = None
                    self._finish(reply)
                    return
                item = take(reply)
                if item is not None:
                    yield item
        finally:
            watch.end()
            if not ended and self._open_stream == rid:
                self._drain(rid)  # the caller stopped reading: stop the reply, keep the child in step

    # ---- several sequences at once ---------------------------------------------------
    @property
    def batch_width(self) -> int:
        if self._loaded is None:
            return 1
        if self._batch_width is None:
            self._batch_width = int(self._call(BatchWidth(), self._doing("asking for the batch width")))
        return self._batch_width

    def stream_batch(self, prompts: Sequence[BatchPrompt], params: GenerationParams | Sequence[GenerationParams],
                     stop: threading.Event | None = None) -> Iterator[BatchItem]:
        """Send the batch and wait until every prompt is built (each within ``prompt_deadline_s``)."""
        each = [params] * len(prompts) if isinstance(params, GenerationParams) else list(params)
        if len(each) != len(prompts):
            raise EngineError(f"{len(prompts)} prompts were given {len(each)} sets of parameters.")
        if not prompts:
            return iter(())
        self._last_stats = None
        stop = stop or threading.Event()
        rid = self._send(Batch(tuple(p if isinstance(p, str) else tuple(p) for p in prompts), tuple(each)))
        doing = self._doing("working through a batch")
        watch = self._watch(rid, stop, deadline_s=self.prompt_deadline_s)
        built = 0
        try:
            while built < len(prompts):
                reply = self._receive(rid, doing, watch)
                if isinstance(reply, Failed | Done):
                    watch.end()
                    self._finish(reply)
                    return iter(())
                if isinstance(reply, Prompted):
                    built += 1
                    watch.set_deadline(self.prompt_deadline_s)
        except BaseException:
            watch.end()
            raise
        watch.clear_deadline()
        self._open_stream = rid
        return self._until_done(rid, doing, watch, lambda reply: reply if isinstance(reply, BatchItem) else None)

    def end_sequence(self, index: int) -> None:
        rid, child = self._open_stream, self._child
        if rid is None or child is None:
            return
        with self._send_lock:
            try:
                child.conn.send(EndSequence(rid, index))
            except (OSError, ValueError):
                pass  # the child is gone: the reader sees that

    def _drain(self, rid: int) -> None:
        """Stop an unfinished reply and read up to its end (its figures become ``last_stats``).

        Only this reply stops: the caller's event may be shared by a whole job.
        """
        self._open_stream = None
        stop = threading.Event()
        stop.set()
        watch = self._watch(rid, stop)
        try:
            while True:
                reply = self._receive(rid, self._doing("stopping"), watch)
                if isinstance(reply, Done | Failed):
                    self._last_stats = reply.stats
                    return
        except EngineError:
            return  # the child was ended; the next request says so or starts a fresh one
        finally:
            watch.end()

    # ---- the pipe --------------------------------------------------------------------
    def _doing(self, verb: str) -> str:
        return f"{verb} with {self._loaded.name}" if self._loaded is not None else verb

    def _call(self, request: Request, doing: str, *, cancel: threading.Event | None = None,
              on_progress: LoadProgress | None = None, deadline: float | None = None) -> Any:
        """Send a request and wait for its one result."""
        rid = self._send(request)
        watch = self._watch(rid, cancel, deadline_s=deadline, cancel_kills=isinstance(request, Load))
        try:
            while True:
                reply = self._receive(rid, doing, watch)
                if isinstance(reply, Progress):
                    if on_progress is not None:
                        on_progress(reply.fraction)
                elif isinstance(reply, Done | Failed):
                    return self._finish(reply)
        finally:
            watch.end()

    def _send(self, request: Request) -> int:
        if self._open_stream is not None:
            self._drain(self._open_stream)
        child = self._child
        if child is None or (not child.alive() and self._loaded is None):
            raise EngineError("No model is loaded.")
        if not child.alive():
            self._restart()
            child = self._child
            assert child is not None
        self._next_id += 1
        try:
            with self._send_lock:
                child.conn.send((self._next_id, request))
        except (OSError, ValueError) as exc:
            raise self._crashed(self._doing("sending a request")) from exc
        return self._next_id

    def _restart(self) -> None:
        """The child died while idle: start a fresh one with the same model."""
        assert self._loaded is not None
        spec = self._loaded.spec
        self.unload()
        self.load(spec)

    def _watch(self, rid: int, stop: threading.Event | None, *, deadline_s: float | None = None,
               cancel_kills: bool = False) -> Watchdog:
        child = self._child
        assert child is not None

        def send_stop() -> None:
            with self._send_lock:
                try:
                    child.conn.send(Stop(rid))
                except (OSError, ValueError):
                    pass  # the child is gone: the reader sees that

        return Watchdog(stop=stop, deadline_s=deadline_s, grace_s=self.stop_grace_s, send_stop=send_stop,
                        kill=child.kill, cancel_kills=cancel_kills)

    def _receive(self, rid: int, doing: str, watch: Watchdog) -> Reply:
        """The next message of request ``rid``; a dead or ended child raises EngineCrashed (or LoadCancelled)."""
        child = self._child
        if child is None:
            raise EngineError("No model is loaded.")
        try:
            reply: Reply = child.conn.recv()
        except (EOFError, OSError) as exc:
            if watch.killed == "cancelled":
                self.unload()
                raise LoadCancelled(f"{doing[0].upper()}{doing[1:]} was cancelled.") from exc
            reason = {"stop": f"it did not stop within {self.stop_grace_s:g} s, so Kestrel ended it",
                      "finish": f"it did not finish within {self.prompt_deadline_s:g} s, so Kestrel ended it",
                      }.get(watch.killed or "")
            raise self._crashed(doing, reason) from exc
        return reply

    def _crashed(self, doing: str, reason: str | None = None) -> EngineCrashed:
        """The child is gone: describe why, forget the model, and return the error to raise."""
        child, spec = self._child, self._spec
        if child is not None and reason is None:
            reason = describe_exit(child.wait(2.0), child.output())
        self._child = None
        self._spec = None
        self._loaded = None
        self._open_stream = None
        self._batch_width = None
        if child is not None:
            child.end(kill=True)
        return EngineCrashed(f"The engine stopped while {doing}: {reason or 'it gave no reason'}.", spec)

    def _finish(self, reply: Done | Failed) -> Any:
        """A request's last message: its value, or the matching error raised."""
        if isinstance(reply, Done):
            if reply.stats is not None:
                self._last_stats = reply.stats
            return reply.value
        self._last_stats = reply.stats
        if reply.kind == "cancelled":
            raise LoadCancelled(reply.message)
        if reply.kind == "overflow":
            raise ContextOverflowError(reply.prompt_tokens, reply.n_ctx, reply.message)
        raise EngineError(reply.message)
