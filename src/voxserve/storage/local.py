"""Artifacts as files under ``<data_dir>/artifacts``, written atomically and durably."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

from voxserve.storage.base import DEFAULT_CONTENT_TYPE, validate_key


class LocalArtifactStore:
    """Files named by their key under ``root``; :meth:`url` is ``None`` (the API serves
    them itself, from :meth:`path`). The content type is not stored."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """Where the artifact ``key`` lives (whether or not it exists)."""
        return self.root / validate_key(key)

    async def put(
        self, key: str, data: bytes | Path, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        await asyncio.to_thread(_write_atomic, self.path(key), data)

    async def get(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except IsADirectoryError:
            raise FileNotFoundError(f"no artifact {key!r}") from None

    async def url(self, key: str, expires_s: int | None = None) -> str | None:
        validate_key(key)
        return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)


def _write_atomic(path: Path, data: bytes | Path) -> None:
    """Write a temporary file beside ``path``, fsync it, rename it into place, fsync the dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as out:
            if isinstance(data, bytes):
                out.write(data)
            else:
                with data.open("rb") as source:
                    shutil.copyfileobj(source, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
