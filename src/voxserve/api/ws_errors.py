"""The one place where domain errors become WebSocket close codes and error messages.

A domain error closes the connection with ``4000 + its HTTP status`` (4400 invalid
request, 4401/4403 authentication, 4404 unknown model or voice, 4429 rate limited, 4503
overloaded or loading, 4504 no audio in time) after an ``{"type": "error", "error": {...}}``
message in the HTTP API's error shape. Protocol faults use the standard codes: 1003 binary
where text is expected, 1007 not JSON, 1009 a message too big, 1011 an unexpected failure.
"""

from __future__ import annotations

from typing import Any

from voxserve import errors
from voxserve.api.errors import error_body, status_for

NORMAL = 1000
#: the peer went away (the client left: logged, nothing is sent)
GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
#: Close reasons are limited to 123 bytes by RFC 6455.
_MAX_REASON_BYTES = 123


def close_for(exc: BaseException) -> tuple[int, str, dict[str, Any]]:
    """``(close code, reason, error message)`` for ``exc``."""
    if isinstance(exc, errors.ProtocolViolation):
        code = exc.close_code
        status, error_type = 400, "invalid_request_error"
    elif isinstance(exc, errors.VoxserveError):
        status, error_type = status_for(exc)
        code = 4000 + status if status != 500 else INTERNAL_ERROR
    else:
        return INTERNAL_ERROR, "internal server error", {
            "type": "error",
            **error_body("internal server error", "server_error", code="internal_error")}
    message: dict[str, Any] = {"type": "error",
               **error_body(exc.message, error_type, code=exc.code, param=exc.param)}
    if isinstance(exc, errors.Overloaded):
        message["retry_after_s"] = max(1.0, exc.retry_after_s)
    return code, _reason(exc.message), message


def _reason(text: str) -> str:
    data = text.encode("utf-8")[:_MAX_REASON_BYTES]
    return data.decode("utf-8", errors="ignore")
