"""JWT verification: algorithms, keys, claims, and the attacks that must fail."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from voxserve.errors import ConfigurationError, Unauthenticated
from voxserve.security.jwt_auth import JwksFile, JwtVerifier

SECRET = "k3Y-9f2Qx7Lw0pZr8sTb4nVc6mJh1dGa5eUo"
ISSUER = "https://auth.example.org/"
AUDIENCE = "voxserve"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "user-1", "iat": now, "exp": now + 300, "iss": ISSUER, "aud": AUDIENCE,
            "scope": "speech projects"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs_verifier(**kwargs: Any) -> JwtVerifier:
    options: dict[str, Any] = {"algorithms": ["HS256"], "secret": SECRET, "issuer": ISSUER,
                               "audience": AUDIENCE, "leeway_s": 5}
    options.update(kwargs)
    return JwtVerifier(**options)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_hs256_token() -> None:
    principal = hs_verifier().verify(jwt.encode(claims(), SECRET, algorithm="HS256"))
    assert principal.subject == "user-1"
    assert principal.scopes == frozenset({"speech", "projects"})
    assert principal.auth_method == "jwt" and principal.key_id is None


def test_scopes_as_a_list_and_a_custom_claim() -> None:
    token = jwt.encode(claims(scope=None, permissions=["admin", 3]), SECRET, algorithm="HS256")
    principal = hs_verifier(scope_claim="permissions").verify(token)
    assert principal.scopes == frozenset({"admin"})


# Built when the test runs (not at collection), so the times are relative to "now".
@pytest.mark.parametrize("make_claims", [
    pytest.param(lambda: claims(exp=int(time.time()) - 60), id="expired"),
    pytest.param(lambda: claims(exp=None), id="no-exp"),
    pytest.param(lambda: claims(sub=None), id="no-sub"),
    pytest.param(lambda: claims(aud="another-service"), id="wrong-audience"),
    pytest.param(lambda: claims(iss="https://evil.example/"), id="wrong-issuer"),
    pytest.param(lambda: claims(nbf=int(time.time()) + 120), id="not-yet-valid"),
    pytest.param(lambda: claims(iat=int(time.time()) + 120), id="issued-in-future"),
])
def test_bad_claims_are_refused(make_claims: Callable[[], dict[str, Any]]) -> None:
    token = jwt.encode(make_claims(), SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated) as caught:
        hs_verifier().verify(token)
    assert caught.value.message == "invalid or expired token"
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_leeway_accepts_a_just_expired_token() -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 2), SECRET, algorithm="HS256")
    assert hs_verifier(leeway_s=30).verify(token).subject == "user-1"


def test_tampered_and_wrong_secret_tokens_are_refused() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    header, _payload, signature = token.split(".")
    forged = ".".join([header, b64(claims(sub="admin", scope="admin")), signature])
    with pytest.raises(Unauthenticated):
        hs_verifier().verify(forged)
    other = jwt.encode(claims(), "x" * 16 + SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        hs_verifier().verify(other)
    for garbage in ["", "abc", "a.b.c", "x" * 10_000]:
        with pytest.raises(Unauthenticated):
            hs_verifier().verify(garbage)


def test_alg_none_is_refused() -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    with pytest.raises(Unauthenticated):
        hs_verifier().verify(unsigned)
    with pytest.raises(ConfigurationError):
        JwtVerifier(algorithms=["none"], secret=SECRET)


def test_an_algorithm_outside_the_allow_list_is_refused() -> None:
    token = jwt.encode(claims(), SECRET * 2, algorithm="HS512")
    with pytest.raises(Unauthenticated):
        hs_verifier().verify(token)


def test_hs256_signed_with_the_rsa_public_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    """Algorithm confusion: the public key (which attackers have) used as an HMAC secret."""
    public_pem = pem(rsa_key)
    verifier = JwtVerifier(algorithms=["RS256", "HS256"], secret=SECRET,
                           public_key=rsa_key.public_key())
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{b64(header)}.{b64(claims())}".encode()
    import hashlib
    import hmac
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    forged = signing_input.decode() + "." + base64.urlsafe_b64encode(signature).rstrip(
        b"=").decode()
    with pytest.raises(Unauthenticated):
        verifier.verify(forged)
    # Also when only RS256 is allowed (the header's HS256 is not even looked at).
    with pytest.raises(Unauthenticated):
        JwtVerifier(algorithms=["RS256"], public_key=rsa_key.public_key()).verify(forged)
    # A genuine RS256 token verifies.
    good = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert verifier.verify(good).subject == "user-1"


def test_rs256_and_es256_with_pem_keys(tmp_path: Path, rsa_key: rsa.RSAPrivateKey,
                                       ec_key: ec.EllipticCurvePrivateKey) -> None:
    from voxserve.security.jwt_auth import load_public_key

    (tmp_path / "rsa.pem").write_bytes(pem(rsa_key))
    (tmp_path / "ec.pem").write_bytes(pem(ec_key))
    rs = JwtVerifier(algorithms=["RS256"], public_key=load_public_key(tmp_path / "rsa.pem"))
    es = JwtVerifier(algorithms=["ES256"], public_key=load_public_key(tmp_path / "ec.pem"))
    assert rs.verify(jwt.encode(claims(), rsa_key, algorithm="RS256")).subject == "user-1"
    assert es.verify(jwt.encode(claims(), ec_key, algorithm="ES256")).subject == "user-1"
    # A token whose header says ES256 is never checked against the RSA key, and vice versa.
    both = JwtVerifier(algorithms=["RS256", "ES256"], public_key=rsa_key.public_key())
    with pytest.raises(Unauthenticated):
        both.verify(jwt.encode(claims(), ec_key, algorithm="ES256"))
    # Signed by another key.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthenticated):
        rs.verify(jwt.encode(claims(), other, algorithm="RS256"))


def test_jwks_picks_the_key_by_kid(tmp_path: Path, rsa_key: rsa.RSAPrivateKey,
                                   ec_key: ec.EllipticCurvePrivateKey) -> None:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    rsa_jwk.update(kid="rsa-1", alg="RS256", use="sig")
    ec_jwk.update(kid="ec-1", alg="ES256")
    oct_jwk = {"kty": "oct", "kid": "oct-1", "k": b64({"x": 1})}  # a symmetric key in JWKS
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_jwk, ec_jwk, oct_jwk]}))
    verifier = JwtVerifier(algorithms=["RS256", "ES256", "HS256"], secret=SECRET,
                           jwks=JwksFile(path))

    rs_token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    es_token = jwt.encode(claims(sub="u2"), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    assert verifier.verify(rs_token).subject == "user-1"
    assert verifier.verify(es_token).subject == "u2"
    refused = [
        jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "nope"}),
        jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "ec-1"}),
        jwt.encode(claims(), rsa_key, algorithm="RS256"),  # no kid, several keys
        jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "rsa-1"}),
    ]
    for token in refused:
        with pytest.raises(Unauthenticated):
            verifier.verify(token)

    # Rotation: the file is re-read when it changes.
    new_key = ec.generate_private_key(ec.SECP256R1())
    new_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(new_key.public_key()))
    new_jwk.update(kid="ec-2", alg="ES256")
    path.write_text(json.dumps({"keys": [rsa_jwk, new_jwk]}))
    rotated = jwt.encode(claims(), new_key, algorithm="ES256", headers={"kid": "ec-2"})
    assert verifier.verify(rotated).subject == "user-1"
    with pytest.raises(Unauthenticated):
        verifier.verify(es_token)


def test_missing_key_material_is_a_configuration_error(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError):
        JwtVerifier(algorithms=["HS256"])
    with pytest.raises(ConfigurationError):
        JwtVerifier(algorithms=["RS256"], secret=SECRET)
    with pytest.raises(ConfigurationError):
        JwtVerifier(algorithms=[], secret=SECRET)
