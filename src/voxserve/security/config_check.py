"""Start-up checks of the security settings: fatal mistakes raise, risky ones warn."""

from __future__ import annotations

import ipaddress
import re
import stat

from voxserve.errors import ConfigurationError
from voxserve.security.api_keys import ApiKeyStore, default_api_keys_path
from voxserve.security.jwt_auth import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_ALGORITHMS,
    JwksFile,
    load_public_key,
    validate_algorithms,
)
from voxserve.security.limits import validate_storage_url
from voxserve.settings import Settings

MIN_SECRET_CHARS = 32
#: Normalized (lower case, letters and digits only) values and fragments that mark a
#: copied-from-the-docs secret.
_PLACEHOLDERS = frozenset({
    "changeme", "secret", "password", "yoursecrethere", "yoursecret", "secretkey",
    "jwtsecret", "mysecret", "supersecret", "default", "example", "test", "replaceme",
    "placeholder", "xxx", "todo", "admin", "letmein", "qwerty", "123456",
})
_PLACEHOLDER_FRAGMENTS = ("changeme", "replaceme", "yoursecret", "placeholder", "changethis",
                          "secretkey", "supersecret", "example")
#: A real random secret of 32+ characters has far more distinct characters than this.
_MIN_DISTINCT_CHARS = 10


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is unfit as an HS* key, or ``None``."""
    if len(secret) < MIN_SECRET_CHARS:
        return f"it is {len(secret)} characters; at least {MIN_SECRET_CHARS} are required"
    normalized = re.sub(r"[^a-z0-9]", "", secret.lower())
    if normalized in _PLACEHOLDERS or any(f in normalized for f in _PLACEHOLDER_FRAGMENTS):
        return "it is a placeholder value"
    if len(set(secret)) < _MIN_DISTINCT_CHARS:
        return "it is too repetitive to be random"
    return None


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_security_settings(settings: Settings) -> list[str]:
    """Warnings to log at start-up; :class:`ConfigurationError` for settings that must not
    run (no JWT key, weak or placeholder secret, unknown algorithm, unreadable key files,
    bad rate-limit storage URL, audit to a database)."""
    warnings: list[str] = []
    validate_storage_url(settings.rate_limit_storage_url)
    if settings.audit_log == "database":
        raise ConfigurationError(
            "VOXSERVE_AUDIT_LOG=database is not implemented yet; use 'file' or 'none'"
        )
    if settings.audit_log_text:
        warnings.append("audit_log_text is on: request texts are written to the audit log")

    if settings.auth == "none":
        if not _is_loopback(settings.host):
            warnings.append(
                f"auth is off and the server listens on {settings.host}:{settings.port}: "
                "anyone who can reach it can use it (set VOXSERVE_AUTH=api_key or jwt)"
            )
        return warnings

    if settings.auth == "api_key":
        path = default_api_keys_path(settings.api_keys_file, settings.data_dir)
        active = ApiKeyStore(path).list(include_revoked=False)
        if not active:
            warnings.append(
                f"auth is api_key but {path} holds no active key: every request will be "
                "refused until one is created with 'voxserve keys create NAME'"
            )
        if path.exists() and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(f"{path} is readable by other users; chmod 600 it")
        return warnings

    # jwt
    algorithms = validate_algorithms(settings.jwt_algorithms)
    if any(a in HMAC_ALGORITHMS for a in algorithms):
        if settings.jwt_secret is None:
            raise ConfigurationError(
                "VOXSERVE_AUTH=jwt with an HS* algorithm needs VOXSERVE_JWT_SECRET"
            )
        problem = secret_problem(settings.jwt_secret.get_secret_value())
        if problem:
            raise ConfigurationError(f"VOXSERVE_JWT_SECRET is refused: {problem}")
    if any(a in ASYMMETRIC_ALGORITHMS for a in algorithms):
        if settings.jwt_public_key_file is None and settings.jwt_jwks_file is None:
            raise ConfigurationError(
                "VOXSERVE_AUTH=jwt with an RS*/ES* algorithm needs VOXSERVE_JWT_PUBLIC_KEY_FILE "
                "or VOXSERVE_JWT_JWKS_FILE"
            )
        if settings.jwt_public_key_file is not None:
            load_public_key(settings.jwt_public_key_file)
        if settings.jwt_jwks_file is not None and not JwksFile(settings.jwt_jwks_file).keys():
            raise ConfigurationError(f"the JWKS file {settings.jwt_jwks_file} has no usable key")
    elif settings.jwt_public_key_file or settings.jwt_jwks_file:
        warnings.append("a JWT public key or JWKS is set but no RS*/ES* algorithm is allowed; "
                        "it is unused")
    if settings.jwt_audience is None:
        warnings.append("VOXSERVE_JWT_AUDIENCE is unset: tokens issued for other services by "
                        "the same issuer and key are accepted")
    if settings.jwt_issuer is None:
        warnings.append("VOXSERVE_JWT_ISSUER is unset: the token issuer is not checked")
    return warnings
