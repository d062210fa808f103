"""Core value types shared by every layer: audio chunks, formats, voices, capabilities."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatSamples = npt.NDArray[np.float32]


class AudioFormat(StrEnum):
    """Output encodings the service can produce."""

    WAV = "wav"
    PCM = "pcm"
    MP3 = "mp3"
    OPUS = "opus"
    FLAC = "flac"
    AAC = "aac"


#: Speaking rates a request may ask for (1.0: the voice's own rate).
MIN_SPEED = 0.25
MAX_SPEED = 4.0

#: Output sample rates a client may ask for (every encoder accepts these).
SUPPORTED_SAMPLE_RATES_HZ: tuple[int, ...] = (
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000,
)


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono float32 samples in [-1, 1]; engines yield one or more per segment.

    Like Piper's own AudioChunk, a chunk is typed audio, never encoded bytes: encoding
    belongs to ``voxserve.audio``.
    """

    samples: FloatSamples
    sample_rate_hz: int
    #: Per-phoneme alignment, ``(phoneme, samples)`` in order, at ``sample_rate_hz``,
    #: summing to the chunk's length (Piper); None when the engine cannot align.
    phonemes: tuple[tuple[str, int], ...] | None = None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """What ``GET /v1/voices`` shows about one voice."""

    id: str
    engine: str
    language: str
    sample_rate_hz: int
    description: str = ""
    speakers: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    #: Fingerprint of the voice's model files; part of cache keys ("" = do not cache).
    version: str = ""


@dataclass(frozen=True, slots=True)
class EngineCapabilities:
    """What an engine declares about itself; the service and scheduler read it."""

    #: True when synthesizing several segments together raises throughput (GPU, LLM engines).
    batching_gain: bool = False
    max_batch_size: int = 1
    #: Same text and settings always give the same samples (cacheable).
    deterministic: bool = True
    #: The engine yields audio before a segment is complete (token streaming).
    streams_within_segment: bool = False
    languages: tuple[str, ...] = field(default_factory=tuple)
    #: The engine reads inline ``[[ IPA phonemes ]]`` (Piper), so SSML <phoneme> and lexicon
    #: phonemes reach it as phonemes.
    phoneme_input: bool = False
    #: Tags the engine reads itself (Maya1's "<laugh>"): the text step passes them untouched.
    engine_tags: tuple[str, ...] = field(default_factory=tuple)
