"""The routes: ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``, ``/health``.

:func:`build_app` assembles the Starlette application with its guards
(:mod:`app.api.security`) and the request log (:class:`RecordRequests`). Handlers only
check the request, pick the model, and hand the reply to the gate; :mod:`app.api.reply`
writes it out. Every error, unknown paths and methods included, is an OpenAI error object.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.activity import Activity, RequestRecord, Trace
from app.api.bodies import Envelope, Kind
from app.api.catalog import ModelCatalog
from app.api.errors import Problem, problem_response
from app.api.gate import Gate
from app.api.reply import AsyncReply, ReplyResponse
from app.api.schema import ReplyRequest, parse_chat, parse_completion, parse_json
from app.api.security import BearerKey, BodyLimit, HostCheck, read_body
from app.engines.contract import EngineError, GenerationParams, LoadedModel

TRACE_KEY = "kestrel.trace"


@dataclass(frozen=True)
class ServerOptions:
    """What the user chose for the server (see ``ApiServer``)."""

    api_key: str
    host: str = "127.0.0.1"
    cors_origins: Sequence[str] = ()
    allowed_hosts: Sequence[str] = ()
    allow_load: bool = False
    max_queue: int = 16
    max_body: int = 1 << 20
    defaults: GenerationParams = field(default_factory=GenerationParams)


class RecordRequests:
    """Outermost: times every request and leaves one :class:`RequestRecord` in the activity log."""

    def __init__(self, app: ASGIApp, activity: Activity) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        at, trace = time.time(), Trace(arrived=time.perf_counter())
        scope[TRACE_KEY] = trace
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            if not status:  # no answer went out: the client left first (499, as nginx logs it), or a crash
                status = 499 if trace.stop_reason == "cancelled" else 500
            self.activity.record(RequestRecord(
                at=at, method=str(scope.get("method", "")), path=str(scope.get("path", ""))[:200],
                status=status, client=str(client[0]) if client else "",
                seconds=time.perf_counter() - trace.arrived,
                model=trace.model, completion_tokens=trace.completion_tokens, decode_tps=trace.decode_tps,
                ttft_s=trace.ttft_s, stop_reason=trace.stop_reason,
            ))


class Handlers:
    """The endpoints, over one gate."""

    def __init__(self, gate: Gate, options: ServerOptions, activity: Activity, catalog: ModelCatalog) -> None:
        self.gate = gate
        self.options = options
        self.activity = activity
        self.catalog = catalog
        self._ids: dict[LoadedModel, str] = {}

    def model_id(self, loaded: LoadedModel) -> str:
        """The loaded model's id (remembered: it is asked on every request)."""
        if loaded not in self._ids:
            self._ids = {loaded: self.catalog.id_of(loaded)}
        return self._ids[loaded]

    def _loaded(self) -> LoadedModel:
        loaded = self.gate.model()
        if loaded is None:
            raise Problem(503, "No model is loaded. Load one in Kestrel first.", "model_not_loaded")
        return loaded

    async def models(self, request: Request) -> Response:
        loaded = self.gate.model()
        first = await run_in_threadpool(self.model_id, loaded) if loaded is not None else None
        rows: list[dict[str, Any]] = []
        if first is not None:
            rows.append({"id": first, "object": "model", "created": int(time.time()), "owned_by": "kestrel",
                         "loaded": True})
        for model in await run_in_threadpool(self.catalog.models):
            if model.id != first:
                rows.append({"id": model.id, "object": "model", "created": int(model.added_at),
                             "owned_by": "kestrel", "loaded": False})
        return JSONResponse({"object": "list", "data": rows})

    async def health(self, request: Request) -> Response:
        loaded = self._loaded()
        return JSONResponse({"status": "ok", "model": await run_in_threadpool(self.model_id, loaded)})

    async def chat(self, request: Request) -> Response:
        return await self._reply(request, "chat")

    async def completions(self, request: Request) -> Response:
        return await self._reply(request, "text")

    async def _model_for(self, asked: str | None) -> str:
        """The id of the model that will answer: the loaded one, or ``asked`` loaded now if allowed."""
        loaded = self._loaded()
        current = await run_in_threadpool(self.model_id, loaded)
        if asked is None or asked == current:
            return current
        if not self.options.allow_load:
            raise Problem(404, f"The model {asked!r} is not loaded; this server is serving {current!r}.",
                          "model_not_found", "model")
        try:
            await run_in_threadpool(self.gate.load, asked)
        except KeyError:
            raise Problem(404, f"There is no model {asked!r} in Kestrel's library; the loaded model is {current!r}.",
                          "model_not_found", "model") from None
        except EngineError as exc:
            raise Problem(500, f"The model {asked!r} could not be loaded: {exc}", "model_load_failed",
                          "model") from None
        return asked

    async def _reply(self, request: Request, kind: Kind) -> Response:
        data = parse_json(await read_body(request, self.options.max_body))
        parsed: ReplyRequest = parse_chat(data) if kind == "chat" else parse_completion(data)
        model_id = await self._model_for(parsed.model)
        waiting = self.activity.queued
        if waiting >= self.options.max_queue:
            raise Problem(429, f"{waiting} requests are already waiting for the model; try again shortly.",
                          "queue_full")
        trace: Trace = request.scope[TRACE_KEY]
        trace.model = model_id
        reply = AsyncReply(asyncio.get_running_loop(), self.activity)
        params = parsed.params(self.options.defaults)
        self.activity.queue()
        if parsed.prompt.text is not None:
            self.gate.submit_text(parsed.prompt.text, params, reply.stop, reply)
        else:
            self.gate.submit(parsed.prompt.messages, params, reply.stop, reply)
        return ReplyResponse(reply, Envelope(kind, model_id), trace, stream=parsed.stream,
                             include_usage=parsed.include_usage)


# ---- errors -------------------------------------------------------------------------------
async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        problem = Problem(404, f"Unknown path {request.url.path[:100]!r}. This server answers /v1/models, "
                          "/v1/chat/completions, /v1/completions and /health.", "unknown_url")
    elif exc.status_code == 405:
        problem = Problem(405, f"{request.method} is not allowed on {request.url.path}.", "method_not_allowed")
    else:
        problem = Problem(exc.status_code, str(exc.detail), None)
    response = problem_response(problem)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _crash(request: Request, exc: Exception) -> Response:
    return problem_response(Problem(500, f"Internal error: {type(exc).__name__}", "internal_error"))


def build_app(gate: Gate, options: ServerOptions, activity: Activity,
              catalog: ModelCatalog | None = None) -> Starlette:
    """The ASGI application: guards outermost (log, Host, CORS, key, body size), then the routes."""
    handlers = Handlers(gate, options, activity, catalog or ModelCatalog())
    routes = [
        Route("/v1/models", handlers.models, methods=["GET"]),
        Route("/v1/chat/completions", handlers.chat, methods=["POST"]),
        Route("/v1/completions", handlers.completions, methods=["POST"]),
        Route("/health", handlers.health, methods=["GET"]),
        Route("/v1/health", handlers.health, methods=["GET"]),
    ]
    middleware = [
        Middleware(RecordRequests, activity=activity),
        Middleware(HostCheck, bound=options.host, allowed=options.allowed_hosts),
    ]
    if options.cors_origins:  # answered before the key check: browsers send preflights without it
        middleware.append(Middleware(CORSMiddleware, allow_origins=list(options.cors_origins),
                                     allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"]))
    middleware += [Middleware(BearerKey, key=options.api_key), Middleware(BodyLimit, limit=options.max_body)]
    handlers_by_error: dict[Any, Callable[[Request, Exception], Any]] = {
        Problem: _problem, HTTPException: _http_error, Exception: _crash}
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers_by_error)
