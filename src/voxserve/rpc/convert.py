"""Protobuf messages <-> the domain's values (no I/O, no gRPC calls)."""

from __future__ import annotations

from typing import Any, cast

from google.protobuf import json_format

from voxserve.engines.catalog import ModelInfo
from voxserve.errors import InvalidRequest
from voxserve.rpc.v1 import speech_pb2 as pb
from voxserve.scheduler import Priority
from voxserve.service.speech_job import SpeechInput
from voxserve.types import AudioFormat, VoiceInfo

_FORMATS: dict[pb.AudioFormat, AudioFormat] = {
    pb.AUDIO_FORMAT_PCM: AudioFormat.PCM,
    pb.AUDIO_FORMAT_WAV: AudioFormat.WAV,
    pb.AUDIO_FORMAT_OPUS: AudioFormat.OPUS,
    pb.AUDIO_FORMAT_MP3: AudioFormat.MP3,
    pb.AUDIO_FORMAT_FLAC: AudioFormat.FLAC,
    pb.AUDIO_FORMAT_AAC: AudioFormat.AAC,
}
_FORMAT_VALUES: dict[AudioFormat, pb.AudioFormat] = {
    fmt: value for value, fmt in _FORMATS.items()}
_PRIORITIES: dict[int, Priority] = {
    pb.PRIORITY_UNSPECIFIED: Priority.INTERACTIVE,
    pb.PRIORITY_INTERACTIVE: Priority.INTERACTIVE,
    pb.PRIORITY_BATCH: Priority.BATCH,
}


def speech_input(request: pb.SynthesizeRequest) -> SpeechInput:
    """The request in the use case's words (validated later by ``SpeechService.plan``).

    Unset fields take the server's defaults; ``sample_rate`` 0 is the voice's own rate (also
    for pcm: unlike the OpenAI-compatible HTTP route, gRPC has no 24 kHz convention).
    """
    return SpeechInput(
        text=request.text,
        model=request.model or None,
        voice=request.voice_id or None,
        audio_format=audio_format(request.format),
        speed=request.speed if request.HasField("speed") else 1.0,
        sample_rate_hz=request.sample_rate or None,
        options=engine_options(request),
        instructions=request.instructions or None,
    )


def audio_format(value: int) -> AudioFormat | None:
    if value == pb.AUDIO_FORMAT_UNSPECIFIED:
        return None
    fmt = _FORMATS.get(cast("pb.AudioFormat", value))
    if fmt is None:
        raise InvalidRequest(f"unknown format {value}", param="format")
    return fmt


def format_value(fmt: AudioFormat) -> pb.AudioFormat:
    return _FORMAT_VALUES[fmt]


def priority(value: int) -> Priority:
    try:
        return _PRIORITIES[value]
    except KeyError:
        raise InvalidRequest(f"unknown priority {value}", param="priority") from None


def engine_options(request: pb.SynthesizeRequest) -> dict[str, Any]:
    """The ``options`` Struct as a dict. Protobuf numbers are doubles: a whole number is
    handed on as an int, so integer options keep working."""
    if not request.HasField("options"):
        return {}
    options: dict[str, Any] = json_format.MessageToDict(request.options)
    return {key: _whole(value) for key, value in options.items()}


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def voice_message(voice: VoiceInfo) -> pb.Voice:
    return pb.Voice(
        id=voice.id, engine=voice.engine, language=voice.language,
        sample_rate=voice.sample_rate_hz, description=voice.description,
        speakers=list(voice.speakers), aliases=list(voice.aliases),
    )


def model_message(model: ModelInfo) -> pb.Model:
    return pb.Model(id=model.id, engine=model.engine)
