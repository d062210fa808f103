"""Variant voice ids (``voice@int8``) and their aliases; the original voice keeps its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxserve.engines.piper import PiperEngine, short_name
from voxserve.engines.piper_variants import base_voice_id, find_voice, variant_id
from voxserve.errors import VoiceNotFound
from voxserve.settings import Settings


def test_variant_ids_and_short_names() -> None:
    assert variant_id("en_US-joe-medium", "int8") == "en_US-joe-medium@int8"
    assert variant_id("en_US-joe-medium@fp16", "int8") == "en_US-joe-medium@int8"
    assert base_voice_id("en_US-joe-medium@int8") == "en_US-joe-medium"
    assert short_name("en_US-joe-medium") == "joe"
    assert short_name("en_US-joe-medium@int8") == "joe@int8"
    aliases = PiperEngine._short_aliases(
        ["en_US-joe-medium", "en_US-joe-medium@int8", "en_US-joe-medium@fp16"])
    # a variant beside the voice does not make the short name ambiguous
    assert aliases == {"joe": "en_US-joe-medium", "joe@int8": "en_US-joe-medium@int8",
                       "joe@fp16": "en_US-joe-medium@fp16"}


def test_find_voice_takes_originals_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert find_voice(settings, "joe").voice_id == "en_US-joe-medium"
    assert find_voice(settings, "en_US-joe-medium").voice_id == "en_US-joe-medium"
    with pytest.raises(VoiceNotFound):
        find_voice(settings, "nobody")
