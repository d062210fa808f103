"""The FastAPI side of authentication: the dependency routes use, and the principal it
leaves on the request (``voxserve.security.authenticator`` does the checking)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from voxserve.security.authenticator import Authenticator
from voxserve.security.principal import Principal, principal_var

#: ``request.state`` key of the caller's principal (set by :func:`require_scope`; read by the
#: rate limits and the audit middleware).
STATE_PRINCIPAL = "principal"


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: authenticate (``app.state.authenticator``), check ``scope``,
    and publish the principal on ``request.state.principal`` and :data:`principal_var`.

    ``router = APIRouter(dependencies=[Depends(require_scope("speech"))])`` or, to get the
    principal in the route, ``principal: Annotated[Principal, Depends(require_scope(...))]``.
    """

    async def dependency(request: Request) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        # AuthenticationMiddleware already did it, from the headers, before the body.
        principal = current_principal(request) or authenticator.authenticate(
            request.headers.get("authorization"))
        # Published before the scope check, so a 403 is audited under its principal.
        setattr(request.state, STATE_PRINCIPAL, principal)
        principal_var.set(principal)
        authenticator.require(principal, scope)
        return principal

    dependency.__name__ = f"require_{scope}_scope"
    return dependency


def current_principal(request: Request) -> Principal | None:
    """The principal a :func:`require_scope` dependency established for this request."""
    principal: Any = getattr(request.state, STATE_PRINCIPAL, None)
    return principal if isinstance(principal, Principal) else None
