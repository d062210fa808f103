"""Request and response bodies of the HTTP API (OpenAI-compatible where OpenAI has one)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voxserve.types import MAX_SPEED, MIN_SPEED, AudioFormat


class SpeechRequest(BaseModel):
    """``POST /v1/audio/speech``: OpenAI's fields, plus ``sample_rate`` and ``options``."""

    model_config = ConfigDict(extra="forbid", strict=False, json_schema_extra={
        "examples": [{"model": "piper", "input": "Hello there.", "voice": "joe",
                      "response_format": "mp3"}]
    })

    input: str = Field(description="Text to speak.", json_schema_extra={"minLength": 1})
    model: str | None = Field(
        default=None, description="Engine or alias (piper, tts-1, …); default from settings."
    )
    voice: str | None = Field(
        default=None, description="Voice id or alias (joe, alloy, …); default from settings."
    )
    instructions: str | None = Field(
        default=None, max_length=4096,
        description="Voice direction for engines that take one (ignored by piper).",
    )
    response_format: AudioFormat | None = Field(
        default=None, description="wav, pcm (s16le mono), mp3, opus (Ogg), flac or aac."
    )
    speed: float = Field(default=1.0, ge=MIN_SPEED, le=MAX_SPEED, allow_inf_nan=False)
    stream_format: Literal["audio", "sse", "json"] = Field(
        default="audio",
        description="raw audio bytes, Server-Sent Events with base64 deltas, or one JSON "
                    "object with the whole audio in base64 (and the words with timestamps)",
    )
    sample_rate: int | None = Field(
        default=None, description="Resample the output to this rate (Hz)."
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Engine-specific options, e.g. piper: noise_scale, noise_w_scale, speaker.",
    )
    return_url: bool = Field(
        default=False,
        description="Store the audio and answer with JSON holding its URL instead of the bytes.",
    )
    input_type: Literal["auto", "text", "ssml"] = Field(
        default="auto",
        description="text, ssml (a subset: speak, break, p, s, say-as, sub, phoneme, prosody "
                    "rate, lang), or auto: SSML when the input's root element is <speak>.",
    )
    # Word timestamps (issue 21)
    timestamps: Literal["none", "word"] = Field(
        default="none",
        description="word: each word's start/end seconds in the output audio; with "
                    "stream_format sse (speech.word_timestamps events) or json ('words').",
    )


class WordTimestamp(BaseModel):
    """One word of the input and when the output audio says it (seconds)."""

    word: str
    start: float
    end: float
    #: shared out by characters (no engine alignment: Maya1, a cached sentence)
    estimated: bool


class SpeechJson(BaseModel):
    """Answer to ``stream_format: "json"``: the whole audio and, asked for, its words."""

    object: Literal["speech"] = "speech"
    audio: str = Field(description="The encoded audio, base64.")
    content_type: str
    sample_rate: int
    audio_seconds: float
    words: list[WordTimestamp] | None = None
    usage: dict[str, float | int]


class StoredSpeech(BaseModel):
    """Answer to a speech request with ``return_url``: where the stored audio is."""

    id: str
    object: Literal["speech.file"] = "speech.file"
    url: str
    content_type: str
    bytes: int
    audio_seconds: float
    expires_in_s: int | None = None


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape."""

    error: ErrorDetail


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "voxserve"
    engine: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class VoiceObject(BaseModel):
    id: str
    object: Literal["voice"] = "voice"
    engine: str
    language: str
    sample_rate: int
    description: str
    speakers: list[str]
    aliases: list[str]
    #: OpenAI voice names (``alloy`` …) that reach this voice (issue 19's catalog).
    openai_voices: list[str] = []
    #: The model version new requests get, and every version in the model repository.
    version: str | None = None
    versions: list[str] = []
    #: A short clip of this voice (``GET /v1/voices/{id}/preview``).
    preview_url: str | None = None


class VoiceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VoiceObject]


class HealthStatus(BaseModel):
    status: Literal["ok", "loading", "failed", "draining"]
    detail: str | None = None
