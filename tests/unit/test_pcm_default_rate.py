"""pcm's default rate: 24 kHz is the OpenAI route's convention (issue 23), applied by that
route (``openai_sample_rate``), not by the shared plan: gRPC gets the voice's own rate."""

from __future__ import annotations

from voxserve.engines.catalog import EngineCatalog
from voxserve.service.speech_job import (
    PCM_DEFAULT_SAMPLE_RATE_HZ,
    openai_sample_rate,
    plan_job,
)
from voxserve.settings import Settings
from voxserve.types import AudioFormat


def test_the_plan_gives_pcm_the_voice_rate(settings: Settings, catalog: EngineCatalog) -> None:
    job = plan_job(settings, catalog, text="Hello.", audio_format=AudioFormat.PCM)
    assert job.sample_rate_hz == job.voice.sample_rate_hz == 22050
    asked = plan_job(settings, catalog, text="Hello.", audio_format=AudioFormat.PCM,
                     sample_rate_hz=16000)
    assert asked.sample_rate_hz == 16000


def test_the_openai_convention() -> None:
    assert openai_sample_rate(AudioFormat.PCM, None) == PCM_DEFAULT_SAMPLE_RATE_HZ == 24000
    assert openai_sample_rate(AudioFormat.PCM, 16000) == 16000
    assert openai_sample_rate(AudioFormat.WAV, None) is None
    assert openai_sample_rate(AudioFormat.MP3, 44100) == 44100
