"""Name resolution: engines, voices, OpenAI aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import ModelNotFound, NotReady, VoiceNotFound
from voxserve.settings import Settings


@pytest.mark.parametrize(
    ("model", "voice", "engine", "voice_id"),
    [
        ("piper", "joe", "piper", "en_US-joe-medium"),
        ("piper", "en_US-joe-medium", "piper", "en_US-joe-medium"),
        ("tts-1", "alloy", "piper", "en_US-joe-medium"),
        ("gpt-4o-mini-tts", "nova", "piper", "en_US-joe-medium"),
        (None, None, "piper", "en_US-joe-medium"),
        ("piper", None, "piper", "en_US-joe-medium"),
        ("fake", None, "fake", "fake-tone"),
        (None, "tone", "fake", "fake-tone"),
    ],
)
def test_resolve(catalog: EngineCatalog, model: str | None, voice: str | None, engine: str,
                 voice_id: str) -> None:
    resolved_engine, resolved_voice = catalog.resolve(model, voice)
    assert resolved_engine.name == engine
    assert resolved_voice.id == voice_id


def test_unknown_model(catalog: EngineCatalog) -> None:
    with pytest.raises(ModelNotFound) as caught:
        catalog.resolve("tts-9", "joe")
    assert caught.value.param == "model"


def test_unknown_voice(catalog: EngineCatalog) -> None:
    with pytest.raises(VoiceNotFound, match="GET /v1/voices"):
        catalog.resolve("piper", "nobody")


def test_voice_of_another_engine(catalog: EngineCatalog) -> None:
    with pytest.raises(VoiceNotFound):
        catalog.resolve("fake", "joe")


def test_configured_aliases(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, engines=["fake"], default_model="fake",
                        voice_aliases={"alloy": "fake-tone"}, model_aliases={"tts-1": "fake"})
    catalog = EngineCatalog(settings)
    catalog.load()
    engine, voice = catalog.resolve("tts-1", "alloy")
    assert (engine.name, voice.id) == ("fake", "fake-tone")
    assert {m.id for m in catalog.models()} == {"fake", "tts-1"}


def test_not_ready_before_load(tmp_path: Path) -> None:
    catalog = EngineCatalog(Settings(data_dir=tmp_path, engines=["fake"]))
    with pytest.raises(NotReady):
        catalog.resolve(None, None)
