"""The outside attack of issue 23, kept as regression checks against real server processes
with authentication on: the eleven defects it found (D1-D11) stay fixed, and what held
(alg none, algorithm confusion, traversal, SQL injection, XSS, body size, revocation, TLS
versions, per-key limits) keeps holding.

Servers use the fake engine (fast, deterministic); keys are created in the server's key
file, which it re-reads on change.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from standardwebhooks import Webhook

from tests.e2e.test_operations import Server, _start, _stop
from tests.tls_tools import self_signed_certificate
from voxserve.security.api_keys import ApiKeyStore

pytestmark = pytest.mark.e2e

SECRET = "a-test-secret-that-is-long-enough-0123456789"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"k" * 8 + os.urandom(24)).decode()
HEADER_TIMEOUT_S = 2
#: The local webhook receiver's address, the only internal one the API server allows.
RECEIVER_HOST = "127.0.0.2"
REQUESTS_PER_MINUTE = 30


# --- servers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """API keys on, a webhook allow-list of the local receiver's address, a signing secret, a short
    header timeout, a small per-key request limit."""
    server = _start(
        tmp_path_factory.mktemp("attacks-api"), VOXSERVE_AUTH="api_key",
        VOXSERVE_WEBHOOK_ALLOWED_HOSTS=RECEIVER_HOST, VOXSERVE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        VOXSERVE_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE=str(REQUESTS_PER_MINUTE),
    )
    yield server
    _stop(server)


def _keys(server: Server) -> ApiKeyStore:
    return ApiKeyStore(server.log_path.parent / "data" / "api_keys.json")


def _key(server: Server, *scopes: str, name: str | None = None) -> str:
    _, key = _keys(server).create(name or f"k-{uuid.uuid4().hex[:8]}", scopes or ("speech",))
    return key


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _completed_project(server: Server, key: str, text: str = "# One\n\nHello there.\n") -> str:
    created = httpx.post(f"{server.url}/v1/projects", headers=_auth(key), timeout=30,
                         json={"text": text, "markdown": True, "model": "fake",
                               "voice": "fake-tone", "response_format": "wav"})
    assert created.status_code == 201, created.text
    project_id: str = created.json()["id"]
    deadline = time.monotonic() + 60
    while True:
        state = httpx.get(f"{server.url}/v1/projects/{project_id}", headers=_auth(key)).json()
        if state["state"] == "completed":
            return project_id
        assert state["state"] in ("queued", "running") and time.monotonic() < deadline, state
        time.sleep(0.2)


def _raw(server: Server, data: bytes, *, read_timeout_s: float = 10) -> bytes:
    """Send ``data`` on a fresh connection; what the server answers before closing (or
    within ``read_timeout_s``)."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout_s) as sock:
        with contextlib.suppress(OSError):  # the server may close while we still send
            sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


# --- D1: another tenant's project files ---------------------------------------------------


def test_d1_project_files_are_served_only_to_their_owner(api: Server) -> None:
    alice = _key(api, "speech", "projects")
    project_id = _completed_project(api, alice)
    files = httpx.get(f"{api.url}/v1/projects/{project_id}", headers=_auth(alice)).json()["files"]
    assert "book.vtt" in files and "manifest.json" in files
    bob = _key(api, "speech", "projects")
    speech_only = _key(api, "speech")
    for name in ("files/book.vtt", "files/manifest.json", "files/book.wav",
                 "files/chapter-001.vtt", "chapters/0.json", "book.vtt"):
        for key in (bob, speech_only, alice):  # not even the owner: project files are not here
            response = httpx.get(f"{api.url}/v1/audio/files/projects/{project_id}/{name}",
                                 headers=_auth(key))
            assert response.status_code == 404, (name, response.status_code)
            assert response.json()["error"]["code"] == "not_found"
    for path in ("/subtitles.vtt", "/manifest.json", "/audio", "/chapters/0/audio"):
        assert httpx.get(f"{api.url}/v1/projects/{project_id}{path}",
                         headers=_auth(bob)).status_code == 404, path
        assert httpx.get(f"{api.url}/v1/projects/{project_id}{path}",
                         headers=_auth(alice)).status_code == 200, path
    # audio stored with return_url stays downloadable through its URL
    stored = httpx.post(f"{api.url}/v1/audio/speech", headers=_auth(alice), json={
        "input": "Keep me.", "model": "fake", "response_format": "wav", "return_url": True})
    assert stored.status_code == 201
    assert httpx.get(stored.json()["url"], headers=_auth(bob)).status_code == 200


# --- D2: unauthenticated bodies are never read ---------------------------------------------


def test_d2_an_unauthenticated_request_is_answered_before_its_body_is_sent(api: Server) -> None:
    """20 MB announced, 1 KiB sent: the 401 comes at once (before, the server waited for the
    whole body, then scanned it on the event loop, before looking at the credential)."""
    length = 20 * 1024 * 1024
    for path in ("/v1/projects", "/v1/audio/speech"):
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {length}\r\n\r\n").encode()
        answer = _raw(api, head + b"[" * 1024, read_timeout_s=8)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert b"connection: close" in answer.lower()
    # with a credential, the same deep body is refused by the depth scan
    key = _key(api, "speech", "projects")
    deep = httpx.post(f"{api.url}/v1/projects", headers=_auth(key),
                      content=b'{"text": ' + b"[" * 100_000, timeout=30,
                      )
    assert deep.status_code == 400 and deep.json()["error"]["code"] == "json_too_deep"


# --- D3: SSRF through webhook_url ------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://localhost:6379/",
    "http://[::1]:8000/",
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",
    "http://0xa9fea9fe/",  # hex
    "http://2852039166/",  # decimal
    "http://0251.0376.0251.0376/",  # octal
    "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/",
    "http://[fd00::1]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://0.0.0.0/",
    "http://240.0.0.1/", "http://ip6-localhost/", "http://no-such-host.invalid/",
    "ftp://example.com/", "file:///etc/passwd",
])
def test_d3_internal_webhook_targets_are_refused(api: Server, url: str) -> None:
    key = _key(api, "projects")
    for send in ("json", "form"):
        if send == "json":
            response = httpx.post(f"{api.url}/v1/projects", headers=_auth(key),
                                  json={"text": "Hi.", "model": "fake", "webhook_url": url})
        else:
            response = httpx.post(f"{api.url}/v1/projects", headers=_auth(key),
                                  files={"file": ("a.txt", b"Hi.", "text/plain")},
                                  data={"model": "fake", "webhook_url": url})
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"]["code"] == "unsafe_url"
        assert response.json()["error"]["param"] == "webhook_url"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer((RECEIVER_HOST, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{RECEIVER_HOST}:{server.server_address[1]}/hook", received
    server.shutdown()


def test_d3_webhooks_to_allowed_hosts_are_signed(
    api: Server, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    key = _key(api, "projects")
    created = httpx.post(f"{api.url}/v1/projects", headers=_auth(key), json={
        "text": "Signed.", "model": "fake", "voice": "fake-tone", "webhook_url": url})
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 60
    while not received:
        assert time.monotonic() < deadline, "webhook not delivered"
        time.sleep(0.2)
    headers, body = received[0]
    assert json.loads(body)["project_id"] == created.json()["id"]
    # the Standard Webhooks library accepts it ...
    Webhook(WEBHOOK_SECRET).verify(body, headers)
    # ... and so does the documented scheme by hand
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    key_bytes = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key_bytes, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 120
    tampered = body.replace(b"completed", b"failed")
    with pytest.raises(Exception, match="signature"):
        Webhook(WEBHOOK_SECRET).verify(tampered, headers)


# --- D4 and D11: header size and time, at the protocol layer ------------------------------


def test_d4_an_endless_header_block_is_cut_off(api: Server) -> None:
    """1 MB of headers that never end: answered 431 and closed after the first ~48 KiB
    (before, uvicorn kept reading them all and answered only once they ended)."""
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-Filler-%d: %s\r\n" % (n, b"a" * 1000) for n in range(1000))
    answer = _raw(api, head, read_timeout_s=10)  # no blank line: the head never ends
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "headers_too_large"


def test_d11_a_slow_header_sender_is_disconnected(api: Server) -> None:
    port = int(api.url.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT_S + 10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        try:
            for n in range(HEADER_TIMEOUT_S * 4 + 20):  # a header line every 0.5 s
                sock.sendall(b"X-Slow-%d: 1\r\n" % n)
                time.sleep(0.5)
        except OSError:
            pass
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 10
    # an idle connection that never sends anything is closed too
    assert _raw(api, b"", read_timeout_s=HEADER_TIMEOUT_S + 10).startswith(b"HTTP/1.1 408")


# --- D5, D6: two Content-Types; deep multipart options -------------------------------------


def test_d5_a_second_content_type_cannot_skip_the_depth_limit(api: Server) -> None:
    key = _key(api, "speech")
    deep = b'{"input": "x", "options": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = httpx.post(f"{api.url}/v1/audio/speech", content=deep, headers=[
        ("Authorization", f"Bearer {key}"), ("Content-Type", "application/json"),
        ("Content-Type", "text/plain")])
    assert response.status_code == 400
    assert "content-type header is given more than once" in response.json()["error"]["message"]
    # and without any Content-Type (FastAPI parses that as JSON) the scan still applies
    bare = httpx.post(f"{api.url}/v1/audio/speech", content=deep, headers=_auth(key))
    assert bare.status_code == 400 and bare.json()["error"]["code"] == "json_too_deep"


def test_d6_deeply_nested_multipart_options_are_a_400(api: Server) -> None:
    key = _key(api, "projects")
    response = httpx.post(f"{api.url}/v1/projects", headers=_auth(key),
                          files={"file": ("a.txt", b"Hi.", "text/plain")},
                          data={"model": "fake", "options": "[" * 100_000 + "]" * 100_000})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "message": "options nests deeper than 16 levels", "type": "invalid_request_error",
        "param": "options", "code": "json_too_deep"}


# --- D7: operations endpoints need admin when auth is on --------------------------------


def test_d7_metrics_docs_and_openapi_need_an_admin_credential(api: Server) -> None:
    speech, admin = _key(api, "speech"), _key(api, "admin")
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json", "/docs/assets/docs.js"):
        assert httpx.get(f"{api.url}{path}").status_code == 401, path
        assert httpx.get(f"{api.url}{path}", headers=_auth(speech)).status_code == 403, path
        assert httpx.get(f"{api.url}{path}", headers=_auth(admin)).status_code == 200, path
    for path in ("/healthz", "/readyz", "/", "/static/app.js"):  # probes and the page stay open
        assert httpx.get(f"{api.url}{path}").status_code == 200, path


# --- D8: ownership by key id, not name ----------------------------------------------------


def test_d8_a_new_key_with_a_revoked_keys_name_gets_none_of_its_projects(api: Server) -> None:
    name = f"carol-{uuid.uuid4().hex[:6]}"
    first = _key(api, "projects", name=name)
    project_id = _completed_project(api, first)
    _keys(api).revoke(name)
    assert httpx.get(f"{api.url}/v1/projects", headers=_auth(first)).status_code == 401
    second = _key(api, "projects", name=name)
    assert httpx.get(f"{api.url}/v1/projects/{project_id}",
                     headers=_auth(second)).status_code == 404
    listed = httpx.get(f"{api.url}/v1/projects", headers=_auth(second)).json()["data"]
    assert project_id not in {p["id"] for p in listed}
    admin = _key(api, "admin")
    assert httpx.get(f"{api.url}/v1/projects/{project_id}",
                     headers=_auth(admin)).status_code == 200


# --- D9: weak JWT secrets ---------------------------------------------------------------


@pytest.mark.parametrize("secret", [
    "0123456789abcdef0123456789abcdef", "your-256-bit-secret-your-256-bit-secret",
    "abcdefghabcdefghabcdefghabcdefghabcdefgh", "qwertyuiopasdfghjklzxcvbnm1234567890",
])
def test_d9_weak_jwt_secrets_stop_the_server(tmp_path: Path, secret: str) -> None:
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path), "VOXSERVE_ENGINES": "fake",
           "VOXSERVE_DEFAULT_MODEL": "fake", "VOXSERVE_AUTH": "jwt",
           "VOXSERVE_JWT_SECRET": secret}
    result = subprocess.run([sys.executable, "-m", "voxserve", "serve", "--port", "1"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "VOXSERVE_JWT_SECRET is refused" in result.stderr


# --- D10: X-Forwarded-For only from configured proxies ------------------------------------


def test_d10_forwarded_for_does_not_rotate_identity_or_forge_the_audit(
    api: Server, tmp_path: Path
) -> None:
    key = _key(api, "speech")
    forged = httpx.get(f"{api.url}/v1/models", headers={**_auth(key),
                                                      "X-Forwarded-For": "203.0.113.9"})
    assert forged.status_code == 200
    request_id = forged.headers["x-request-id"]
    audit = api.log_path.parent / "data" / "audit.jsonl"
    deadline = time.monotonic() + 10
    while request_id not in audit.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    record = next(json.loads(line) for line in audit.read_text().splitlines()
                  if request_id in line)
    assert record["client"] == "127.0.0.1"
    # without auth, limits count per client address: a rotating X-Forwarded-For is no escape
    open_server = _start(tmp_path, VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE="3")
    try:
        statuses = [httpx.get(f"{open_server.url}/v1/models",
                              headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                    for n in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
    finally:
        _stop(open_server)


def test_d10_a_configured_proxy_is_believed(tmp_path: Path) -> None:
    server = _start(tmp_path, VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE="3",
                    VOXSERVE_FORWARDED_ALLOW_IPS="127.0.0.1")
    try:
        statuses = [httpx.get(f"{server.url}/v1/models",
                              headers={"X-Forwarded-For": f"198.51.100.{n % 2}"}).status_code
                    for n in range(8)]
        assert statuses == [200] * 6 + [429, 429]  # two clients behind the proxy, 3 each
    finally:
        _stop(server)


# --- response headers ----------------------------------------------------------------------


def test_json_answers_are_nosniff_and_name_no_server(api: Server) -> None:
    for response in (httpx.get(f"{api.url}/healthz"), httpx.get(f"{api.url}/v1/models")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "server" not in response.headers
        assert "strict-transport-security" not in response.headers  # plain HTTP


# --- what held, kept held ----------------------------------------------------------------


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, bytes]]:
    """HS256 with a secret and RS256 with a public key, both allowed."""
    folder = tmp_path_factory.mktemp("attacks-jwt")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (folder / "public.pem").write_bytes(public_pem)
    server = _start(folder, VOXSERVE_AUTH="jwt", VOXSERVE_JWT_SECRET=SECRET,
                    VOXSERVE_JWT_ALGORITHMS='["HS256", "RS256"]',
                    VOXSERVE_JWT_PUBLIC_KEY_FILE=str(folder / "public.pem"),
                    VOXSERVE_JWT_AUDIENCE="voxserve-test")
    yield server, public_pem
    _stop(server)


def test_alg_none_and_algorithm_confusion_are_refused(jwt_server: tuple[Server, bytes]) -> None:
    server, public_pem = jwt_server
    claims = {"sub": "mallory", "scope": "speech admin", "aud": "voxserve-test",
              "exp": int(time.time()) + 300}
    good = jwt.encode(claims, SECRET, algorithm="HS256")
    assert httpx.get(f"{server.url}/v1/models", headers=_auth(good)).status_code == 200
    unsigned = jwt.encode(claims, None, algorithm="none")
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    payload = good.split(".")[1]
    confused = (f"{header}.{payload}."
                + base64.urlsafe_b64encode(hmac.new(
                    public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
                .rstrip(b"=").decode())  # HS256 "signed" with the RSA public key
    for bad in (unsigned, confused, good[:-3] + "abc"):
        assert httpx.get(f"{server.url}/v1/models", headers=_auth(bad)).status_code == 401


def test_traversal_sql_injection_and_xss_stay_harmless(api: Server) -> None:
    key = _key(api, "speech", "projects")
    for path in ("/v1/audio/files/../../etc/passwd", "/v1/audio/files/%2e%2e/%2e%2e/etc/passwd",
                 "/v1/audio/files/speech/..%2f..%2fapi_keys.json", "/static/..%2fapp.py",
                 "/v1/projects/..%2f..%2fetc/manifest.json"):
        response = httpx.get(f"{api.url}{path}", headers=_auth(key))
        assert response.status_code in (400, 404), path
        assert b"root:" not in response.content and b"sha256:" not in response.content
    for project_id in ("' OR '1'='1", "1; DROP TABLE projects; --", "x\" OR 1=1 --"):
        response = httpx.get(f"{api.url}/v1/projects/{project_id}", headers=_auth(key))
        assert response.status_code == 404
    listed = httpx.get(f"{api.url}/v1/projects", params={"after": "' OR 1=1 --"},
                       headers=_auth(key))
    assert listed.status_code == 200 and listed.json()["data"] == []
    name = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    created = httpx.post(f"{api.url}/v1/projects", headers=_auth(key),
                         json={"text": "Hi.", "model": "fake", "name": name})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    assert created.headers["x-content-type-options"] == "nosniff"
    assert created.json()["name"] == name  # data, never markup: the page sets textContent
    page = httpx.get(f"{api.url}/")
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_body_size_revocation_and_per_key_limits(api: Server) -> None:
    key = _key(api, "speech")
    big = httpx.post(f"{api.url}/v1/audio/speech", headers=_auth(key),
                     json={"input": "x" * (2 * 1024 * 1024)})
    assert big.status_code == 413
    statuses = [httpx.get(f"{api.url}/v1/models", headers=_auth(key)).status_code
                for _ in range(REQUESTS_PER_MINUTE + 2)]
    assert statuses[-1] == 429 and statuses.count(429) >= 2
    other = _key(api, "speech")
    assert httpx.get(f"{api.url}/v1/models", headers=_auth(other)).status_code == 200
    record = _keys(api).list()[-1]
    _keys(api).revoke(record.id)
    assert httpx.get(f"{api.url}/v1/models", headers=_auth(other)).status_code == 401


def test_tls_refuses_old_versions_and_sends_hsts(tmp_path: Path) -> None:
    from tests.conftest import free_port

    cert, private = self_signed_certificate(tmp_path)
    port = free_port()
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data"),
           "VOXSERVE_ENGINES": "fake", "VOXSERVE_DEFAULT_MODEL": "fake"}
    process = subprocess.Popen(
        [sys.executable, "-m", "voxserve", "serve", "--port", str(port), "--ssl-certfile",
         str(cert), "--ssl-keyfile", str(private)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"https://127.0.0.1:{port}/readyz",
                             verify=trusted).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        response = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=trusted)
        assert response.headers["strict-transport-security"] == "max-age=63072000"
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client would go as low as TLS 1.0 ...
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                pytest.raises(ssl.SSLError):  # ... the server does not
            old.wrap_socket(raw).do_handshake()
    finally:
        process.kill()
        process.wait(10)


def test_d7_metrics_on_a_port_of_their_own(tmp_path: Path) -> None:
    """With VOXSERVE_METRICS_PORT, /metrics leaves the API port (which needs a key for
    everything but probes) for a port Prometheus scrapes without one."""
    from tests.conftest import free_port

    metrics_port = free_port()
    server = _start(tmp_path, VOXSERVE_AUTH="api_key", VOXSERVE_METRICS_PORT=str(metrics_port))
    try:
        admin = _key(server, "admin")
        assert httpx.get(f"{server.url}/metrics", headers=_auth(admin)).status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200 and "voxserve_http_requests_total" in scraped.text
    finally:
        _stop(server)
