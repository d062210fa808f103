"""API key store: create/verify/revoke, hashing only, file mode, cross-instance reload."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from voxserve.errors import ApiKeyNotFound, InvalidRequest
from voxserve.security.api_keys import ApiKeyStore


@pytest.fixture
def store(tmp_path: Path) -> ApiKeyStore:
    return ApiKeyStore(tmp_path / "keys" / "api_keys.json")


def test_create_verify_and_what_is_stored(store: ApiKeyStore) -> None:
    record, key = store.create("ci-bot", ["speech", "projects"])
    assert key.startswith(f"vxs_{record.id}_")
    assert len(key) > 40
    principal = store.verify(key)
    assert principal is not None
    assert principal.subject == "ci-bot"
    assert principal.key_id == record.id
    assert principal.scopes == frozenset({"speech", "projects"})
    assert principal.auth_method == "api_key"
    text = store.path.read_text()
    assert key not in text and key.split("_", 2)[2] not in text  # only the hash is stored
    data = json.loads(text)
    assert data["keys"][0]["hash"].startswith("sha256:")
    assert set(data["keys"][0]) == {"id", "name", "scopes", "hash", "created_at", "revoked_at"}
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


@pytest.mark.parametrize("attempt", [
    "", "vxs_", "Bearer x", "vxs_nothex123456_abc", "sk-openai-key",
])
def test_malformed_keys_are_refused(store: ApiKeyStore, attempt: str) -> None:
    store.create("a", ["speech"])
    assert store.verify(attempt) is None


def test_wrong_secret_with_a_real_id_is_refused(store: ApiKeyStore) -> None:
    _, key = store.create("a", ["speech"])
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert store.verify(tampered) is None
    assert store.verify(key + "x") is None


def test_revocation_is_seen_by_another_instance(store: ApiKeyStore) -> None:
    record, key = store.create("laptop", ["speech"])
    other = ApiKeyStore(store.path)  # e.g. the server, while `voxserve keys revoke` runs
    assert other.verify(key) is not None
    revoked = store.revoke("laptop")
    assert revoked.revoked_at is not None and revoked.id == record.id
    assert other.verify(key) is None
    assert store.verify(key) is None
    # Revoking by id again is harmless; an unknown name is an error.
    assert store.revoke(record.id).revoked_at == revoked.revoked_at
    with pytest.raises(ApiKeyNotFound):
        store.revoke("nobody")


def test_new_key_is_seen_by_another_instance(store: ApiKeyStore) -> None:
    server = ApiKeyStore(store.path)
    assert server.list() == []
    _, key = store.create("late", ["admin"])
    principal = server.verify(key)
    assert principal is not None and principal.has_scope("projects")  # admin implies all


def test_list_and_validation(store: ApiKeyStore) -> None:
    store.create("one", ["speech"])
    store.create("two", ["projects"])
    store.revoke("one")
    assert [r.name for r in store.list()] == ["one", "two"]
    assert [r.name for r in store.list(include_revoked=False)] == ["two"]
    assert "hash" not in store.list()[0].public()
    with pytest.raises(InvalidRequest):
        store.create("two", ["speech"])  # an active key has that name
    with pytest.raises(InvalidRequest):
        store.create("bad name/..", ["speech"])
    with pytest.raises(InvalidRequest):
        store.create("three", ["root"])
    with pytest.raises(InvalidRequest):
        store.create("four", [])
    store.create("one", ["speech"])  # the revoked one's name may be reused


def test_missing_file_is_an_empty_store(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "nothing.json")
    assert store.list() == []
    assert store.verify("vxs_0123456789ab_secret") is None
