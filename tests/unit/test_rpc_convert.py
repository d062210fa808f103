"""rpc/convert.py: SynthesizeRequest -> SpeechInput, formats, priorities, options."""

from __future__ import annotations

import pytest

from voxserve.errors import InvalidRequest
from voxserve.rpc import convert
from voxserve.rpc.v1 import speech_pb2 as pb
from voxserve.scheduler import Priority
from voxserve.types import AudioFormat


def test_unset_fields_take_the_defaults() -> None:
    parsed = convert.speech_input(pb.SynthesizeRequest(text="Hi."))
    assert parsed.text == "Hi." and parsed.model is None and parsed.voice is None
    assert parsed.audio_format is None and parsed.speed == 1.0
    assert parsed.sample_rate_hz is None  # the voice's rate, pcm included
    assert parsed.options == {} and parsed.instructions is None


def test_fields_are_carried_over() -> None:
    request = pb.SynthesizeRequest(
        text="Hi.", voice_id="alloy", model="tts-1", speed=0.0, sample_rate=16000,
        format=pb.AUDIO_FORMAT_OPUS, instructions="calm")
    request.options.update({"noise_scale": 0.5, "speaker_id": 3, "flag": True})
    parsed = convert.speech_input(request)
    assert (parsed.voice, parsed.model, parsed.sample_rate_hz) == ("alloy", "tts-1", 16000)
    assert parsed.speed == 0.0  # explicitly set: plan() refuses it, it is not "default"
    assert parsed.audio_format is AudioFormat.OPUS and parsed.instructions == "calm"
    assert parsed.options == {"noise_scale": 0.5, "speaker_id": 3, "flag": True}
    assert isinstance(parsed.options["speaker_id"], int)


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_every_format_round_trips(fmt: AudioFormat) -> None:
    assert convert.audio_format(convert.format_value(fmt)) is fmt


def test_unknown_format_and_priority_are_invalid() -> None:
    with pytest.raises(InvalidRequest) as caught:
        convert.audio_format(99)
    assert caught.value.param == "format"
    with pytest.raises(InvalidRequest):
        convert.priority(7)


def test_priorities() -> None:
    assert convert.priority(pb.PRIORITY_UNSPECIFIED) is Priority.INTERACTIVE
    assert convert.priority(pb.PRIORITY_INTERACTIVE) is Priority.INTERACTIVE
    assert convert.priority(pb.PRIORITY_BATCH) is Priority.BATCH
