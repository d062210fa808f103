"""The Maya1 engine: a Llama-style LM that speaks in SNAC codes, decoded to 24 kHz audio.

Voices are the named descriptions of ``maya1_voices``; a request's ``instructions`` replace
the description. ``synthesize`` streams: audio is decoded from a sliding window of frames
while tokens are still being generated (see :mod:`.codec`), the windows of all streams
batched together (:mod:`.snac_batcher`). ``synthesize_batch`` generates a padded batch and
decodes each item whole. Replicas with the same settings share one loaded model
(:mod:`.runtime`).

Maya1 has no duration control, so ``params.speed`` other than 1 is applied to its audio
afterwards by a pitch-preserving time stretch (:class:`voxserve.audio.tempo.TimeStretcher`,
FFmpeg's ``atempo``), chunk by chunk while the segment streams.

Every segment is counted by how its generation ended (``voxserve_maya1_segments_total``:
``eos``, ``max_tokens``, ``closed``, ``failed``) with its frame count
(``voxserve_maya1_frames``); stray tokens are repaired or skipped, never fatal
(:mod:`.frames`), and counted. ``close`` ends this engine's streams still running with
``EngineFailed`` at their next token.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path

from voxserve import metrics
from voxserve.engines.base import SegmentRequest, SynthesisParams
from voxserve.engines.maya1 import runtime as shared
from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.codec import StreamingDecoder, decode_whole
from voxserve.engines.maya1.frames import FrameAssembler
from voxserve.engines.maya1.options import Maya1Options, as_maya1_options, sampling_config
from voxserve.engines.maya1.prompt import PromptBuilder
from voxserve.engines.maya1.runtime import Maya1Runtime
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import EMOTION_TAGS, FRAME_TOKENS, Maya1Tokens
from voxserve.errors import EngineFailed, NotReady, VoiceNotFound, VoxserveError
from voxserve.settings import Settings
from voxserve.types import AudioChunk, EngineCapabilities, VoiceInfo

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
        engine_tags=EMOTION_TAGS,
    )
    options_model = Maya1Options

    def __init__(self, settings: Settings, *, tokens: Maya1Tokens | None = None,
                 share: bool = True) -> None:
        self._settings = settings
        self._tokens = tokens or Maya1Tokens(leading_bos=settings.maya1_prompt_leading_bos)
        #: Share the loaded model with other engines of the same settings (the replicas).
        self._share = share
        self._runtime: Maya1Runtime | None = None
        self._key: Hashable = None
        self._closing = threading.Event()

    # --- lifecycle ------------------------------------------------------------------

    @property
    def model_dir(self) -> Path:
        configured = self._settings.maya1_model_dir
        return (configured or self._settings.resolved_models_dir / "maya1").expanduser()

    @property
    def snac_dir(self) -> Path:
        configured = self._settings.maya1_snac_dir
        return (configured or self._settings.resolved_models_dir / "snac_24khz").expanduser()

    @property
    def runtime(self) -> Maya1Runtime:
        """The loaded model, codec and decode batcher (``NotReady`` before ``load``)."""
        return self._loaded()

    def load(self) -> None:
        """Validate both directories, load LM and SNAC, warm up (``EngineLoadError``).

        A replica whose settings match a loaded engine's shares its model instead.
        """
        settings = self._settings
        args = (settings, self._tokens, self.model_dir, self.snac_dir)
        if self._share:
            self._key = shared.runtime_key(*args)
            runtime, new = shared.acquire(self._key, *args)
        else:
            runtime, new = Maya1Runtime.load(*args), True
        self._runtime = runtime
        self._closing.clear()
        if not new:
            return
        try:
            self._warm_up(runtime.prompts)
        except BaseException:
            self.close()
            raise
        logger.info(
            "maya1: %s backend on %s (%s), %d voice(s), leading BOS %s",
            settings.maya1_backend, runtime.device, runtime.dtype or "vLLM's choice",
            len(settings.maya1_voices), runtime.prompts.leading_bos,
        )

    def close(self) -> None:
        """Stop this engine's streams (``EngineFailed``) and release the model."""
        self._closing.set()
        runtime, self._runtime = self._runtime, None
        if runtime is None:
            return
        if self._share:
            shared.release(self._key, runtime)
        else:
            runtime.close()

    # --- catalog --------------------------------------------------------------------

    def voices(self) -> Sequence[VoiceInfo]:
        runtime = self._runtime
        rate = runtime.codec.sample_rate_hz if runtime is not None else SAMPLE_RATE_HZ
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
        runtime = self._loaded()
        results: list[list[AudioChunk]] = []
        size = self.capabilities.max_batch_size
        for start in range(0, len(prepared), size):
            try:
                with _engine_errors():
                    generated = runtime.backend.generate_batch(prepared[start:start + size])
            except BaseException:
                metrics.MAYA1_SEGMENTS.labels("failed").inc(len(prepared[start:start + size]))
                raise
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
        runtime = self._loaded()
        sampling = sampling_config(self._settings, as_maya1_options(params.options))
        prompt = runtime.prompts.build(params.instructions or description, text)
        return GenerationRequest(prompt_ids=prompt, sampling=sampling)

    def _stream(self, request: GenerationRequest, *, record: bool = True
                ) -> Iterator[AudioChunk]:
        runtime = self._loaded()
        rate_hz = runtime.codec.sample_rate_hz  # kept: close() may drop the runtime mid-stream
        assembler = FrameAssembler(self._tokens, policy=self._settings.maya1_stray_tokens)
        decoder: StreamingDecoder | None = None
        end = "failed"
        try:
            with (_engine_errors(), runtime.batcher.open_stream() as decode,
                  contextlib.closing(runtime.backend.stream(request)) as token_ids):
                decoder = StreamingDecoder(decode, runtime.codec.samples_per_frame)
                for token in token_ids:
                    if self._closing.is_set():
                        raise EngineFailed("maya1: the engine was closed while generating")
                    frame = assembler.push(token)
                    if frame is not None and (samples := decoder.push(frame)) is not None:
                        yield AudioChunk(samples=samples, sample_rate_hz=rate_hz)
                    if assembler.finished:
                        break
                end = "eos" if assembler.finished else "max_tokens"
                if decoder.frames == 0:
                    raise EngineFailed("maya1 generated no audio (no whole frame before EOS)")
                tail = decoder.flush()
                if tail is not None and len(tail):
                    yield AudioChunk(samples=tail, sample_rate_hz=rate_hz)
        except GeneratorExit:
            end = "closed"
            raise
        finally:
            if record:
                _record(self._settings.maya1_backend, end,
                        decoder.frames if decoder is not None else 0, assembler)

    def _stretched(self, chunks: Iterator[AudioChunk], speed: float) -> Iterator[AudioChunk]:
        """``chunks`` played ``speed`` times as fast, at the same pitch."""
        from voxserve.audio.tempo import TimeStretcher  # PyAV: only when a speed asks for it

        rate_hz = self._loaded().codec.sample_rate_hz
        stretcher = TimeStretcher(rate_hz, speed)
        try:
            for chunk in chunks:
                samples = stretcher.process(chunk.samples)
                if samples.size:
                    yield AudioChunk(samples=samples, sample_rate_hz=rate_hz)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:  # a client gone: stop generating now
                close()
        tail = stretcher.flush()
        if tail.size:
            yield AudioChunk(samples=tail, sample_rate_hz=rate_hz)

    def _whole(self, token_ids: Sequence[int], *, item: int) -> AudioChunk:
        """Non-streaming: all frames of one generated sequence, decoded at once."""
        codec = self._loaded().codec
        assembler = FrameAssembler(self._tokens, policy=self._settings.maya1_stray_tokens)
        frames = assembler.push_all(token_ids)
        _record(self._settings.maya1_backend, "eos" if assembler.finished else "max_tokens",
                len(frames), assembler)
        if not frames:
            raise EngineFailed(
                f"maya1 generated no audio for batch item {item} (no whole frame before EOS)"
            )
        with _engine_errors(f"batch item {item}: "):
            return AudioChunk(samples=decode_whole(codec.decode, frames, codec.samples_per_frame),
                              sample_rate_hz=codec.sample_rate_hz)

    def _warm_up(self, prompts: PromptBuilder) -> None:
        """One short generation and decode, so the first request pays no lazy set-up."""
        description = next(iter(self._settings.maya1_voices.values()), _FALLBACK_DESCRIPTION)
        tokens = _WARMUP_FRAMES * FRAME_TOKENS
        request = GenerationRequest(
            prompt_ids=prompts.build(description, _WARMUP_TEXT),
            sampling=SamplingConfig(max_new_tokens=tokens, min_new_tokens=tokens, seed=0),
        )
        for _ in self._stream(request, record=False):
            pass

    def _loaded(self) -> Maya1Runtime:
        if self._runtime is None:
            raise NotReady("the maya1 engine is not loaded")
        return self._runtime


@contextlib.contextmanager
def _engine_errors(context: str = "") -> Iterator[None]:
    """Domain errors pass through; runtime failures become ``EngineFailed``."""
    try:
        yield
    except VoxserveError:
        raise
    except Exception as exc:  # torch, transformers, vLLM and SNAC raise their own types
        raise EngineFailed(f"maya1 {context}failed: {exc}") from exc


def _record(backend: str, end: str, frames: int, assembler: FrameAssembler) -> None:
    """Count one segment: how it ended, its frames, its stray tokens."""
    metrics.MAYA1_SEGMENTS.labels(end).inc()
    if frames:
        metrics.MAYA1_FRAMES.observe(frames)
    if assembler.repaired_tokens:
        metrics.MAYA1_STRAY_TOKENS.labels(backend, "repaired").inc(assembler.repaired_tokens)
    if assembler.dropped_tokens:
        metrics.MAYA1_STRAY_TOKENS.labels(backend, "frame_skipped").inc(
            assembler.dropped_tokens)
        logger.warning("maya1: skipped %d frame(s) holding %d stray token(s)",
                       assembler.skipped, assembler.dropped_tokens)
