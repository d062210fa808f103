"""The one place where domain errors become HTTP statuses and OpenAI-shaped bodies."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from voxserve import errors

logger = logging.getLogger(__name__)

#: Domain error class -> (HTTP status, OpenAI error type). The first match in MRO order wins.
_STATUS: dict[type[errors.VoxserveError], tuple[int, str]] = {
    errors.InvalidRequest: (400, "invalid_request_error"),
    errors.RequestTooLarge: (413, "invalid_request_error"),
    errors.HeadersTooLarge: (431, "invalid_request_error"),
    errors.Unauthenticated: (401, "invalid_request_error"),
    errors.Forbidden: (403, "invalid_request_error"),
    errors.RateLimited: (429, "rate_limit_error"),
    errors.ApiKeyNotFound: (404, "invalid_request_error"),
    errors.ModelNotFound: (404, "invalid_request_error"),
    errors.VoiceNotFound: (404, "invalid_request_error"),
    errors.ArtifactNotFound: (404, "invalid_request_error"),
    errors.ProjectNotFound: (404, "invalid_request_error"),
    errors.ProjectNotReady: (409, "invalid_request_error"),
    errors.ProjectConflict: (409, "invalid_request_error"),
    errors.InvalidModel: (422, "invalid_request_error"),
    errors.ModelConflict: (409, "invalid_request_error"),
    errors.ModelMemoryExceeded: (507, "server_error"),
    errors.ModelSourceUnavailable: (502, "server_error"),
    errors.UnsupportedDocument: (400, "invalid_request_error"),
    errors.EmptyDocument: (400, "invalid_request_error"),
    errors.DocumentTooLarge: (413, "invalid_request_error"),
    errors.CorruptDocument: (422, "invalid_request_error"),
    errors.InvalidSsml: (400, "invalid_request_error"),
    errors.LexiconNotFound: (404, "invalid_request_error"),
    errors.NotReady: (503, "server_error"),
    errors.Overloaded: (503, "server_error"),
    errors.ShuttingDown: (503, "server_error"),
    errors.DeadlineExceeded: (504, "server_error"),
    errors.EngineFailed: (500, "server_error"),
    errors.EngineLoadError: (500, "server_error"),
    errors.ConfigurationError: (500, "server_error"),
}


def error_body(
    message: str, error_type: str, *, code: str | None = None, param: str | None = None
) -> dict[str, dict[str, str | None]]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def status_for(exc: errors.VoxserveError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500, "server_error"


def domain_error_response(exc: errors.VoxserveError) -> JSONResponse:
    status, error_type = status_for(exc)
    headers = {}
    if isinstance(exc, errors.Overloaded):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    elif isinstance(exc, errors.NotReady | errors.ShuttingDown):
        headers["Retry-After"] = "5"
    if isinstance(exc, errors.SecurityError):
        headers.update(exc.headers)  # WWW-Authenticate; Retry-After and X-RateLimit-* on 429
    if status >= 500 and status not in (503, 504):
        logger.error("request failed: %s: %s", exc.code, exc.message)
    return JSONResponse(
        error_body(exc.message, error_type, code=exc.code, param=exc.param),
        status_code=status,
        headers=headers,
    )


async def send_error(send: Send, exc: errors.VoxserveError, *, close: bool = False) -> None:
    """Answer ``exc`` from pure ASGI middleware, where no exception handler runs: the same
    status, headers and body as :func:`domain_error_response`. ``close`` adds
    ``connection: close``, for a request whose body is left unread (the rest of it must not
    be taken for the next request on the connection)."""
    response = domain_error_response(exc)
    if close:
        response.headers["connection"] = "close"
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": bytes(response.body)})


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None, str]:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    if first.get("type") == "json_invalid":
        return "request body is not valid JSON", None, "invalid_json"
    if first.get("type") == "missing":
        return f"missing required parameter '{param}'", param, "missing_parameter"
    if first.get("type") == "extra_forbidden":
        return f"unrecognized request argument '{param}'", param, "unknown_parameter"
    message = first.get("msg", "invalid value")
    return (f"{param}: {message}" if param else message), param, "invalid_value"


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so every error leaves as ``{"error": {...}}``."""

    @app.exception_handler(errors.VoxserveError)
    async def _domain(_: Request, exc: errors.VoxserveError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param, code = _validation_message(exc)
        return JSONResponse(
            error_body(message, "invalid_request_error", code=code, param=param), status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(
            error_body(str(exc.detail), error_type, code=code),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return JSONResponse(
            error_body("internal server error", "server_error", code="internal_error"),
            status_code=500,
        )
