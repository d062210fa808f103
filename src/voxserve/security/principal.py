"""Who is calling: the result of authentication, handed to routes, limits and the audit log."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final, Literal

SCOPE_SPEECH: Final = "speech"
SCOPE_PROJECTS: Final = "projects"
SCOPE_ADMIN: Final = "admin"
ALL_SCOPES: Final[frozenset[str]] = frozenset({SCOPE_SPEECH, SCOPE_PROJECTS, SCOPE_ADMIN})

AuthMethod = Literal["none", "api_key", "jwt"]

#: Longest owner id stored as it is (the column holds 255); longer JWT subjects are hashed.
_MAX_OWNER_ID_CHARS = 200


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``subject``: the API key's name, the JWT's ``sub``, or ``anonymous`` without auth.
    ``key_id``: the API key's id (``None`` for JWT and anonymous callers).
    ``auth_method``: ``none``, ``api_key`` or ``jwt``.
    """

    subject: str
    scopes: frozenset[str]
    key_id: str | None
    auth_method: str

    def has_scope(self, scope: str) -> bool:
        """``admin`` implies every other scope."""
        return scope in self.scopes or SCOPE_ADMIN in self.scopes

    @property
    def owner_id(self) -> str | None:
        """The stable id that owns what this principal creates (projects): ``key:<key id>``
        for an API key — never its name, which a later key may reuse once this one is
        revoked — or ``jwt:<sub>`` for a token; ``None`` without authentication."""
        if self.auth_method == "none":
            return None
        if self.key_id is not None:
            return f"key:{self.key_id}"
        owner = f"{self.auth_method}:{self.subject}"
        if len(owner) > _MAX_OWNER_ID_CHARS:
            digest = hashlib.sha256(self.subject.encode("utf-8")).hexdigest()
            owner = f"{self.auth_method}:sha256:{digest}"
        return owner

    def limit_identity(self, client_host: str | None = None) -> str:
        """The key the rate limits count under: the API key id, the JWT subject, or, without
        authentication, the client address."""
        if self.auth_method == "none":
            return f"ip:{client_host or 'unknown'}"
        if self.key_id is not None:
            return f"key:{self.key_id}"
        return f"{self.auth_method}:{self.subject}"


ANONYMOUS: Final = Principal(
    subject="anonymous", scopes=ALL_SCOPES, key_id=None, auth_method="none"
)

#: The principal of the request being served (set by the auth dependency; read by audit).
principal_var: ContextVar[Principal | None] = ContextVar("voxserve_principal", default=None)
