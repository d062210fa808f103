"""What every RPC of the Speech service goes through, as HTTP requests go through the
middleware: a request id, draining refusal, authentication from ``authorization: Bearer``
metadata with the same keys/JWT and scopes (``security.Authenticator``), the per-caller
request limit shared with HTTP (``security.RateLimiter``), the in-flight count the drain
waits for, one access-log line, one audit record and the ``voxserve_grpc_*`` metrics; a
domain error anywhere ends the call with its status (``rpc.errors``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio

from voxserve import metrics
from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import ShuttingDown, VoxserveError
from voxserve.logs import request_id_var
from voxserve.rpc.errors import internal_status, status_for
from voxserve.security.audit import AuditLog, audit_event
from voxserve.security.authenticator import Authenticator
from voxserve.security.limits import RateLimiter
from voxserve.security.principal import Principal
from voxserve.service.lifecycle import ServiceState
from voxserve.service.speech import SpeechService
from voxserve.settings import Settings

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("voxserve.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_PEER = re.compile(r"^ipv[46]:\[?(?P<host>[^\]]+?)\]?:\d+$")


@dataclass(frozen=True)
class RpcEnvironment:
    """The process's shared objects the gRPC transport uses (the same ones HTTP uses)."""

    settings: Settings
    speech: SpeechService
    catalog: EngineCatalog
    state: ServiceState
    authenticator: Authenticator
    rate_limiter: RateLimiter
    audit_log: AuditLog


@dataclass
class Call:
    """One RPC being served; the servicer fills in what its access line should say."""

    method: str
    principal: Principal
    identity: str
    request_id: str
    received_at_s: float
    record: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


def peer_host(peer: str) -> str | None:
    """The client address of ``context.peer()`` (``ipv4:1.2.3.4:5678``, ``ipv6:[::1]:5678``)."""
    match = _PEER.match(peer or "")
    return match.group("host") if match else None


class CallGuard:
    """Opens :class:`Call` s for the servicer: ``async with guard.call(context, method,
    scope) as call:``."""

    def __init__(self, env: RpcEnvironment) -> None:
        self._env = env

    @asynccontextmanager
    async def call(
        self, context: grpc.aio.ServicerContext, method: str, scope: str
    ) -> AsyncIterator[Call]:
        started = time.perf_counter()
        metadata = {key: value for key, value in context.invocation_metadata() or ()
                    if isinstance(value, str)}
        request_id = metadata.get("x-request-id", "")
        if not _VALID_REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        id_token = request_id_var.set(request_id)
        client = peer_host(context.peer())
        code = grpc.StatusCode.OK
        current: Call | None = None
        self._env.state.request_started()
        try:
            await context.send_initial_metadata((("x-request-id", request_id),))
            if self._env.state.draining:
                raise ShuttingDown("the server is shutting down; retry on another instance")
            principal = self._env.authenticator.authenticate(metadata.get("authorization"))
            Authenticator.require(principal, scope)
            identity = principal.limit_identity(client)
            await self._env.rate_limiter.check_request(identity)
            current = Call(method, principal, identity, request_id, started)
            yield current
        except VoxserveError as exc:
            status = status_for(exc)
            code = status.code
            await context.abort(status.code, status.details, status.trailing_metadata)
        except asyncio.CancelledError:
            remaining = context.time_remaining()
            code = (grpc.StatusCode.DEADLINE_EXCEEDED if remaining is not None
                    and remaining <= 0 else grpc.StatusCode.CANCELLED)
            raise
        except grpc.aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except Exception:
            logger.exception("unhandled error", extra={"rpc": method})
            status = internal_status()
            code = status.code
            await context.abort(status.code, status.details, status.trailing_metadata)
        finally:
            self._env.state.request_finished()
            self._finish(method, code, started, client, current)
            request_id_var.reset(id_token)

    def _finish(
        self, method: str, code: grpc.StatusCode, started: float, client: str | None,
        call: Call | None,
    ) -> None:
        duration_s = time.perf_counter() - started
        code_name = code.name
        metrics.GRPC_REQUESTS.labels(method, code_name).inc()
        metrics.GRPC_REQUEST_DURATION.labels(method).observe(duration_s)
        record = call.record if call is not None else {}
        access_logger.info(
            "GRPC %s %s", method, code_name,
            extra={"transport": "grpc", "method": "GRPC", "path": method, "status": code_name,
                   "duration_ms": round(duration_s * 1000, 2), **record},
        )
        if call is not None:
            self._env.audit_log.record(audit_event(
                principal=call.principal, method="GRPC", route=method,
                status=int(code.value[0]), request_id=call.request_id, text=call.text,
                client=client, include_text=self._env.settings.audit_log_text,
            ))
