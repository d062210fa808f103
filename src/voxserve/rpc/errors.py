"""The one place where domain errors become gRPC statuses (as ``api/errors.py`` does for HTTP).

A refused call ends with the status code of :data:`_CODES` and, in its trailing metadata,
``grpc-status-details-bin``: a ``google.rpc.Status`` whose details carry a
``google.rpc.ErrorInfo`` (``reason``: voxserve's stable error code, ``domain``: ``voxserve``,
``metadata.param``: the offending field) and, when a retry later may succeed (overload, rate
limits, loading, draining), a ``google.rpc.RetryInfo``; the same delay is also in
``retry-after-ms`` for clients that do not decode the details.
"""

from __future__ import annotations

import logging
import math

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from voxserve import errors

logger = logging.getLogger(__name__)

ERROR_DOMAIN = "voxserve"
RETRY_AFTER_METADATA = "retry-after-ms"
#: Delay suggested while the engines load or the server drains (HTTP: ``Retry-After: 5``).
UNAVAILABLE_RETRY_S = 5.0

#: Domain error class -> gRPC status code. The first match in MRO order wins.
_CODES: dict[type[errors.VoxserveError], grpc.StatusCode] = {
    errors.InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    errors.RateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.ModelNotFound: grpc.StatusCode.NOT_FOUND,
    errors.VoiceNotFound: grpc.StatusCode.NOT_FOUND,
    errors.ApiKeyNotFound: grpc.StatusCode.NOT_FOUND,
    errors.ArtifactNotFound: grpc.StatusCode.NOT_FOUND,
    errors.ProjectNotFound: grpc.StatusCode.NOT_FOUND,
    errors.ProjectNotReady: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ProjectConflict: grpc.StatusCode.FAILED_PRECONDITION,
    errors.LexiconNotFound: grpc.StatusCode.NOT_FOUND,
    errors.ModelConflict: grpc.StatusCode.FAILED_PRECONDITION,
    errors.NotReady: grpc.StatusCode.UNAVAILABLE,
    errors.ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    errors.Overloaded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.EngineFailed: grpc.StatusCode.INTERNAL,
    errors.EngineLoadError: grpc.StatusCode.INTERNAL,
    errors.ConfigurationError: grpc.StatusCode.INTERNAL,
}


def code_for(exc: errors.VoxserveError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def retry_delay_s(exc: errors.VoxserveError) -> float | None:
    """How long a client should wait before retrying, or None when retrying will not help."""
    if isinstance(exc, errors.Overloaded | errors.RateLimited):
        return max(0.001, exc.retry_after_s)
    if isinstance(exc, errors.NotReady | errors.ShuttingDown):
        return UNAVAILABLE_RETRY_S
    return None


def status_for(exc: errors.VoxserveError) -> grpc.Status:
    """The status (code, message, trailing metadata) a call that raised ``exc`` ends with."""
    code = code_for(exc)
    info = error_details_pb2.ErrorInfo(reason=exc.code, domain=ERROR_DOMAIN)
    if exc.param:
        info.metadata["param"] = exc.param
    if isinstance(exc, errors.RateLimited):
        info.metadata["limit"] = exc.limit
    if isinstance(exc, errors.Overloaded):
        info.metadata["reason"] = exc.reason
    details = status_pb2.Status(code=_rpc_code(code), message=exc.message)
    details.details.add().Pack(info)
    delay_s = retry_delay_s(exc)
    if delay_s is not None:
        whole = math.floor(delay_s)
        retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(
            seconds=whole, nanos=round((delay_s - whole) * 1e9)))
        details.details.add().Pack(retry)
    status = rpc_status.to_status(details)
    metadata = tuple(status.trailing_metadata)
    if delay_s is not None:
        metadata += ((RETRY_AFTER_METADATA, str(math.ceil(delay_s * 1000))),)
    if code is grpc.StatusCode.INTERNAL:
        logger.error("call failed: %s: %s", exc.code, exc.message)
    return _Status(code, exc.message, metadata)


def internal_status() -> grpc.Status:
    """What a call that failed unexpectedly ends with (the error is logged, not shown)."""
    details = status_pb2.Status(code=code_pb2.INTERNAL, message="internal server error")
    info = error_details_pb2.ErrorInfo(reason="internal_error", domain=ERROR_DOMAIN)
    details.details.add().Pack(info)
    status = rpc_status.to_status(details)
    return _Status(grpc.StatusCode.INTERNAL, "internal server error",
                   tuple(status.trailing_metadata))


def _rpc_code(code: grpc.StatusCode) -> int:
    value: int = code.value[0]
    return value


class _Status(grpc.Status):  # type: ignore[misc]
    def __init__(
        self, code: grpc.StatusCode, details: str,
        trailing_metadata: tuple[tuple[str, str | bytes], ...],
    ) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata
