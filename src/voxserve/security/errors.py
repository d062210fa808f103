"""Security errors (authentication, authorization, rate limits, request limits).

Kept here while the security package is wired in; they subclass ``voxserve.errors`` classes
so ``voxserve.api.errors`` maps them like every other domain error. Each carries the HTTP
``headers`` its response must have (``WWW-Authenticate``, ``Retry-After``, rate-limit
headers); nothing here knows about HTTP statuses.
"""

from __future__ import annotations

import math

from voxserve.errors import InvalidRequest, VoxserveError

#: The one message a client sees for any credential problem (missing key, wrong signature,
#: expired, revoked, unknown kid...): it must not tell an attacker which check failed.
INVALID_CREDENTIALS = "invalid or expired token"


class SecurityError(VoxserveError):
    """Base of the security errors; ``headers`` go on the error response."""

    code = "security_error"

    def __init__(
        self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.headers: dict[str, str] = dict(headers or {})


class Unauthenticated(SecurityError):
    """No credentials, or credentials that do not verify (HTTP 401)."""

    code = "invalid_api_key"

    def __init__(self, message: str = INVALID_CREDENTIALS, *, invalid_token: bool = True) -> None:
        # RFC 6750 §3: no error attribute when the request had no credentials at all.
        challenge = 'Bearer realm="voxserve"'
        if invalid_token:
            challenge += ', error="invalid_token"'
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class Forbidden(SecurityError):
    """Authenticated, but the principal lacks the scope the route needs (HTTP 403)."""

    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"this credential lacks the '{scope}' scope",
            headers={"WWW-Authenticate":
                     f'Bearer realm="voxserve", error="insufficient_scope", scope="{scope}"'},
        )
        self.scope = scope


class RateLimited(SecurityError):
    """A per-principal limit refused the request (HTTP 429, with ``Retry-After``)."""

    code = "rate_limit_exceeded"

    def __init__(
        self, message: str, *, retry_after_s: float, limit: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        all_headers = {"Retry-After": str(max(1, math.ceil(retry_after_s))), **(headers or {})}
        super().__init__(message, headers=all_headers)
        self.retry_after_s = retry_after_s
        #: Which limit refused: ``requests``, ``characters`` or ``concurrent_streams``.
        self.limit = limit


class ApiKeyNotFound(SecurityError):
    """``revoke`` named no key (CLI only; never raised while authenticating)."""

    code = "api_key_not_found"


class UnsafeName(InvalidRequest):
    """A voice/model/file name that could escape its directory (HTTP 400)."""

    code = "invalid_name"


class RequestTooLarge(InvalidRequest):
    """The request body is over its byte limit (HTTP 413; answered by the middleware)."""

    code = "request_too_large"


class JsonTooDeep(InvalidRequest):
    """The JSON body nests deeper than ``max_json_depth`` (HTTP 400; by the middleware)."""

    code = "json_too_deep"
