"""JWT bearer tokens: HS256 with a shared secret, RS256/ES256 (and their siblings) with a PEM
public key or a JWKS file (key picked by ``kid``).

Defences:

* **Explicit allow-list.** Only algorithms in ``jwt_algorithms`` are accepted; ``none`` is
  never accepted (refused when configured). The token header only *names* an algorithm;
  if it is not allowed the token is refused before any key is touched.
* **No algorithm confusion.** The key is chosen by the algorithm's *family* from what the
  server configured for that family: an ``HS*`` token is checked against the HMAC secret
  only, never against the RSA/EC public key (the classic "HS256 signed with the public key
  as the secret" attack), and an ``RS*``/``ES*`` token only against an asymmetric key object
  of the matching type. ``jwt.decode`` then gets that single algorithm.
* **Claims.** ``exp`` and ``sub`` are required; ``exp``, ``nbf`` and ``iat`` (not in the
  future) are checked with ``jwt_leeway_s``; ``iss`` and ``aud`` when configured.

Every failure is reported to the client as the same :class:`Unauthenticated` ("invalid or
expired token"); the precise reason goes to the log at INFO level.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from voxserve.errors import ConfigurationError, Unauthenticated
from voxserve.security.principal import Principal
from voxserve.settings import Settings

logger = logging.getLogger(__name__)

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})
OKP_ALGORITHMS = frozenset({"EdDSA"})
ASYMMETRIC_ALGORITHMS = RSA_ALGORITHMS | EC_ALGORITHMS | OKP_ALGORITHMS
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS

#: Longer bearer values are refused before any parsing (cheap DoS guard).
MAX_TOKEN_CHARS = 8192

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    | ed448.Ed448PublicKey
)


class _Rejected(Exception):
    """Internal: why a token was refused (logged, never shown to the client)."""


def validate_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    allowed = tuple(dict.fromkeys(algorithms))
    if not allowed:
        raise ConfigurationError("VOXSERVE_JWT_ALGORITHMS is empty")
    bad = [a for a in allowed if a not in SUPPORTED_ALGORITHMS]
    if bad:
        raise ConfigurationError(
            f"VOXSERVE_JWT_ALGORITHMS: unsupported algorithm(s) {', '.join(bad)} "
            f"(supported: {', '.join(sorted(SUPPORTED_ALGORITHMS))}; 'none' is never allowed)"
        )
    return allowed


def _key_matches(alg: str, key: object) -> bool:
    if alg in RSA_ALGORITHMS:
        return isinstance(key, rsa.RSAPublicKey)
    if alg in EC_ALGORITHMS:
        return isinstance(key, ec.EllipticCurvePublicKey)
    if alg in OKP_ALGORITHMS:
        return isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    return False


def load_public_key(path: Path) -> PublicKey:
    try:
        key = load_pem_public_key(path.expanduser().read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the JWT public key {path}: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
                      | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        raise ConfigurationError(f"{path}: unsupported public key type {type(key).__name__}")
    return key


class JwksFile:
    """A JWKS JSON file, re-read when it changes (key rotation without a restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        #: (kid, the JWK's own "alg" if any, key object)
        self._keys: list[tuple[str | None, str | None, Any]] = []
        self.keys()  # fail at start-up, not on the first request

    def keys(self) -> list[tuple[str | None, str | None, Any]]:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the JWKS file {self.path}: {exc}") from None
        signature = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if signature != self._signature:
                self._keys = self._load()
                self._signature = signature
            return self._keys

    def _load(self) -> list[tuple[str | None, str | None, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data["keys"]
            if not isinstance(entries, list):
                raise TypeError("'keys' is not a list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"JWKS file {self.path} is not valid: {exc}") from None
        keys = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                jwk = jwt.PyJWK(entry)
                alg = entry.get("alg")
                keys.append((jwk.key_id, alg if isinstance(alg, str) else None, jwk.key))
            except jwt.PyJWTError as exc:
                logger.warning("JWKS %s: skipping key %r: %s", self.path, entry.get("kid"), exc)
        return keys

    def find(self, kid: object, alg: str) -> Any:
        keys = self.keys()
        if kid is None:
            if len(keys) != 1:
                raise _Rejected("no kid in the header and the JWKS has several keys")
            candidates = keys
        else:
            candidates = [k for k in keys if k[0] == kid]
            if not candidates:
                raise _Rejected(f"unknown kid {kid!r}")
        _, declared, key = candidates[0]
        if declared is not None and declared != alg:
            raise _Rejected(f"kid {kid!r} is for {declared}, the token says {alg}")
        return key


class JwtVerifier:
    """Verifies bearer JWTs against the configured keys; see the module docstring."""

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        secret: str | None = None,
        public_key: PublicKey | None = None,
        jwks: JwksFile | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway_s: float = 30.0,
        scope_claim: str = "scope",
    ) -> None:
        self.algorithms = validate_algorithms(algorithms)
        self._secret = secret.encode("utf-8") if secret else None
        self._public_key = public_key
        self._jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.scope_claim = scope_claim
        if any(a in HMAC_ALGORITHMS for a in self.algorithms) and self._secret is None:
            raise ConfigurationError("an HS* algorithm is allowed but VOXSERVE_JWT_SECRET is unset")
        if any(a in ASYMMETRIC_ALGORITHMS for a in self.algorithms) and (
            public_key is None and jwks is None
        ):
            raise ConfigurationError(
                "an RS*/ES* algorithm is allowed but neither VOXSERVE_JWT_PUBLIC_KEY_FILE nor "
                "VOXSERVE_JWT_JWKS_FILE is set"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier:
        return cls(
            algorithms=settings.jwt_algorithms,
            secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
            public_key=(load_public_key(settings.jwt_public_key_file)
                        if settings.jwt_public_key_file else None),
            jwks=JwksFile(settings.jwt_jwks_file) if settings.jwt_jwks_file else None,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway_s=settings.jwt_leeway_s,
            scope_claim=settings.jwt_scope_claim,
        )

    def verify(self, token: str) -> Principal:
        """The token's principal, or :class:`Unauthenticated` (reason logged, not shown)."""
        try:
            return self._verify(token)
        except (_Rejected, jwt.PyJWTError) as exc:
            logger.info("JWT refused: %s: %s", type(exc).__name__, exc)
            raise Unauthenticated() from None

    def _key_for(self, alg: str, header: dict[str, Any]) -> Any:
        if alg in HMAC_ALGORITHMS:
            if self._secret is None:  # pragma: no cover - refused in __init__
                raise _Rejected("no HMAC secret configured")
            return self._secret
        kid = header.get("kid")
        if self._jwks is not None and (kid is not None or self._public_key is None):
            key = self._jwks.find(kid, alg)
        elif self._public_key is not None:
            key = self._public_key
        else:  # pragma: no cover - refused in __init__
            raise _Rejected("no public key configured")
        if not _key_matches(alg, key):
            raise _Rejected(f"the key for this token is a {type(key).__name__}, not {alg}")
        return key

    def _verify(self, token: str) -> Principal:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise _Rejected("empty or oversized token")
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise _Rejected(f"algorithm {alg!r} is not allowed")
        key = self._key_for(alg, header)
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway_s,
            options={
                "require": ["exp", "sub"],
                "verify_aud": self.audience is not None,
                "verify_iss": self.issuer is not None,
            },
        )
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise _Rejected("'sub' is not a non-empty string")
        return Principal(
            subject=subject, scopes=self._scopes(claims.get(self.scope_claim)), key_id=None,
            auth_method="jwt",
        )

    @staticmethod
    def _scopes(value: object) -> frozenset[str]:
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list | tuple):
            return frozenset(s for s in value if isinstance(s, str) and s)
        return frozenset()
