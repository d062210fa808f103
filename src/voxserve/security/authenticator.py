"""Authentication for the configured mode, and the FastAPI dependency routes use.

All modes read ``Authorization: Bearer <credential>`` so OpenAI clients work unchanged
(``OpenAI(api_key=...)`` sends exactly that).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from voxserve.security.api_keys import ApiKeyStore, default_api_keys_path
from voxserve.security.errors import Forbidden, Unauthenticated
from voxserve.security.jwt_auth import JwtVerifier
from voxserve.security.principal import ANONYMOUS, Principal, principal_var
from voxserve.settings import Settings

logger = logging.getLogger(__name__)


def bearer_credential(authorization_header: str | None) -> str | None:
    """The credential of ``Bearer <credential>`` (scheme case-insensitive), else ``None``."""
    if not authorization_header:
        return None
    scheme, _, credential = authorization_header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential or " " in credential:
        return None
    return credential


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Principal` for ``settings.auth``."""

    def __init__(
        self,
        settings: Settings,
        *,
        key_store: ApiKeyStore | None = None,
        jwt_verifier: JwtVerifier | None = None,
    ) -> None:
        self.mode = settings.auth
        self.key_store: ApiKeyStore | None = None
        self.jwt_verifier: JwtVerifier | None = None
        if self.mode == "api_key":
            self.key_store = key_store or ApiKeyStore(
                default_api_keys_path(settings.api_keys_file, settings.data_dir)
            )
        elif self.mode == "jwt":
            self.jwt_verifier = jwt_verifier or JwtVerifier.from_settings(settings)

    def authenticate(self, authorization_header: str | None) -> Principal:
        """The caller's principal; :class:`Unauthenticated` (401) when it has none."""
        if self.mode == "none":
            return ANONYMOUS
        credential = bearer_credential(authorization_header)
        if credential is None:
            if authorization_header:
                raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
            raise Unauthenticated(
                "authentication required: send 'Authorization: Bearer <token>'",
                invalid_token=False,
            )
        if self.key_store is not None:
            principal = self.key_store.verify(credential)
            if principal is None:
                logger.info("API key refused")
                raise Unauthenticated()
            return principal
        assert self.jwt_verifier is not None
        return self.jwt_verifier.verify(credential)

    @staticmethod
    def require(principal: Principal, scope: str) -> None:
        """:class:`Forbidden` (403) unless the principal has ``scope`` (or ``admin``)."""
        if not principal.has_scope(scope):
            raise Forbidden(scope)


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: authenticate (``app.state.authenticator``), check ``scope``,
    and publish the principal on ``request.state.principal`` and :data:`principal_var`.

    ``router = APIRouter(dependencies=[Depends(require_scope("speech"))])`` or, to get the
    principal in the route, ``principal: Annotated[Principal, Depends(require_scope(...))]``.
    """

    async def dependency(request: Request) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        principal = authenticator.authenticate(request.headers.get("authorization"))
        # Published before the scope check, so a 403 is audited under its principal.
        request.state.principal = principal
        principal_var.set(principal)
        authenticator.require(principal, scope)
        return principal

    dependency.__name__ = f"require_{scope}_scope"
    return dependency


def current_principal(request: Request) -> Principal | None:
    """The principal a :func:`require_scope` dependency established for this request."""
    principal: Any = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else None
