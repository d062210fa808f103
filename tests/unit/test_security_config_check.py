"""Start-up checks: placeholder and short secrets, missing keys, open binding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from voxserve.errors import ConfigurationError
from voxserve.security.api_keys import ApiKeyStore
from voxserve.security.config_check import check_security_settings
from voxserve.settings import Settings

GOOD_SECRET = "k3Y-9f2Qx7Lw0pZr8sTb4nVc6mJh1dGa5eUo"


@pytest.mark.parametrize("secret", [
    "changeme", "secret", "password", "your-secret-here", "short-but-random-Xy7",
    "changeme-changeme-changeme-changeme", "your-secret-here-please-replace-it-now",
    "a" * 64, "passwordpasswordpasswordpassword",
])
def test_weak_or_placeholder_secrets_are_refused(tmp_path: Path, secret: str) -> None:
    settings = Settings(data_dir=tmp_path, auth="jwt", jwt_secret=secret,
                        jwt_audience="voxserve", jwt_issuer="me")
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        check_security_settings(settings)


def test_good_secret_passes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth="jwt", jwt_secret=GOOD_SECRET,
                        jwt_audience="voxserve", jwt_issuer="me")
    assert check_security_settings(settings) == []
    loose = Settings(data_dir=tmp_path, auth="jwt", jwt_secret=GOOD_SECRET)
    assert any("AUDIENCE" in w for w in check_security_settings(loose))


def test_jwt_without_key_material_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        check_security_settings(Settings(data_dir=tmp_path, auth="jwt"))
    with pytest.raises(ConfigurationError, match="PUBLIC_KEY_FILE"):
        check_security_settings(Settings(data_dir=tmp_path, auth="jwt",
                                         jwt_algorithms=["RS256"]))
    with pytest.raises(ConfigurationError, match="unsupported"):
        check_security_settings(Settings(data_dir=tmp_path, auth="jwt", jwt_secret=GOOD_SECRET,
                                         jwt_algorithms=["none"]))
    with pytest.raises(ConfigurationError):
        check_security_settings(Settings(data_dir=tmp_path, auth="jwt",
                                         jwt_algorithms=["ES256"],
                                         jwt_public_key_file=tmp_path / "missing.pem"))


def test_jwt_with_public_key_and_jwks(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    settings = Settings(data_dir=tmp_path, auth="jwt", jwt_algorithms=["ES256"],
                        jwt_public_key_file=tmp_path / "ec.pem", jwt_audience="a",
                        jwt_issuer="i")
    assert check_security_settings(settings) == []
    (tmp_path / "empty.json").write_text(json.dumps({"keys": []}))
    with pytest.raises(ConfigurationError, match="no usable key"):
        check_security_settings(Settings(data_dir=tmp_path, auth="jwt",
                                         jwt_algorithms=["ES256"],
                                         jwt_jwks_file=tmp_path / "empty.json"))


def test_api_key_mode_warns_without_keys(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth="api_key")
    (warning,) = check_security_settings(settings)
    assert "no active key" in warning
    ApiKeyStore(tmp_path / "api_keys.json").create("one", ["speech"])
    assert check_security_settings(settings) == []


@pytest.mark.parametrize(("host", "warns"), [
    ("127.0.0.1", False), ("localhost", False), ("::1", False), ("127.0.1.1", False),
    ("0.0.0.0", True), ("192.168.1.10", True), ("::", True),
])
def test_no_auth_on_a_public_address_warns(tmp_path: Path, host: str, warns: bool) -> None:
    warnings = check_security_settings(Settings(data_dir=tmp_path, host=host))
    assert any(w.startswith("auth is off and the server listens on") for w in warnings) == warns


def test_other_fatal_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="RATE_LIMIT_STORAGE_URL"):
        check_security_settings(Settings(data_dir=tmp_path, rate_limit_storage_url="mongo://"))
    with pytest.raises(ConfigurationError, match="database"):
        check_security_settings(Settings(data_dir=tmp_path, audit_log="database"))
    warnings = check_security_settings(Settings(data_dir=tmp_path, audit_log_text=True))
    assert any("audit_log_text" in w for w in warnings)


@pytest.mark.parametrize("secret", [
    "0123456789abcdef0123456789abcdef",  # a sequence, twice
    "01234567890123456789012345678901234567890",
    "your-256-bit-secret-your-256-bit-secret",  # jwt.io's example
    "abcabcabcabcabcabcabcabcabcabcabcabc", "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3",
    "qwertyuiopasdfghjklzxcvbnm1234567890", "aB3$" * 8,
])
def test_predictable_secrets_are_refused_however_long(tmp_path: Path, secret: str) -> None:
    """Issue 23 (D9): sequences, repeats and keyboard walks have length but no entropy."""
    settings = Settings(data_dir=tmp_path, auth="jwt", jwt_secret=secret,
                        jwt_audience="voxserve", jwt_issuer="me")
    with pytest.raises(ConfigurationError, match="JWT_SECRET is refused"):
        check_security_settings(settings)


def test_random_secrets_pass() -> None:
    import secrets

    from voxserve.security.config_check import secret_problem

    for _ in range(20):
        assert secret_problem(secrets.token_hex(16)) is None  # 128 bits
        assert secret_problem(secrets.token_urlsafe(32)) is None
        assert secret_problem(secrets.token_urlsafe(96)) is None  # long: estimated on a prefix


def test_webhook_secret_must_be_a_real_key(tmp_path: Path) -> None:
    import base64

    short = "whsec_" + base64.b64encode(b"short").decode()
    weak = Settings(data_dir=tmp_path, webhook_secret=short)
    with pytest.raises(ConfigurationError, match="WEBHOOK_SECRET"):
        check_security_settings(weak)
    good = Settings(data_dir=tmp_path,
                    webhook_secret="whsec_" + base64.b64encode(bytes(range(32))).decode())
    assert check_security_settings(good) == []
