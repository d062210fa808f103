"""Start-up checks of the security settings: fatal mistakes raise, risky ones warn."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import stat

from zxcvbn import zxcvbn

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
                          "secretkey", "supersecret", "example", "bitsecret")
#: Guesses an attacker needs, as zxcvbn estimates them (it finds sequences such as
#: ``0123…`` or ``abcd…``, repeats, keyboard walks, dictionary words and dates): at least
#: 10**24 (about 80 bits). 32 random hex digits (128 bits) score about 10**30, 32 random
#: base64 characters about 10**32; ``0123456789abcdef`` twice scores 10**4.5.
MIN_GUESSES_LOG10 = 24.0
#: zxcvbn's cost grows with the length; a longer secret is at least as strong as its start.
_ESTIMATED_CHARS = 72


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is unfit as an HS* key, or ``None``."""
    if len(secret) < MIN_SECRET_CHARS:
        return f"it is {len(secret)} characters; at least {MIN_SECRET_CHARS} are required"
    normalized = re.sub(r"[^a-z0-9]", "", secret.lower())
    if normalized in _PLACEHOLDERS or any(f in normalized for f in _PLACEHOLDER_FRAGMENTS):
        return "it is a placeholder value"
    guesses_log10 = float(zxcvbn(secret[:_ESTIMATED_CHARS])["guesses_log10"])
    if guesses_log10 < MIN_GUESSES_LOG10:
        return (f"it is too predictable (sequences, repeats or words: about 10^"
                f"{guesses_log10:.0f} guesses; at least 10^{MIN_GUESSES_LOG10:.0f} are "
                "required); use a random value, e.g. `openssl rand -base64 48`")
    return None


#: Standard Webhooks secrets: ``whsec_`` and the base64 of 24 to 64 random bytes.
_MIN_WEBHOOK_KEY_BYTES = 24


def webhook_secret_problem(secret: str) -> str | None:
    """Why ``secret`` is unfit to sign webhooks, or ``None``."""
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "==", validate=False)
    except (binascii.Error, ValueError):
        return "it is not base64 (whsec_<base64>)"
    if len(key) < _MIN_WEBHOOK_KEY_BYTES:
        return (f"it decodes to {len(key)} bytes; at least {_MIN_WEBHOOK_KEY_BYTES} random "
                "bytes are required")
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
    if settings.webhook_secret is not None:
        problem = webhook_secret_problem(settings.webhook_secret.get_secret_value())
        if problem:
            raise ConfigurationError(f"VOXSERVE_WEBHOOK_SECRET is refused: {problem}")

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
