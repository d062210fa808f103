"""The messages of ``/v1/audio/speech/stream`` (WebSocket streaming input)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from voxserve.types import MAX_SPEED, MIN_SPEED


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamConfig(_Message):
    """The first message: how to speak (as ``/v1/audio/speech``'s fields) and how to send it."""

    type: Literal["config"]
    model: str | None = Field(default=None, max_length=200)
    voice: str | None = Field(default=None, max_length=200)
    #: Formats whose pieces concatenate into one playable stream.
    response_format: Literal["pcm", "mp3"] = "pcm"
    sample_rate: int | None = None
    speed: float = Field(default=1.0, ge=MIN_SPEED, le=MAX_SPEED)
    options: dict[str, Any] = Field(default_factory=dict)
    instructions: str | None = Field(default=None, max_length=4096)
    #: ``binary``: audio in binary frames; ``base64``: ``{"type": "audio", "audio": ...}``.
    audio: Literal["binary", "base64"] = "binary"
    #: ``word``: an ``alignment`` message with each piece's word times (seconds from the
    #: start of the connection's audio).
    timestamps: Literal["none", "word"] = "none"
    #: A credential for clients that cannot send an ``Authorization`` header (browsers).
    token: str | None = Field(default=None, max_length=8192)


class TextFragment(_Message):
    type: Literal["text"]
    text: str


class Flush(_Message):
    """Speak everything received so far, complete or not."""

    type: Literal["flush"]


class Close(_Message):
    """No more text: speak the rest, send ``done``, close."""

    type: Literal["close"]


ClientMessage = Annotated[StreamConfig | TextFragment | Flush | Close,
                          Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[StreamConfig | TextFragment | Flush | Close] = TypeAdapter(
    ClientMessage)
