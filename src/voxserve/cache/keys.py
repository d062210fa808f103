"""Cache keys: a sha256 over everything that changes a segment's audio, and voice versions."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from voxserve.engines.base import SynthesisParams

#: Bump when a change (engine glue, value format, what the key covers) must miss old entries.
KEY_FORMAT_VERSION = 1
_EDGE_BYTES = 1024 * 1024


def segment_cache_key(
    *,
    engine: str,
    voice_id: str,
    voice_version: str,
    text: str,
    params: SynthesisParams,
    sample_rate_hz: int,
) -> str:
    """Hex sha256 of a canonical JSON of every input of one segment's synthesis.

    ``text`` is the segment exactly as the engine receives it (already normalized by the text
    pipeline), so nothing that could sound different shares a key. ``sample_rate_hz`` is the
    rate of the engine's output (the voice's rate), not the requested output rate.
    """
    document = {
        "format": KEY_FORMAT_VERSION,
        "engine": engine,
        "voice_id": voice_id,
        "voice_version": voice_version,
        "text": text,
        "speed": float(params.speed),
        "options": params.options.model_dump(mode="json"),
        "instructions": params.instructions,
        "sample_rate_hz": sample_rate_hz,
    }
    canonical = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
