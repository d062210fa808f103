"""Security on real server processes: API keys, JWT, project isolation, limits shared across
two processes through a real Redis, TLS with a certificate the test creates."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import openai
import pytest

from tests.e2e.test_operations import Server, _start, _stop
from tests.tls_tools import self_signed_certificate

pytestmark = pytest.mark.e2e

SECRET = "a-test-secret-that-is-long-enough-0123456789"
VOXSERVE = [sys.executable, "-m", "voxserve"]


def _token(subject: str, scope: str = "speech projects", **claims: object) -> str:
    now = int(time.time())
    payload = {"sub": subject, "scope": scope, "exp": now + 300, "iat": now,
               "aud": "voxserve-test", **claims}
    return jwt.encode(payload, SECRET, algorithm="HS256")


def _speak(url: str, token: str | None, text: str = "Hello.", **kw: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/v1/audio/speech", headers=headers, timeout=60,
                      json={"input": text, "response_format": "pcm", **kw})


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = _start(tmp_path_factory.mktemp("jwt"), VOXSERVE_AUTH="jwt",
                    VOXSERVE_JWT_SECRET=SECRET, VOXSERVE_JWT_AUDIENCE="voxserve-test")
    yield server
    _stop(server)


def test_jwt_mode(jwt_server: Server) -> None:
    url = jwt_server.url
    assert _speak(url, _token("alice")).status_code == 200
    missing = _speak(url, None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["error"]["code"] == "invalid_api_key"
    expired = _token("alice", exp=int(time.time()) - 120)
    wrong_audience = _token("alice", aud="someone-else")
    tampered = _token("alice")[:-4] + "AAAA"
    unsigned = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, None, algorithm="none")
    for bad in (expired, wrong_audience, tampered, unsigned, "not-a-token"):
        assert _speak(url, bad).status_code == 401, bad
    no_scope = _speak(url, _token("alice", scope="projects"))
    assert no_scope.status_code == 403 and no_scope.json()["error"]["code"] == "insufficient_scope"
    # Probes and metrics stay open for orchestrators.
    assert httpx.get(f"{url}/readyz").status_code == 200
    # OpenAI clients send the token as their API key, unchanged.
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=_token("alice"))
    assert len(client.audio.speech.create(model="fake", voice="tone", input="Hi.").content) > 0


def test_projects_are_visible_only_to_their_owner(jwt_server: Server) -> None:
    url = jwt_server.url

    def headers(subject: str, scope: str = "speech projects") -> dict[str, str]:
        return {"Authorization": f"Bearer {_token(subject, scope)}"}

    created = httpx.post(f"{url}/v1/projects", headers=headers("alice"),
                         json={"text": "Alice's private text. Two sentences."})
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    assert httpx.get(f"{url}/v1/projects/{project_id}", headers=headers("alice")).status_code == 200
    for path in ("", "/events", "/manifest.json", "/audio"):
        response = httpx.get(f"{url}/v1/projects/{project_id}{path}", headers=headers("bob"))
        assert response.status_code == 404, path
    assert httpx.post(f"{url}/v1/projects/{project_id}/cancel",
                      headers=headers("bob")).status_code == 404
    deleted = httpx.delete(f"{url}/v1/projects/{project_id}", headers=headers("bob"))
    assert deleted.status_code == 404
    bobs = httpx.get(f"{url}/v1/projects", headers=headers("bob")).json()["data"]
    assert project_id not in {p["id"] for p in bobs}
    alices = httpx.get(f"{url}/v1/projects", headers=headers("alice")).json()["data"]
    assert project_id in {p["id"] for p in alices}
    admin = httpx.get(f"{url}/v1/projects/{project_id}", headers=headers("root", "admin"))
    assert admin.status_code == 200


def test_api_key_mode_with_the_keys_cli(tmp_path: Path) -> None:
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data")}
    created = subprocess.run([*VOXSERVE, "keys", "create", "ci-client", "-s", "speech"],
                             env=env, capture_output=True, text=True, check=True)
    key = created.stdout.strip()
    assert key.startswith("vxs_") and "ci-client" in created.stderr
    listed = subprocess.run([*VOXSERVE, "keys", "list"], env=env, capture_output=True,
                            text=True, check=True)
    assert "ci-client" in listed.stdout and key not in listed.stdout
    server = _start(tmp_path, VOXSERVE_AUTH="api_key")
    try:
        assert _speak(server.url, key).status_code == 200
        assert _speak(server.url, key + "x").status_code == 401
        assert _speak(server.url, None).status_code == 401
        projects = httpx.get(f"{server.url}/v1/projects",
                             headers={"Authorization": f"Bearer {key}"})
        assert projects.status_code == 403  # the key has the speech scope only
        subprocess.run([*VOXSERVE, "keys", "revoke", "ci-client"], env=env, check=True,
                       capture_output=True)
        assert _speak(server.url, key).status_code == 401  # seen without a restart
    finally:
        _stop(server)
    audit_text = (tmp_path / "data" / "audit.jsonl").read_text()
    records = [json.loads(line) for line in audit_text.splitlines()]
    speech = [r for r in records if r["route"] == "/v1/audio/speech" and r["status"] == 200]
    assert speech and all(r["auth_method"] == "api_key" and r["key_id"] for r in speech)
    assert all(r["characters"] == len("Hello.") and len(r["text_sha256"]) == 64 for r in speech)
    assert all("text" not in r for r in records)
    assert "Hello." not in audit_text  # never the text, by default


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_limits_are_shared_by_two_servers_through_redis(tmp_path: Path) -> None:
    database = 11  # a Redis database of its own; keys include a fresh JWT subject anyway
    common = {
        "VOXSERVE_AUTH": "jwt", "VOXSERVE_JWT_SECRET": SECRET,
        "VOXSERVE_JWT_AUDIENCE": "voxserve-test", "VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE": "4",
        "VOXSERVE_RATE_LIMIT_STORAGE_URL": f"redis://127.0.0.1:6379/{database}",
    }
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = _start(tmp_path / "one", **common)
    second = _start(tmp_path / "two", **common)
    try:
        token = _token(f"user-{uuid.uuid4().hex}")
        statuses = [_speak(server.url, token, f"Request {n}.").status_code
                    for n, server in enumerate([first, second, first, second, first, second])]
        assert statuses[:4] == [200] * 4
        assert statuses[4:] == [429, 429]
        refused = _speak(first.url, token)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-ratelimit-limit"] == "4"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.json()["error"]["type"] == "rate_limit_error"
        other = _speak(second.url, _token(f"user-{uuid.uuid4().hex}"))
        assert other.status_code == 200  # limits are per principal
    finally:
        _stop(first)
        _stop(second)


def test_tls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert_path, key_path = self_signed_certificate(tmp_path)
    from tests.conftest import free_port

    port = free_port()
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data"), "VOXSERVE_ENGINES": "fake",
           "VOXSERVE_DEFAULT_MODEL": "fake"}
    process = subprocess.Popen(
        [*VOXSERVE, "serve", "--port", str(port), "--ssl-certfile", str(cert_path),
         "--ssl-keyfile", str(key_path)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"https://127.0.0.1:{port}"
        trusted = ssl.create_default_context(cafile=str(cert_path))
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", verify=trusted).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        response = httpx.post(f"{url}/v1/audio/speech", verify=trusted,
                              json={"input": "Over TLS.", "response_format": "pcm"})
        assert response.status_code == 200 and len(response.content) > 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/readyz")  # an unknown certificate is refused by default
    finally:
        process.kill()
        process.wait(10)
