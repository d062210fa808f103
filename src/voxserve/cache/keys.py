"""Cache keys: a sha256 over everything that changes a segment's audio."""

from __future__ import annotations

import hashlib
import json

from voxserve.engines.base import SynthesisParams

#: Bump when a change (engine glue, value format, what the key covers) must miss old entries.
KEY_FORMAT_VERSION = 2  # 2: the lexicon version


def segment_cache_key(
    *,
    engine: str,
    voice_id: str,
    voice_version: str,
    text: str,
    params: SynthesisParams,
    sample_rate_hz: int,
    lexicon_version: str = "",
) -> str:
    """Hex sha256 of a canonical JSON of every input of one segment's synthesis.

    ``text`` is the segment exactly as the engine receives it (already normalized by the text
    pipeline), so nothing that could sound different shares a key. ``sample_rate_hz`` is the
    rate of the engine's output (the voice's rate), not the requested output rate.
    ``lexicon_version`` is the version of the pronunciation lexicon the text was read with
    ("" for none), so a changed lexicon never serves audio spoken with the old one.
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
        "lexicon_version": lexicon_version,
    }
    canonical = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
