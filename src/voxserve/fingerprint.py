"""Versions of model files: a fast fingerprint that changes when a file's content does.

Engines stamp each voice with the fingerprint of its files (``VoiceInfo.version``), and
cache keys carry it, so a replaced model never serves audio cached from the old one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

_EDGE_BYTES = 1024 * 1024


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """Fast version of a (model) file: size, mtime and sha256 of its first and last MiB.

    Computed once per (path, size, mtime): later calls cost one ``stat``. The path itself is
    not part of the fingerprint, so a copy with the same content and mtime matches.
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _fingerprint(resolved, stat.st_size, stat.st_mtime_ns)


def files_fingerprint(paths: Iterable[str | os.PathLike[str]]) -> str:
    """One version for several files (a voice's model and config), in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(file_fingerprint(path).encode("ascii"))
    return digest.hexdigest()[:32]


@lru_cache(maxsize=1024)
def _fingerprint(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256(f"{size}:{mtime_ns}:".encode("ascii"))
    with path.open("rb") as file:
        digest.update(file.read(_EDGE_BYTES))
        if size > _EDGE_BYTES:
            file.seek(max(_EDGE_BYTES, size - _EDGE_BYTES))
            digest.update(file.read(_EDGE_BYTES))
    return digest.hexdigest()[:32]
