"""Errors the way OpenAI clients expect them: ``{"error": {"message", "type", "param", "code"}}``.

Every refusal the server makes, from a missing key to a full queue, is a :class:`Problem`
rendered by :func:`problem_response`, so a client library raises its usual exception
with a message a person can act on.
"""

from __future__ import annotations

import json

from starlette.responses import Response


class ApiError(RuntimeError):
    """The server cannot start (the port is taken, the address is wrong); one line for the user."""


#: OpenAI's error ``type`` by HTTP status.
_TYPES = {
    400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
    405: "invalid_request_error", 413: "invalid_request_error", 421: "invalid_request_error",
    429: "rate_limit_error", 500: "server_error", 503: "server_error",
}


class Problem(Exception):
    """A request the server refuses or cannot serve; raised in a handler, answered as JSON."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


def error_body(status: int, message: str, code: str | None = None, param: str | None = None) -> bytes:
    """The JSON body of an error (also sent as one SSE event when a stream fails midway)."""
    error = {"message": message, "type": _TYPES.get(status, "invalid_request_error"), "param": param, "code": code}
    return json.dumps({"error": error}, ensure_ascii=False).encode("utf-8")


def problem_response(problem: Problem) -> Response:
    headers = {"Retry-After": "1"} if problem.status == 429 else None
    if problem.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return Response(error_body(problem.status, problem.message, problem.code, problem.param),
                    status_code=problem.status, media_type="application/json", headers=headers)
