"""API keys: a small JSON file of hashed keys, shared by the server and ``voxserve keys``.

Key format: ``vxs_<id>_<secret>`` where ``id`` is 12 hex characters (public, names the
record so verification is one dictionary lookup, never a scan) and ``secret`` is
``secrets.token_urlsafe(32)`` (256 random bits). The plaintext key is returned once by
:meth:`ApiKeyStore.create` and never stored.

Why plain SHA-256 and not bcrypt/argon2: slow password hashes exist to make guessing
*low-entropy, human-chosen* passwords expensive after a leak of the hashes. These keys are
256 random bits; inverting SHA-256 over 2**256 candidates is infeasible whatever the hash
costs, so a slow KDF would add nothing but CPU time to every request. The stored value is
``sha256(full key)``, compared with :func:`hmac.compare_digest`.

The file (``{"version": 1, "keys": [...]}``) is written atomically (temporary file in the
same directory, fsync, ``os.replace``) with mode 0600; read-modify-write cycles take an
exclusive ``flock`` on ``<file>.lock`` so two ``voxserve keys`` commands cannot lose each
other's changes. Readers cache the parsed file and reload it when its (inode, mtime, size)
changes, so ``voxserve keys revoke`` in another process takes effect on the next request.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voxserve.errors import ApiKeyNotFound, ConfigurationError, InvalidRequest
from voxserve.security.principal import ALL_SCOPES, Principal

KEY_PREFIX = "vxs_"
_ID_RE = re.compile(r"^[0-9a-f]{12}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$")
#: Anything longer is not one of our keys; refused before hashing.
_MAX_KEY_CHARS = 128


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    name: str
    scopes: tuple[str, ...]
    hash: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scopes"] = list(self.scopes)
        return data

    def public(self) -> dict[str, Any]:
        """What ``keys list`` shows: everything but the hash."""
        data = self.to_json()
        del data["hash"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiKeyRecord:
        return cls(
            id=str(data["id"]), name=str(data["name"]),
            scopes=tuple(str(s) for s in data.get("scopes", ())), hash=str(data["hash"]),
            created_at=str(data["created_at"]), revoked_at=data.get("revoked_at"),
        )


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(sorted(set(scopes)))
    if not wanted:
        raise InvalidRequest("an API key needs at least one scope", param="scopes")
    unknown = [s for s in wanted if s not in ALL_SCOPES]
    if unknown:
        raise InvalidRequest(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(ALL_SCOPES))}",
            param="scopes",
        )
    return wanted


class ApiKeyStore:
    """Hashed API keys in one JSON file; safe to share between processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._by_id: dict[str, ApiKeyRecord] = {}

    # --- reading ------------------------------------------------------------------------

    def _stat_signature(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _records(self) -> dict[str, ApiKeyRecord]:
        """The cached records, reloaded when the file changed on disk."""
        signature = self._stat_signature()
        with self._lock:
            if signature != self._signature or signature is None:
                self._by_id = self._read() if signature is not None else {}
                self._signature = signature
            return self._by_id

    def _read(self) -> dict[str, ApiKeyRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {r.id: r for r in map(ApiKeyRecord.from_json, data["keys"])}
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"API key file {self.path} is not valid: {exc}") from None

    def list(self, *, include_revoked: bool = True) -> builtins.list[ApiKeyRecord]:
        records = sorted(self._records().values(), key=lambda r: r.created_at)  # stable
        return [r for r in records if include_revoked or r.active]

    def verify(self, key: str) -> Principal | None:
        """The key's principal, or ``None`` if it is malformed, unknown, wrong or revoked."""
        if not key.startswith(KEY_PREFIX) or len(key) > _MAX_KEY_CHARS:
            return None
        key_id, sep, secret = key[len(KEY_PREFIX):].partition("_")
        if not sep or not secret or not _ID_RE.match(key_id):
            return None
        record = self._records().get(key_id)
        # Hash even for an unknown id so both paths take about the same time.
        candidate = hash_key(key)
        expected = record.hash if record is not None else hash_key("vxs_unknown")
        if not hmac.compare_digest(candidate.encode(), expected.encode()):
            return None
        if record is None or not record.active:
            return None
        return Principal(
            subject=record.name, scopes=frozenset(record.scopes), key_id=record.id,
            auth_method="api_key",
        )

    # --- writing ------------------------------------------------------------------------

    def create(self, name: str, scopes: Iterable[str]) -> tuple[ApiKeyRecord, str]:
        """A new key; returns its record and the plaintext key (shown once, never stored)."""
        if not _NAME_RE.match(name):
            raise InvalidRequest(
                "a key name is 1-64 characters: letters, digits and . _ @ : - "
                "(starting with a letter or digit)", param="name",
            )
        wanted = _validate_scopes(scopes)
        with self._locked() as records:
            if any(r.name == name and r.active for r in records.values()):
                raise InvalidRequest(f"an active key named '{name}' exists", param="name")
            key_id = secrets.token_hex(6)
            while key_id in records:  # pragma: no cover - 48 random bits
                key_id = secrets.token_hex(6)
            plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            record = ApiKeyRecord(
                id=key_id, name=name, scopes=wanted, hash=hash_key(plaintext),
                created_at=_now(),
            )
            records[key_id] = record
        return record, plaintext

    def revoke(self, id_or_name: str) -> ApiKeyRecord:
        """Revoke by id, or by the name of an active key; revoking twice is harmless."""
        with self._locked() as records:
            record = records.get(id_or_name) or next(
                (r for r in records.values() if r.name == id_or_name and r.active), None
            )
            if record is None:
                raise ApiKeyNotFound(f"no API key with id or name '{id_or_name}'")
            if record.active:
                record = replace(record, revoked_at=_now())
                records[record.id] = record
            return record

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, ApiKeyRecord]]:
        """Read the file under an exclusive lock, let the caller change it, write it back."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_fd = os.open(self.path.with_name(self.path.name + ".lock"),
                          os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            records = dict(self._read())
            before = dict(records)
            yield records
            if records != before:
                self._write(records)
        finally:
            os.close(lock_fd)  # releases the flock

    def _write(self, records: dict[str, ApiKeyRecord]) -> None:
        payload = {"version": 1, "keys": [r.to_json() for r in
                                          sorted(records.values(), key=lambda r: r.created_at)]}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)  # mkstemp already creates 0600; make sure
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(payload, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        with self._lock:
            self._signature = None  # reload on next read


def default_api_keys_path(api_keys_file: Path | None, data_dir: Path) -> Path:
    return (api_keys_file or data_dir / "api_keys.json").expanduser()
