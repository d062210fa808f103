"""The artifact store contract: named blobs (rendered audio files), local or in S3.

Keys are relative, slash-separated names such as ``jobs/4f2c/output.mp3``: only
``[A-Za-z0-9._/-]``, no ``..``, no empty or ``.`` segments, no leading ``/``, at most 1024
characters. Anything else raises ``ValueError`` before any IO.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, runtime_checkable

MAX_KEY_CHARS = 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_KEY_CHARS = re.compile(r"[A-Za-z0-9._/-]+")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe artifact key, else raise ``ValueError``."""
    if not _KEY_CHARS.fullmatch(key) or len(key) > MAX_KEY_CHARS:
        raise ValueError(
            f"artifact key {key!r}: use 1 to {MAX_KEY_CHARS} characters of [A-Za-z0-9._/-]"
        )
    if ".." in key or any(part in ("", ".") for part in key.split("/")):
        raise ValueError(f"artifact key {key!r}: no '..', '.' or empty path segments")
    return key


@runtime_checkable
class ArtifactStore(Protocol):
    """Where finished artifacts live. Every method validates ``key`` first."""

    async def put(
        self, key: str, data: bytes | Path, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        """Store ``data`` (bytes, or the contents of a local file) under ``key``, atomically:
        readers see the old artifact or the whole new one."""
        ...

    async def get(self, key: str) -> bytes:
        """The artifact's bytes; raises ``FileNotFoundError`` when there is none."""
        ...

    async def url(self, key: str, expires_s: int | None = None) -> str | None:
        """A URL a client can GET the artifact from for ``expires_s`` seconds (default: the
        store's), or ``None`` when the store has no such URLs and the API must serve it."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the artifact; no error if there is none."""
        ...

    async def exists(self, key: str) -> bool:
        ...
