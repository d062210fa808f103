"""``voxserve.v1.Speech``: each RPC parses its request, goes through :class:`CallGuard`
(auth, limits, logs) and calls the same use case as ``POST /v1/audio/speech``:
``SpeechService.plan`` (off the loop), the character limit and a concurrent-stream slot,
``SpeechService.open`` (admission, cache, scheduler, first audio within the deadline), then
the stream's bytes as ``AudioChunk`` messages. Cancelling the call (or its deadline) closes
the stream, which stops the synthesis as an HTTP client that goes away does.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc.aio

from voxserve.errors import DeadlineExceeded, InvalidRequest
from voxserve.rpc import convert
from voxserve.rpc.call import Call, CallGuard, RpcEnvironment
from voxserve.rpc.v1 import speech_pb2 as pb
from voxserve.rpc.v1 import speech_pb2_grpc
from voxserve.security.limits import StreamSlot
from voxserve.security.principal import SCOPE_SPEECH
from voxserve.service.speech import SpeechStream

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Speech"].full_name
#: Largest audio_data of one streamed chunk (bigger pieces are split; clients' default
#: receive limit is 4 MiB).
MAX_CHUNK_BYTES = 256 * 1024
#: Room left in a reply for everything but its audio.
_REPLY_OVERHEAD_BYTES = 4096

Context: TypeAlias = grpc.aio.ServicerContext  # untyped library: Any


def method_name(rpc: str) -> str:
    return f"/{SERVICE_NAME}/{rpc}"


class SpeechServicer(speech_pb2_grpc.SpeechServicer):
    def __init__(self, env: RpcEnvironment) -> None:
        self._env = env
        self._guard = CallGuard(env)

    async def Synthesize(  # noqa: N802 (the proto's name)
        self, request: pb.SynthesizeRequest, context: Context
    ) -> AsyncIterator[pb.AudioChunk]:
        async with self._guard.call(context, method_name("Synthesize"), SCOPE_SPEECH) as call:
            stream, slot = await self._open(request, context, call)
            try:
                async for message in _chunks(stream):
                    yield message
            finally:
                await stream.aclose()
                await asyncio.shield(slot.release())
                call.record["audio_s"] = round(stream.stats.audio_s, 3)

    async def SynthesizeUnary(  # noqa: N802
        self, request: pb.SynthesizeRequest, context: Context
    ) -> pb.SynthesizeResponse:
        method = method_name("SynthesizeUnary")
        async with self._guard.call(context, method, SCOPE_SPEECH) as call:
            stream, slot = await self._open(request, context, call)
            limit = self._env.settings.grpc_max_send_message_bytes - _REPLY_OVERHEAD_BYTES
            pieces: list[bytes] = []
            size = 0
            try:
                async for data in stream:
                    size += len(data)
                    if size > limit:
                        raise InvalidRequest(
                            f"the audio is over {limit} bytes, more than one reply may carry; "
                            "use Synthesize (streamed) for texts this long", param="text")
                    pieces.append(data)
            finally:
                await stream.aclose()
                await asyncio.shield(slot.release())
                call.record["audio_s"] = round(stream.stats.audio_s, 3)
            job = stream.job
            return pb.SynthesizeResponse(
                audio_data=b"".join(pieces), sample_rate=job.sample_rate_hz,
                duration_ms=stream.stats.audio_s * 1000, format=convert.format_value(
                    job.audio_format), content_type=stream.content_type,
                voice_id=job.voice.id, usage=_usage(stream),
            )

    async def ListVoices(  # noqa: N802
        self, request: pb.ListVoicesRequest, context: Context
    ) -> pb.ListVoicesResponse:
        async with self._guard.call(context, method_name("ListVoices"), SCOPE_SPEECH):
            return pb.ListVoicesResponse(
                voices=[convert.voice_message(v) for v in self._env.catalog.voices()])
        raise AssertionError("unreachable")  # the guard aborts or returns  # pragma: no cover

    async def ListModels(  # noqa: N802
        self, request: pb.ListModelsRequest, context: Context
    ) -> pb.ListModelsResponse:
        async with self._guard.call(context, method_name("ListModels"), SCOPE_SPEECH):
            return pb.ListModelsResponse(
                models=[convert.model_message(m) for m in self._env.catalog.models()])
        raise AssertionError("unreachable")  # pragma: no cover

    async def _open(
        self, request: pb.SynthesizeRequest, context: Context, call: Call
    ) -> tuple[SpeechStream, StreamSlot]:
        """Count the characters, take a stream slot (the caller releases it), then the
        speech use case: admit, plan, wait for the first audio."""
        speech, limiter = self._env.speech, self._env.rate_limiter
        priority = convert.priority(request.priority)
        call.text = request.text
        call.record.update(characters=len(request.text))
        await limiter.check_characters(call.identity, len(request.text))
        slot = await limiter.acquire_stream(call.identity)
        try:
            stream = await speech.speak(
                convert.speech_input(request), priority, use_cache=not request.bypass_cache,
                first_audio_timeout_s=self._first_audio_timeout_s(context),
                received_at_s=call.received_at_s, transport="grpc",
            )
        except BaseException:
            await asyncio.shield(slot.release())
            raise
        job = stream.job
        call.record.update(characters=job.input_chars, segments=len(job.segments),
                           engine=job.engine.name, voice=job.voice.id)
        return stream, slot

    def _first_audio_timeout_s(self, context: Context) -> float | None:
        """The server's request timeout or the client's deadline, whichever is sooner."""
        default_s = self._env.settings.request_timeout_s or math.inf
        remaining = context.time_remaining()
        timeout_s = min(default_s, math.inf if remaining is None else remaining)
        if timeout_s <= 0:
            raise DeadlineExceeded("the call's deadline passed before synthesis started")
        return None if math.isinf(timeout_s) else timeout_s


async def _chunks(stream: SpeechStream) -> AsyncIterator[pb.AudioChunk]:
    """The stream's bytes as messages: sequence, rate, duration, the sentence being spoken;
    then one last message with the usage."""
    job, stats = stream.job, stream.stats
    fmt = convert.format_value(job.audio_format)
    count = len(job.segments)
    sequence = 0
    audio_s = 0.0
    async for data in stream:
        index = min(stats.segments_done, count - 1)
        span = pb.TextSpan(segment_index=index, segment_count=count, text=job.segments[index])
        rendered_s, audio_s = stats.audio_s - audio_s, stats.audio_s
        for start in range(0, len(data), MAX_CHUNK_BYTES):
            piece = data[start : start + MAX_CHUNK_BYTES]
            yield pb.AudioChunk(
                audio_data=piece, sequence=sequence, sample_rate=job.sample_rate_hz,
                duration_ms=rendered_s * 1000 * len(piece) / len(data), span=span, format=fmt,
            )
            sequence += 1
    yield pb.AudioChunk(sequence=sequence, sample_rate=job.sample_rate_hz, format=fmt,
                        usage=_usage(stream))


def _usage(stream: SpeechStream) -> pb.Usage:
    return pb.Usage(
        input_characters=stream.job.input_chars,
        output_audio_seconds=round(stream.stats.audio_s, 3),
        segments=stream.stats.segments_done, output_bytes=stream.stats.output_bytes,
    )
