"""``POST /v1/audio/speech``: OpenAI-compatible, streamed as audio bytes or SSE."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from voxserve.api.dependencies import SettingsDep, SpeechServiceDep
from voxserve.api.middleware.audit import STATE_TEXT
from voxserve.api.middleware.context import access_record_var
from voxserve.api.middleware.rate_limit import (
    add_rate_limit_headers,
    client_identity,
    hold_stream_slot,
)
from voxserve.api.schemas import (
    ErrorResponse,
    SpeechJson,
    SpeechRequest,
    StoredSpeech,
    WordTimestamp,
)
from voxserve.api.sse import speech_events, sse_response
from voxserve.errors import InvalidRequest
from voxserve.scheduler import Priority
from voxserve.service.speech import SpeechService, SpeechStream
from voxserve.service.speech_job import SpeechInput, openai_sample_rate

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
    settings: SettingsDep,
    x_voxserve_priority: Annotated[str | None, Header()] = None,
    x_voxserve_timeout: Annotated[str | None, Header()] = None,
    x_voxserve_cache: Annotated[str | None, Header()] = None,
) -> Response:
    """Speak ``input``. Audio starts streaming once the first sentence is synthesized.

    Headers: ``X-Voxserve-Priority: interactive|batch`` (default interactive; batch work
    yields to interactive work), ``X-Voxserve-Timeout: SECONDS`` (504 if audio has not
    started by then), ``X-Voxserve-Cache: bypass`` (neither read nor write the cache).
    With ``return_url: true`` the audio is stored and the answer is JSON with its URL.
    ``stream_format: "json"`` answers with one JSON object (the audio in base64);
    ``timestamps: "word"`` adds each word's start/end seconds (SSE: ``speech.word_timestamps``
    events beside the audio deltas; JSON: ``words``).
    """
    received_at_s = time.perf_counter()
    _check_timestamps(body)
    priority = _priority(x_voxserve_priority)
    timeout_s = _timeout_s(x_voxserve_timeout, settings.request_timeout_s)
    speech_input = SpeechInput(
        text=body.input,
        model=body.model,
        voice=body.voice,
        audio_format=body.response_format,
        speed=body.speed,
        sample_rate_hz=openai_sample_rate(
            body.response_format or settings.default_response_format, body.sample_rate),
        options=body.options,
        instructions=body.instructions,
        input_type=body.input_type,
        word_times=body.timestamps == "word",
    )
    # Rate limits and admission come before any text work, so refusals stay cheap in a burst.
    limiter = request.app.state.rate_limiter
    identity = client_identity(request)
    add_rate_limit_headers(request, await limiter.check_characters(identity, len(body.input)))
    setattr(request.state, STATE_TEXT, body.input)
    # Released by RateLimitMiddleware when the response (or its stream) is over.
    hold_stream_slot(request, await limiter.acquire_stream(identity))
    use_cache = (x_voxserve_cache or "").strip().lower() != "bypass"
    # The wait for the first audio (504 past the timeout) happens here, before the response
    # starts: a failure there is a proper error status; afterwards the stream is committed.
    stream = await service.speak(
        speech_input, priority, use_cache=use_cache, first_audio_timeout_s=timeout_s,
        received_at_s=received_at_s,
    )
    job = stream.job
    record = access_record_var.get()
    if record is not None:
        record.characters, record.segments = job.input_chars, len(job.segments)
        record.engine, record.voice = job.engine.name, job.voice.id
    if body.return_url:
        return await _store(stream, service, request)
    headers = {
        "X-Voxserve-Voice": job.voice.id,
        "X-Voxserve-Segments": str(len(job.segments)),
        "X-Voxserve-Sample-Rate": str(job.sample_rate_hz),
    }

    async def body_bytes() -> AsyncIterator[bytes]:
        try:
            async for data in stream:
                yield data
        finally:
            await stream.aclose()
            _record_audio(stream)

    def usage() -> dict[str, Any]:
        return {"input_characters": job.input_chars,
                "output_audio_seconds": stream.stats.audio_s}

    timed = body.timestamps == "word"
    if body.stream_format == "sse":
        def words() -> list[dict[str, Any]]:
            return [word.as_dict() for word in stream.words.take_new()]

        return sse_response(speech_events(body_bytes(), usage, words if timed else None),
                            keepalive_s=settings.sse_keepalive_s, headers=headers)
    if body.stream_format == "json":
        audio = b"".join([data async for data in body_bytes()])
        answer = SpeechJson(
            audio=base64.b64encode(audio).decode(), content_type=stream.content_type,
            sample_rate=job.sample_rate_hz, audio_seconds=round(stream.stats.audio_s, 3),
            words=([WordTimestamp.model_validate(word.as_dict()) for word in stream.words.words]
                   if timed else None),
            usage=usage(),
        )
        return JSONResponse(answer.model_dump(exclude_none=True), headers=headers)
    return StreamingResponse(body_bytes(), media_type=stream.content_type, headers=headers)


def _check_timestamps(body: SpeechRequest) -> None:
    """Word timestamps need a response that can carry them beside the audio."""
    if body.timestamps != "none" and (body.stream_format == "audio" or body.return_url):
        raise InvalidRequest(
            "timestamps need stream_format 'sse' (speech.word_timestamps events) or 'json' "
            "(the audio in base64 and the words); a plain audio response has nowhere to put "
            "them", param="timestamps",
        )
    if body.return_url and body.stream_format == "json":
        raise InvalidRequest("return_url answers with JSON of its own (the audio's URL): "
                             "use one or the other", param="return_url")


def _record_audio(stream: SpeechStream) -> None:
    record = access_record_var.get()
    if record is not None:
        record.audio_s = round(stream.stats.audio_s, 3)


async def _store(stream: SpeechStream, service: SpeechService, request: Request) -> JSONResponse:
    """Synthesize to the end, store the file, answer with where it is."""
    try:
        stored = await service.store(stream)
    finally:
        await stream.aclose()
        _record_audio(stream)
    body = StoredSpeech(
        id=stored.id,
        url=stored.url or str(request.url_for("get_audio_file", key=stored.key)),
        content_type=stored.content_type,
        bytes=stored.bytes,
        audio_seconds=stored.audio_s,
        expires_in_s=stored.expires_in_s,
    )
    return JSONResponse(body.model_dump(), status_code=201)
