"""rpc/errors.py: the one table of domain errors -> gRPC statuses, and the details a
refused call carries (ErrorInfo always; RetryInfo and retry-after-ms when a retry helps)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from voxserve import errors
from voxserve.api.errors import status_for as http_status_for
from voxserve.rpc.errors import RETRY_AFTER_METADATA, code_for, internal_status, status_for

Code = grpc.StatusCode


def _all_errors() -> list[type[errors.VoxserveError]]:
    found, todo = [], [errors.VoxserveError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _instance(cls: type[errors.VoxserveError]) -> errors.VoxserveError:
    if cls is errors.Overloaded:
        return errors.Overloaded("busy", retry_after_s=2.5, reason="queue_full")
    if cls is errors.RateLimited:
        return errors.RateLimited("slow down", retry_after_s=30.0, limit="requests")
    if cls is errors.Forbidden:
        return errors.Forbidden("speech")
    if cls is errors.Unauthenticated:
        return errors.Unauthenticated()
    if cls is errors.ProtocolViolation:
        return errors.ProtocolViolation("not JSON", 1007)
    return cls("message", param="field")


@pytest.mark.parametrize(("error", "code"), [
    (errors.InvalidRequest("x"), Code.INVALID_ARGUMENT),
    (errors.EmptyText("x"), Code.INVALID_ARGUMENT),
    (errors.TextTooLong("x"), Code.INVALID_ARGUMENT),
    (errors.UnsupportedSampleRate("x"), Code.INVALID_ARGUMENT),
    (errors.InvalidOption("x"), Code.INVALID_ARGUMENT),
    (errors.ModelNotFound("x"), Code.NOT_FOUND),
    (errors.VoiceNotFound("x"), Code.NOT_FOUND),
    (errors.Overloaded("x"), Code.RESOURCE_EXHAUSTED),
    (errors.RateLimited("x", retry_after_s=1, limit="requests"), Code.RESOURCE_EXHAUSTED),
    (errors.NotReady("x"), Code.UNAVAILABLE),
    (errors.ShuttingDown("x"), Code.UNAVAILABLE),
    (errors.DeadlineExceeded("x"), Code.DEADLINE_EXCEEDED),
    (errors.Unauthenticated(), Code.UNAUTHENTICATED),
    (errors.Forbidden("speech"), Code.PERMISSION_DENIED),
    (errors.EngineFailed("x"), Code.INTERNAL),
    (errors.ConfigurationError("x"), Code.INTERNAL),
])
def test_mapping_table(error: errors.VoxserveError, code: grpc.StatusCode) -> None:
    assert code_for(error) == code


@pytest.mark.parametrize("cls", _all_errors(), ids=lambda cls: cls.__name__)
def test_client_errors_over_http_are_never_internal_over_grpc(
    cls: type[errors.VoxserveError],
) -> None:
    """The two transports agree: what HTTP calls the client's fault (4xx) or a retryable
    state (503/504), gRPC does not call INTERNAL."""
    error = _instance(cls)
    http_status, _ = http_status_for(error)
    if http_status < 500 or http_status in (503, 504):
        assert code_for(error) is not Code.INTERNAL
    else:
        assert code_for(error) is Code.INTERNAL


def _details(status: grpc.Status) -> status_pb2.Status:
    raw = dict(status.trailing_metadata)["grpc-status-details-bin"]
    assert isinstance(raw, bytes)
    return status_pb2.Status.FromString(raw)


def _unpack(details: status_pb2.Status, kind: type) -> object | None:
    for any_ in details.details:
        if any_.Is(kind.DESCRIPTOR):
            value = kind()
            any_.Unpack(value)
            return value
    return None


def test_error_info_carries_code_and_param() -> None:
    status = status_for(errors.UnsupportedSampleRate("bad rate", param="sample_rate"))
    assert status.code is Code.INVALID_ARGUMENT and status.details == "bad rate"
    details = _details(status)
    assert details.code == Code.INVALID_ARGUMENT.value[0] and details.message == "bad rate"
    info = _unpack(details, error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("unsupported_sample_rate", "voxserve")
    assert dict(info.metadata) == {"param": "sample_rate"}
    assert _unpack(details, error_details_pb2.RetryInfo) is None  # retrying will not help
    assert RETRY_AFTER_METADATA not in dict(status.trailing_metadata)


@pytest.mark.parametrize(("error", "delay_s"), [
    (errors.Overloaded("busy", retry_after_s=2.5), 2.5),
    (errors.RateLimited("slow", retry_after_s=30.0, limit="characters"), 30.0),
    (errors.NotReady("loading"), 5.0),
    (errors.ShuttingDown("draining"), 5.0),
])
def test_retry_delay_in_trailing_metadata(error: errors.VoxserveError, delay_s: float) -> None:
    status = status_for(error)
    retry = _unpack(_details(status), error_details_pb2.RetryInfo)
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToTimedelta().total_seconds() == pytest.approx(delay_s)
    assert dict(status.trailing_metadata)[RETRY_AFTER_METADATA] == str(int(delay_s * 1000))


def test_rate_limit_names_the_limit() -> None:
    status = status_for(errors.RateLimited("slow", retry_after_s=1, limit="concurrent_streams"))
    info = _unpack(_details(status), error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "rate_limit_exceeded" and info.metadata["limit"] == "concurrent_streams"


def test_internal_status_hides_the_error() -> None:
    status = internal_status()
    assert status.code is Code.INTERNAL and status.details == "internal server error"
    info = _unpack(_details(status), error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo) and info.reason == "internal_error"
