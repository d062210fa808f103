"""Authentication for the configured mode (the FastAPI dependency is ``voxserve.api.auth``).

All modes read ``Authorization: Bearer <credential>`` so OpenAI clients work unchanged
(``OpenAI(api_key=...)`` sends exactly that).
"""

from __future__ import annotations

import logging

from voxserve.errors import Forbidden, Unauthenticated
from voxserve.security.api_keys import ApiKeyStore, default_api_keys_path
from voxserve.security.jwt_auth import JwtVerifier
from voxserve.security.principal import ANONYMOUS, Principal
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

