"""``POST /v1/audio/speech``: OpenAI-compatible, streamed as audio bytes or SSE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from voxserve.api.dependencies import SpeechServiceDep
from voxserve.api.schemas import ErrorResponse, SpeechRequest
from voxserve.api.sse import speech_events
from voxserve.audio import content_type_for
from voxserve.service.speech import SpeechStats

router = APIRouter(tags=["speech"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request"},
    404: {"model": ErrorResponse, "description": "Unknown model or voice"},
    503: {"model": ErrorResponse, "description": "Not ready or overloaded"},
}


@router.post(
    "/v1/audio/speech",
    responses={200: {"content": {"audio/mpeg": {}, "text/event-stream": {}}}, **_ERRORS},
    response_class=StreamingResponse,
)
async def create_speech(body: SpeechRequest, service: SpeechServiceDep) -> StreamingResponse:
    """Speak ``input``. Audio starts streaming once the first sentence is synthesized."""
    job = service.plan(
        text=body.input,
        model=body.model,
        voice=body.voice,
        audio_format=body.response_format,
        speed=body.speed,
        sample_rate_hz=body.sample_rate,
        options=body.options,
        instructions=body.instructions,
    )
    stats = SpeechStats()
    audio = service.stream(job, stats)
    # Synthesize the first segment before answering, so its failure is a proper error status.
    first = await anext(audio, b"")
    headers = {
        "X-Voxserve-Voice": job.voice.id,
        "X-Voxserve-Segments": str(len(job.segments)),
        "X-Voxserve-Sample-Rate": str(job.sample_rate_hz),
    }

    async def body_bytes() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for data in audio:
            yield data

    if body.stream_format == "sse":
        def usage() -> dict[str, Any]:
            return {"input_characters": job.input_chars, "output_audio_seconds": stats.audio_s}

        return StreamingResponse(
            speech_events(body_bytes(), usage), media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache"},
        )
    return StreamingResponse(
        body_bytes(), media_type=content_type_for(job.audio_format), headers=headers
    )
