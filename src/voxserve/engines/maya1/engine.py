"""The Maya1 engine: a Llama-style LM that speaks in SNAC codes, decoded to 24 kHz audio.

Voices are the named descriptions of ``maya1_voices``; a request's ``instructions`` replace
the description. ``synthesize`` streams: audio is decoded from a sliding window of frames
while tokens are still being generated (see :mod:`.codec`). ``synthesize_batch`` generates a
padded batch and decodes each item whole.

Maya1 has no duration control, so ``params.speed`` other than 1 is applied to its audio
afterwards by a pitch-preserving time stretch (:class:`voxserve.audio.tempo.TimeStretcher`,
FFmpeg's ``atempo``), chunk by chunk while the segment streams.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path

from voxserve.audio.tempo import TimeStretcher
from voxserve.engines.base import SegmentRequest, SynthesisParams
from voxserve.engines.maya1.backends import Backend, GenerationRequest, load_backend
from voxserve.engines.maya1.codec import (
    SnacCodec,
    StreamingDecoder,
    decode_whole,
    read_snac_config,
)
from voxserve.engines.maya1.device import resolve_device
from voxserve.engines.maya1.frames import FrameAssembler, FrameError
from voxserve.engines.maya1.model_dir import load_tokenizer, read_model_config
from voxserve.engines.maya1.options import Maya1Options, as_maya1_options, sampling_config
from voxserve.engines.maya1.prompt import PromptBuilder, check_emotion_tags
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import FRAME_TOKENS, Maya1Tokens
from voxserve.errors import EngineFailed, NotReady, VoiceNotFound, VoxserveError
from voxserve.settings import Settings
from voxserve.types import AudioChunk, EngineCapabilities, FloatSamples, VoiceInfo

logger = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 24000
_WARMUP_TEXT = "Hello there."
_WARMUP_FRAMES = 4
_FALLBACK_DESCRIPTION = "adult, neutral, clear, conversational"


class Maya1Engine:
    """Maya1 on the transformers or vLLM backend; implements ``BatchingEngine``."""

    name = "maya1"
    capabilities = EngineCapabilities(
        batching_gain=True,
        max_batch_size=16,
        deterministic=False,
        streams_within_segment=True,
        languages=("en",),
    )
    options_model = Maya1Options

    def __init__(self, settings: Settings, *, tokens: Maya1Tokens | None = None) -> None:
        self._settings = settings
        self._tokens = tokens or Maya1Tokens(leading_bos=settings.maya1_prompt_leading_bos)
        self._prompts: PromptBuilder | None = None
        self._backend: Backend | None = None
        self._codec: SnacCodec | None = None

    # --- lifecycle ------------------------------------------------------------------

    @property
    def model_dir(self) -> Path:
        configured = self._settings.maya1_model_dir
        return (configured or self._settings.resolved_models_dir / "maya1").expanduser()

    @property
    def snac_dir(self) -> Path:
        configured = self._settings.maya1_snac_dir
        return (configured or self._settings.resolved_models_dir / "snac_24khz").expanduser()

    def load(self) -> None:
        """Validate both directories, load LM and SNAC, warm up (``EngineLoadError``)."""
        settings = self._settings
        read_model_config(self.model_dir, self._tokens)
        snac_config = read_snac_config(self.snac_dir)
        tokenizer = load_tokenizer(self.model_dir)
        check_emotion_tags(tokenizer)
        prompts = PromptBuilder(tokenizer, self._tokens)
        device, dtype = resolve_device(settings.maya1_device, settings.maya1_dtype)
        # The LM first: vLLM starts its workers before anything else touches CUDA.
        backend = load_backend(settings, self.model_dir, self._tokens, device, dtype)
        try:
            codec = SnacCodec.load(self.snac_dir, snac_config, device)
        except BaseException:
            backend.close()
            raise
        self._prompts, self._backend, self._codec = prompts, backend, codec
        self._warm_up(prompts)
        logger.info(
            "maya1: %s backend on %s (%s), %d voice(s), leading BOS %s",
            settings.maya1_backend, device, dtype, len(settings.maya1_voices),
            prompts.leading_bos,
        )

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
        self._prompts = self._backend = self._codec = None

    # --- catalog --------------------------------------------------------------------

    def voices(self) -> Sequence[VoiceInfo]:
        rate = self._codec.sample_rate_hz if self._codec is not None else SAMPLE_RATE_HZ
        return [
            VoiceInfo(id=voice_id, engine=self.name, language="en", sample_rate_hz=rate,
                      description=description)
            for voice_id, description in self._settings.maya1_voices.items()
        ]

    # --- synthesis ------------------------------------------------------------------

    def batch_key(self, voice_id: str, params: SynthesisParams) -> Hashable:
        """Segments with the same sampling settings share a batch (voice is only prompt text)."""
        sampling = sampling_config(self._settings, as_maya1_options(params.options))
        return (self.name, sampling.temperature, sampling.top_p, sampling.repetition_penalty)

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> Iterator[AudioChunk]:
        """Stream one segment; bad voices and options fail here, before any generation."""
        chunks = self._stream(self._request(text, voice_id, params))
        return chunks if params.speed == 1.0 else self._stretched(chunks, params.speed)

    def synthesize_batch(self, requests: Sequence[SegmentRequest]) -> list[list[AudioChunk]]:
        prepared = [self._request(r.text, r.voice_id, r.params) for r in requests]
        backend, _ = self._loaded()
        results: list[list[AudioChunk]] = []
        size = self.capabilities.max_batch_size
        for start in range(0, len(prepared), size):
            with _engine_errors():
                generated = backend.generate_batch(prepared[start:start + size])
            for offset, token_ids in enumerate(generated):
                item = start + offset
                whole = self._whole(token_ids, item=item)
                speed = requests[item].params.speed
                results.append([whole] if speed == 1.0
                               else list(self._stretched(iter([whole]), speed)))
        return results

    # --- internals ------------------------------------------------------------------

    def _request(self, text: str, voice_id: str, params: SynthesisParams) -> GenerationRequest:
        description = self._settings.maya1_voices.get(voice_id)
        if description is None:
            raise VoiceNotFound(f"maya1 has no voice '{voice_id}'", param="voice")
        if self._prompts is None:
            raise NotReady("the maya1 engine is not loaded")
        sampling = sampling_config(self._settings, as_maya1_options(params.options))
        prompt = self._prompts.build(params.instructions or description, text)
        return GenerationRequest(prompt_ids=prompt, sampling=sampling)

    def _stream(self, request: GenerationRequest) -> Iterator[AudioChunk]:
        backend, codec = self._loaded()
        assembler = FrameAssembler(self._tokens, strict=self._settings.maya1_strict_frames)
        decoder = StreamingDecoder(codec.decode, codec.samples_per_frame)
        with _engine_errors(), contextlib.closing(backend.stream(request)) as token_ids:
            for token in token_ids:
                frame = assembler.push(token)
                if frame is not None:
                    samples = decoder.push(frame)
                    if samples is not None:
                        yield self._chunk(samples)
                if assembler.finished:
                    break
            _log_skipped(assembler.skipped)
            if decoder.frames == 0:
                raise EngineFailed("maya1 generated no audio (no whole frame before EOS)")
            tail = decoder.flush()
            if tail is not None and len(tail):
                yield self._chunk(tail)

    def _stretched(self, chunks: Iterator[AudioChunk], speed: float) -> Iterator[AudioChunk]:
        """``chunks`` played ``speed`` times as fast, at the same pitch."""
        _, codec = self._loaded()
        stretcher = TimeStretcher(codec.sample_rate_hz, speed)
        try:
            for chunk in chunks:
                samples = stretcher.process(chunk.samples)
                if samples.size:
                    yield self._chunk(samples)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:  # a client gone: stop generating now
                close()
        tail = stretcher.flush()
        if tail.size:
            yield self._chunk(tail)

    def _whole(self, token_ids: Sequence[int], *, item: int) -> AudioChunk:
        """Non-streaming: all frames of one generated sequence, decoded at once."""
        _, codec = self._loaded()
        with _engine_errors(f"batch item {item}: "):
            assembler = FrameAssembler(self._tokens, strict=self._settings.maya1_strict_frames)
            frames = assembler.push_all(token_ids)
            _log_skipped(assembler.skipped)
            if not frames:
                raise EngineFailed(
                    f"maya1 generated no audio for batch item {item} (no whole frame before EOS)"
                )
            return self._chunk(decode_whole(codec.decode, frames, codec.samples_per_frame))

    def _warm_up(self, prompts: PromptBuilder) -> None:
        """One short generation and decode, so the first request pays no lazy set-up."""
        description = next(iter(self._settings.maya1_voices.values()), _FALLBACK_DESCRIPTION)
        tokens = _WARMUP_FRAMES * FRAME_TOKENS
        request = GenerationRequest(
            prompt_ids=prompts.build(description, _WARMUP_TEXT),
            sampling=SamplingConfig(max_new_tokens=tokens, min_new_tokens=tokens, seed=0),
        )
        for _ in self._stream(request):
            pass

    def _loaded(self) -> tuple[Backend, SnacCodec]:
        if self._backend is None or self._codec is None:
            raise NotReady("the maya1 engine is not loaded")
        return self._backend, self._codec

    def _chunk(self, samples: FloatSamples) -> AudioChunk:
        _, codec = self._loaded()
        return AudioChunk(samples=samples, sample_rate_hz=codec.sample_rate_hz)


@contextlib.contextmanager
def _engine_errors(context: str = "") -> Iterator[None]:
    """Domain errors pass through; frame and runtime failures become ``EngineFailed``."""
    try:
        yield
    except VoxserveError:
        raise
    except FrameError as exc:
        raise EngineFailed(f"maya1 {context}generated a malformed frame: {exc}") from exc
    except Exception as exc:  # torch, transformers, vLLM and SNAC raise their own types
        raise EngineFailed(f"maya1 {context}failed: {exc}") from exc


def _log_skipped(count: int) -> None:
    if count:
        logger.warning("maya1: skipped %d malformed frame(s) (lenient frames)", count)
