"""``POST /v1/audio/speech``: OpenAI-compatible, streamed as audio bytes or SSE."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from voxserve import metrics
from voxserve.api.dependencies import (
    ArtifactsDep,
    ServiceStateDep,
    SettingsDep,
    SpeechServiceDep,
)
from voxserve.api.middleware.audit import STATE_TEXT
from voxserve.api.middleware.context import access_record_var
from voxserve.api.middleware.rate_limit import (
    add_rate_limit_headers,
    client_identity,
    hold_stream_slot,
)
from voxserve.api.schemas import ErrorResponse, SpeechRequest, StoredSpeech
from voxserve.api.sse import speech_events
from voxserve.audio import content_type_for
from voxserve.errors import DeadlineExceeded, InvalidRequest, NotReady, Overloaded, ShuttingDown
from voxserve.scheduler import Priority
from voxserve.service.speech import SpeechJob, SpeechStats
from voxserve.settings import Settings
from voxserve.storage import ArtifactStore
from voxserve.types import AudioFormat

router = APIRouter(tags=["speech"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request"},
    404: {"model": ErrorResponse, "description": "Unknown model or voice"},
    503: {"model": ErrorResponse, "description": "Loading, overloaded (see Retry-After) or "
          "shutting down"},
    504: {"model": ErrorResponse, "description": "The request's timeout passed before audio"},
}


def _priority(value: str | None) -> Priority:
    if value is None:
        return Priority.INTERACTIVE
    try:
        return Priority[value.strip().upper()]
    except KeyError:
        raise InvalidRequest(
            "X-Voxserve-Priority must be 'interactive' or 'batch'", param="X-Voxserve-Priority"
        ) from None


def _timeout_s(value: str | None, default_s: float) -> float | None:
    if value is None:
        return default_s or None
    try:
        timeout_s = float(value)
    except ValueError:
        timeout_s = -1.0
    if not 0 < timeout_s <= 3600:
        raise InvalidRequest(
            "X-Voxserve-Timeout must be a number of seconds in (0, 3600]",
            param="X-Voxserve-Timeout",
        )
    return timeout_s


@router.post(
    "/v1/audio/speech",
    responses={200: {"content": {"audio/mpeg": {}, "text/event-stream": {}}},
               201: {"model": StoredSpeech, "description": "Stored (with return_url)"},
               **_ERRORS},
    response_class=StreamingResponse,
)
async def create_speech(
    body: SpeechRequest,
    request: Request,
    service: SpeechServiceDep,
    state: ServiceStateDep,
    settings: SettingsDep,
    artifacts: ArtifactsDep,
    x_voxserve_priority: Annotated[str | None, Header()] = None,
    x_voxserve_timeout: Annotated[str | None, Header()] = None,
    x_voxserve_cache: Annotated[str | None, Header()] = None,
) -> Response:
    """Speak ``input``. Audio starts streaming once the first sentence is synthesized.

    Headers: ``X-Voxserve-Priority: interactive|batch`` (default interactive; batch work
    yields to interactive work), ``X-Voxserve-Timeout: SECONDS`` (504 if audio has not
    started by then), ``X-Voxserve-Cache: bypass`` (neither read nor write the cache).
    With ``return_url: true`` the audio is stored and the answer is JSON with its URL.
    """
    started = time.perf_counter()
    if state.draining:
        raise ShuttingDown("the server is shutting down; retry on another instance")
    if not state.started:
        raise NotReady("engines are still loading")
    priority = _priority(x_voxserve_priority)
    timeout_s = _timeout_s(x_voxserve_timeout, settings.request_timeout_s)
    # Text normalization and segmentation take milliseconds on long inputs: off the loop.
    job = await asyncio.to_thread(
        service.plan,
        text=body.input,
        model=body.model,
        voice=body.voice,
        audio_format=body.response_format,
        speed=body.speed,
        sample_rate_hz=body.sample_rate,
        options=body.options,
        instructions=body.instructions,
    )
    limiter = request.app.state.rate_limiter
    identity = client_identity(request)
    add_rate_limit_headers(request, await limiter.check_characters(identity, job.input_chars))
    setattr(request.state, STATE_TEXT, body.input)
    # Released by RateLimitMiddleware when the response (or its stream) is over.
    hold_stream_slot(request, await limiter.acquire_stream(identity))
    record = access_record_var.get()
    stats = SpeechStats()
    if record is not None:
        record.characters, record.segments = job.input_chars, len(job.segments)
        record.engine, record.voice = job.engine.name, job.voice.id
    use_cache = (x_voxserve_cache or "").strip().lower() != "bypass"
    # admission (503 when overloaded) happens here, before any work is queued; a request
    # whose audio is all cached needs no engine and is served even then
    try:
        audio = service.stream(job, stats, priority, use_cache=use_cache)
    except Overloaded:
        if not (use_cache and await service.fully_cached(job)):
            raise
        audio = service.stream(job, stats, priority, use_cache=True, admit=False)
    # Wait for the first audio before answering, so a failure or a timeout there is a proper
    # error status; afterwards the stream is committed.
    try:
        first = await asyncio.wait_for(anext(audio, b""), timeout_s)
    except TimeoutError:
        await audio.aclose()
        raise DeadlineExceeded(
            f"no audio within the request's timeout of {timeout_s} s"
        ) from None
    except BaseException:
        await audio.aclose()
        raise
    metrics.TIME_TO_FIRST_AUDIO.labels(job.engine.name).observe(time.perf_counter() - started)
    if body.return_url:
        return await _store(job, first, audio, stats, request, artifacts, settings)
    headers = {
        "X-Voxserve-Voice": job.voice.id,
        "X-Voxserve-Segments": str(len(job.segments)),
        "X-Voxserve-Sample-Rate": str(job.sample_rate_hz),
    }

    async def body_bytes() -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for data in audio:
                yield data
        finally:
            await audio.aclose()
            if record is not None:
                record.audio_s = round(stats.audio_s, 3)

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


_EXTENSIONS = {AudioFormat.OPUS: "ogg"}


async def _store(
    job: SpeechJob,
    first: bytes,
    audio: AsyncGenerator[bytes, None],
    stats: SpeechStats,
    request: Request,
    artifacts: ArtifactStore,
    settings: Settings,
) -> JSONResponse:
    """Synthesize to the end, store the file, answer with where it is."""
    try:
        data = first + b"".join([piece async for piece in audio])
    finally:
        await audio.aclose()
    record = access_record_var.get()
    if record is not None:
        record.audio_s = round(stats.audio_s, 3)
    file_id = uuid.uuid4().hex
    key = f"speech/{file_id}.{_EXTENSIONS.get(job.audio_format, job.audio_format.value)}"
    content_type = content_type_for(job.audio_format)
    await artifacts.put(key, data, content_type)
    url = await artifacts.url(key, settings.storage_url_expiry_s)
    expires_in_s = settings.storage_url_expiry_s if url else None
    stored = StoredSpeech(
        id=file_id,
        url=url or str(request.url_for("get_audio_file", key=key)),
        content_type=content_type,
        bytes=len(data),
        audio_seconds=round(stats.audio_s, 3),
        expires_in_s=expires_in_s,
    )
    return JSONResponse(stored.model_dump(), status_code=201)
