"""A speech request validated into a job (``plan_job``), and what streaming it measured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from voxserve.engines.base import Engine, SynthesisParams, parse_options
from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import EmptyText, InvalidRequest, TextTooLong, UnsupportedSampleRate
from voxserve.service.word_times import WordTimeline
from voxserve.settings import Settings
from voxserve.text.lexicon_store import LexiconStore
from voxserve.text.prepare import InputType, TextOptions, TextPlan, prepare
from voxserve.types import (
    MAX_SPEED,
    MIN_SPEED,
    SUPPORTED_SAMPLE_RATES_HZ,
    AudioFormat,
    VoiceInfo,
)


@dataclass(frozen=True, slots=True)
class SpeechInput:
    """What a client asks to hear, in any transport's words (not validated yet)."""

    text: str
    model: str | None = None
    voice: str | None = None
    audio_format: AudioFormat | None = None
    speed: float = 1.0
    sample_rate_hz: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    instructions: str | None = None
    #: "text", "ssml", or "auto" (SSML when the input's root is <speak>)
    input_type: InputType = "auto"
    #: silence before the speech: a streamed conversation's later sentences (WebSocket)
    #: start with the pause between sentences
    leading_pause_ms: int = 0
    #: work out each word's output times (``SpeechStream.words``); off, the renderer skips it
    word_times: bool = False


@dataclass(frozen=True, slots=True)
class SpeechJob:
    """A validated request, ready to synthesize."""

    engine: Engine
    voice: VoiceInfo
    segments: tuple[str, ...]
    params: SynthesisParams
    audio_format: AudioFormat
    sample_rate_hz: int
    input_chars: int
    #: the segments with their source spans, pauses and rates (``segments`` are their texts)
    plan: TextPlan | None = None
    #: version of the lexicon the text was read with ("" for none): part of cache keys
    lexicon_version: str = ""
    #: the request's input as given (word timestamps: the words' own text)
    input_text: str = ""
    #: the renderer works out word times (a transport asked for timestamps)
    word_times: bool = False

    def segment_params(self, index: int) -> SynthesisParams:
        """The params of segment ``index``: an SSML prosody rate scales the speed."""
        if self.plan is None:
            return self.params
        rate = self.plan.segments[index].rate
        if rate == 1.0:
            return self.params
        speed = min(MAX_SPEED, max(MIN_SPEED, self.params.speed * rate))
        return replace(self.params, speed=speed)

    def pause_after_ms(self, index: int) -> int | None:
        """The silence after segment ``index`` (an SSML break), None: the usual pause."""
        return None if self.plan is None else self.plan.segments[index].pause_after_ms


#: Raw PCM of the OpenAI-compatible HTTP route (and ``voxserve say``) comes at OpenAI's rate
#: unless the request names one: a client that only switched its base URL plays it at 24 kHz
#: (at the voice's 22050 Hz it would play 9 % fast). Other transports (gRPC) get the voice's
#: own rate: they ask for what they want.
PCM_DEFAULT_SAMPLE_RATE_HZ = 24_000


def openai_sample_rate(audio_format: AudioFormat, sample_rate_hz: int | None) -> int | None:
    """The rate an OpenAI-compatible request gets: as asked, 24 kHz for pcm, else None (the
    voice's rate, decided by :func:`plan_job`)."""
    if sample_rate_hz is None and audio_format is AudioFormat.PCM:
        return PCM_DEFAULT_SAMPLE_RATE_HZ
    return sample_rate_hz


@dataclass(slots=True)
class SpeechStats:
    """Filled in while a job streams; read by the caller when it is done."""

    audio_samples: int = 0
    sample_rate_hz: int = 0
    segments_done: int = 0
    output_bytes: int = 0
    #: word times of the output so far (issue 21), one segment at a time
    words: WordTimeline = field(default_factory=WordTimeline)

    @property
    def audio_s(self) -> float:
        return self.audio_samples / self.sample_rate_hz if self.sample_rate_hz else 0.0


def check_speed(speed: float, param: str = "speed") -> None:
    """``InvalidRequest`` unless ``speed`` is within the supported speaking rates."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidRequest(f"speed must be between {MIN_SPEED} and {MAX_SPEED}", param=param)


def plan_job(
    settings: Settings,
    catalog: EngineCatalog,
    *,
    text: str,
    model: str | None = None,
    voice: str | None = None,
    audio_format: AudioFormat | None = None,
    speed: float = 1.0,
    sample_rate_hz: int | None = None,
    options: Mapping[str, Any] | None = None,
    instructions: str | None = None,
    input_type: InputType = "auto",
    lexicons: LexiconStore | None = None,
    first_chunk_min_words: int = 0,
    leading_pause_ms: int = 0,
    word_times: bool = False,
) -> SpeechJob:
    """Validate request fields into a :class:`SpeechJob`; raises a ``VoxserveError``."""
    if not text or not text.strip():
        raise EmptyText("input is empty", param="input")
    if len(text) > settings.max_input_chars:
        raise TextTooLong(
            f"input has {len(text)} characters; the limit is {settings.max_input_chars}",
            param="input",
        )
    check_speed(speed)
    if sample_rate_hz is not None and sample_rate_hz not in SUPPORTED_SAMPLE_RATES_HZ:
        rates = ", ".join(str(rate) for rate in SUPPORTED_SAMPLE_RATES_HZ)
        raise UnsupportedSampleRate(
            f"sample_rate {sample_rate_hz} is not supported (one of: {rates})",
            param="sample_rate",
        )
    engine, voice_info = catalog.resolve(model, voice)
    params = SynthesisParams(
        speed=speed, options=parse_options(engine, options or {}), instructions=instructions
    )
    lexicon = lexicons.for_voice(voice_info.id) if lexicons is not None else None
    capabilities = engine.capabilities
    plan = prepare(text, TextOptions(
        language=voice_info.language or "en", input_type=input_type, lexicon=lexicon,
        phonemes=capabilities.phoneme_input, engine_tags=capabilities.engine_tags,
        languages=capabilities.languages, max_segment_chars=settings.max_segment_chars,
        first_chunk_min_words=first_chunk_min_words,
    ))
    if leading_pause_ms:
        plan = replace(plan, leading_pause_ms=plan.leading_pause_ms + leading_pause_ms)
    segments = plan.texts
    if not segments:
        raise EmptyText("input has nothing to speak", param="input")
    audio_format = audio_format or settings.default_response_format
    if sample_rate_hz is None:
        sample_rate_hz = voice_info.sample_rate_hz
    return SpeechJob(
        engine=engine,
        voice=voice_info,
        segments=segments,
        params=params,
        audio_format=audio_format,
        sample_rate_hz=sample_rate_hz,
        input_chars=len(text),
        plan=plan,
        lexicon_version=lexicon.version if lexicon is not None else "",
        input_text=text,
        word_times=word_times,
    )
