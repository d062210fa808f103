"""``/v1/audio/speech/stream``: a WebSocket that speaks text as it arrives.

The client sends a ``config`` message, then ``text`` fragments of any size, optionally
``flush``, and ``close``. :class:`~voxserve.service.text_stream.TextStream` cuts the text
into sentences (clauses when it stalls); each goes through the same
``SpeechService.plan`` / ``open`` as ``POST /v1/audio/speech``, in order, and its audio goes
back as binary frames (or ``audio`` messages with base64), followed by ``done`` with usage.

Two tasks per connection: the reader (messages -> pieces, a bounded queue: when it is full
the reader stops reading, so a client that sends faster than speech is made is paused by
TCP) and the speaker (pieces -> audio; a client that does not read blocks its sends, which
stops the synthesis of more audio, and is closed after ``ws_send_timeout_s``). Either ending
in an error closes the connection with the code of ``api/ws_errors.py``; a client that goes
away cancels the synthesis in flight and releases its stream slot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voxserve import metrics
from voxserve.api.middleware.context import access_logger, request_id_of
from voxserve.api.ws_errors import (
    GOING_AWAY,
    INVALID_PAYLOAD,
    MESSAGE_TOO_BIG,
    NORMAL,
    POLICY_VIOLATION,
    UNSUPPORTED_DATA,
    close_for,
)
from voxserve.api.ws_schemas import CLIENT_MESSAGE, Close, Flush, StreamConfig, TextFragment
from voxserve.errors import InvalidRequest, ProtocolViolation
from voxserve.logs import request_id_var
from voxserve.security.authenticator import Authenticator
from voxserve.security.limits import RateLimiter
from voxserve.security.principal import SCOPE_SPEECH, Principal
from voxserve.service.lifecycle import ServiceState
from voxserve.service.speech import SpeechService
from voxserve.service.speech_job import SpeechInput
from voxserve.service.text_stream import TextStream
from voxserve.service.word_times import WordTime
from voxserve.settings import Settings
from voxserve.types import AudioFormat

logger = logging.getLogger(__name__)
router = APIRouter(tags=["speech"])

_PROBE_TEXT = "Ready."
PATH = "/v1/audio/speech/stream"


def word_alignment(words: Sequence[WordTime], offset_s: float) -> dict[str, Any]:
    """The ``alignment`` message of a piece's words (a sentence's, as it renders): times
    from the start of the connection's audio (``offset_s``: the audio sent before the
    piece; the piece's own audio starts with the pause between pieces). ``estimated``
    (also per word) when any has no engine alignment (Maya1, a cached sentence)."""
    return {"type": "alignment", "estimated": any(word.estimated for word in words),
            "words": [{"word": word.word, "start": round(offset_s + word.start_s, 3),
                       "end": round(offset_s + word.end_s, 3), "estimated": word.estimated}
                      for word in words]}


class _ClientGone(Exception):
    """The client closed the connection or it broke."""


@router.websocket(PATH)
async def speech_stream(websocket: WebSocket) -> None:
    """Streaming text in, audio out (see the module doc and the README).

    A conversation counts as a request in flight (the drain on SIGTERM waits for it, as for
    an HTTP request) and ends with one access line (close code, duration, characters, audio
    seconds; never the text)."""
    lifecycle: ServiceState = websocket.app.state.service_state
    started = time.perf_counter()
    id_token = request_id_var.set(request_id_of(websocket.scope))
    lifecycle.request_started()
    session: _Session | None = None
    code = NORMAL
    try:
        await websocket.accept()
        session = _Session(websocket)
        await session.run()
    except _ClientGone:
        code = GOING_AWAY
    except Exception as exc:  # every failure leaves as a close code, never a traceback
        code, reason, message = close_for(exc)
        if code == 1011:
            logger.exception("websocket stream failed")
        await _close(websocket, code, reason, message)
    else:
        await _close(websocket, NORMAL, "done", None)
    finally:
        lifecycle.request_finished()
        duration_s = time.perf_counter() - started
        metrics.HTTP_REQUESTS.labels("WEBSOCKET", PATH, str(code)).inc()
        metrics.HTTP_REQUEST_DURATION.labels("WEBSOCKET", PATH).observe(duration_s)
        usage = {} if session is None else {
            "characters": session.input_chars, "audio_s": round(session.audio_s, 3)}
        access_logger.info("WEBSOCKET %s %s", PATH, code, extra={
            "method": "WEBSOCKET", "path": PATH, "status": code,
            "duration_ms": round(duration_s * 1000, 2), **usage})
        request_id_var.reset(id_token)


async def _close(websocket: WebSocket, code: int, reason: str,
                 message: dict[str, Any] | None) -> None:
    if websocket.application_state is not WebSocketState.CONNECTED:
        return
    with contextlib.suppress(Exception):  # the client may be gone already
        if message is not None:
            await asyncio.wait_for(websocket.send_text(json.dumps(message)), 5.0)
        await asyncio.wait_for(websocket.close(code, reason), 5.0)


class _Session:
    def __init__(self, websocket: WebSocket) -> None:
        state = websocket.app.state
        self.websocket = websocket
        self.settings: Settings = state.settings
        self.service: SpeechService = state.speech
        self.authenticator: Authenticator = state.authenticator
        self.limiter: RateLimiter = state.rate_limiter
        self._received: deque[float] = deque()
        self.input_chars = 0
        self.audio_s = 0.0

    async def run(self) -> None:
        self._check_origin()
        header = self.websocket.headers.get("authorization")
        config = await self._config()
        principal = self._authenticate(header, config)
        client = self.websocket.client
        identity = principal.limit_identity(client.host if client else None)
        await self.limiter.check_request(identity)
        template = SpeechInput(
            text=_PROBE_TEXT, model=config.model, voice=config.voice,
            audio_format=AudioFormat(config.response_format), speed=config.speed,
            sample_rate_hz=config.sample_rate, options=config.options,
            instructions=config.instructions, word_times=config.timestamps == "word",
        )
        probe = await asyncio.to_thread(self.service.plan, template)  # bad config: 4400/4404
        slot = await self.limiter.acquire_stream(identity)
        try:
            await self._send_json({
                "type": "ready", "model": probe.engine.name, "voice": probe.voice.id,
                "response_format": config.response_format,
                "sample_rate": probe.sample_rate_hz, "audio": config.audio,
            })
            await self._converse(template, identity, config)
        finally:
            await asyncio.shield(slot.release())

    # --- connection set-up ----------------------------------------------------------

    def _check_origin(self) -> None:
        """A browser page may only connect from this server's own origin or an allowed one
        (a WebSocket is not covered by CORS); clients that send no Origin are not browsers."""
        origin = self.websocket.headers.get("origin")
        if origin is None or origin in self.settings.ws_allowed_origins:
            return
        if urlsplit(origin).netloc.lower() != self.websocket.headers.get("host", "").lower():
            raise ProtocolViolation(f"origin {origin[:80]!r} is not allowed", POLICY_VIOLATION)

    async def _config(self) -> StreamConfig:
        try:
            message = await asyncio.wait_for(self._receive(), self.settings.ws_auth_timeout_s)
        except TimeoutError:
            raise ProtocolViolation("no config message in time", POLICY_VIOLATION) from None
        if not isinstance(message, StreamConfig):
            raise InvalidRequest("the first message must be {\"type\": \"config\", ...}",
                                 param="type")
        return message

    def _authenticate(self, header: str | None, config: StreamConfig) -> Principal:
        if header is None and config.token is not None:
            header = f"Bearer {config.token}"
        principal = self.authenticator.authenticate(header)
        self.authenticator.require(principal, SCOPE_SPEECH)
        return principal

    # --- the two tasks --------------------------------------------------------------

    async def _converse(self, template: SpeechInput, identity: str,
                        config: StreamConfig) -> None:
        pieces: asyncio.Queue[str | None] = asyncio.Queue(self.settings.ws_max_pending_pieces)
        reader = asyncio.create_task(self._read(pieces))
        speaker = asyncio.create_task(self._speak(pieces, template, identity, config))
        try:
            done, _ = await asyncio.wait({reader, speaker},
                                         return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raise the first failure
            await speaker  # the reader ended cleanly (close): finish speaking
        finally:
            for task in (reader, speaker):
                task.cancel()
            await asyncio.gather(reader, speaker, return_exceptions=True)

    async def _read(self, pieces: asyncio.Queue[str | None]) -> None:
        loop = asyncio.get_running_loop()
        text = TextStream(max_chars=self.settings.max_segment_chars,
                          stall_s=self.settings.ws_stall_s)
        while True:
            deadline = text.stall_deadline()
            timeout = (self.settings.ws_idle_timeout_s if deadline is None
                       else max(0.0, deadline - loop.time()))
            try:
                message = await asyncio.wait_for(self._receive(), timeout)
            except TimeoutError:
                if deadline is None:
                    raise ProtocolViolation("no message within the idle timeout",
                                            POLICY_VIOLATION) from None
                ready = text.on_stall(loop.time())
            else:
                if isinstance(message, TextFragment):
                    ready = text.add(message.text, loop.time())
                elif isinstance(message, Flush):
                    ready = text.flush()
                elif isinstance(message, Close):
                    for piece in text.flush():
                        await pieces.put(piece)
                    await pieces.put(None)
                    return
                else:
                    raise InvalidRequest("config may only be sent once", param="type")
            for piece in ready:
                await pieces.put(piece)  # blocks when full: the client is paused

    async def _speak(self, pieces: asyncio.Queue[str | None], template: SpeechInput,
                     identity: str, config: StreamConfig) -> None:
        timeout_s = self.settings.request_timeout_s or None
        pause_ms = round(self.settings.sentence_silence_ms)
        while (piece := await pieces.get()) is not None:
            received_at_s = time.perf_counter()
            await self.limiter.check_characters(identity, len(piece))
            # Every piece after the first starts with the pause between sentences.
            stream = await self.service.speak(
                replace(template, text=piece, leading_pause_ms=pause_ms if self.audio_s else 0),
                first_audio_timeout_s=timeout_s, received_at_s=received_at_s,
                transport="websocket",
            )
            job = stream.job
            timed = config.timestamps == "word"
            try:
                async for data in stream:
                    await self._send_audio(data, config)
                    if timed and (words := stream.words.take_new()):
                        await self._send_json(word_alignment(words, self.audio_s))
            finally:
                await stream.aclose()
            self.input_chars += job.input_chars
            if timed and (words := stream.words.take_new()):
                await self._send_json(word_alignment(words, self.audio_s))
            self.audio_s += stream.stats.audio_s
            await self._send_json({"type": "segment", "text": piece,
                                   "audio_seconds": round(stream.stats.audio_s, 3)})
        await self._send_json({"type": "done", "usage": {
            "input_characters": self.input_chars,
            "output_audio_seconds": round(self.audio_s, 3)}})

    # --- messages -------------------------------------------------------------------

    async def _receive(self) -> StreamConfig | TextFragment | Flush | Close:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise _ClientGone
        self._count_message()
        if message.get("text") is None:
            raise ProtocolViolation("binary messages are not accepted; send JSON text",
                                    UNSUPPORTED_DATA)
        raw: str = message["text"]
        # (uvicorn refuses bigger frames itself: server.py sets its ws_max_size)
        limit = self.settings.ws_max_message_bytes
        if len(raw) > limit or len(raw.encode("utf-8")) > limit:
            raise ProtocolViolation("message too big", MESSAGE_TOO_BIG)
        try:
            data = json.loads(raw)
        except ValueError:
            raise ProtocolViolation("message is not valid JSON", INVALID_PAYLOAD) from None
        try:
            return CLIENT_MESSAGE.validate_python(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(part) for part in first.get("loc", ())) or None
            raise InvalidRequest(f"{param}: {first.get('msg', 'invalid value')}"
                                 if param else "invalid message", param=param) from None

    def _count_message(self) -> None:
        now = time.monotonic()
        self._received.append(now)
        while self._received and self._received[0] <= now - 1.0:
            self._received.popleft()
        if len(self._received) > self.settings.ws_max_messages_per_s:
            raise ProtocolViolation(
                f"more than {self.settings.ws_max_messages_per_s} messages per second",
                POLICY_VIOLATION)

    async def _send_audio(self, data: bytes, config: StreamConfig) -> None:
        if config.audio == "binary":
            await self._send(self.websocket.send_bytes(data))
        else:
            await self._send_json({"type": "audio",
                                   "audio": base64.b64encode(data).decode("ascii")})

    async def _send_json(self, message: dict[str, Any]) -> None:
        await self._send(self.websocket.send_text(json.dumps(message)))

    async def _send(self, sending: Any) -> None:
        try:
            await asyncio.wait_for(sending, self.settings.ws_send_timeout_s)
        except TimeoutError:
            raise ProtocolViolation("the client does not read its audio",
                                    POLICY_VIOLATION) from None
        except (OSError, RuntimeError, WebSocketDisconnect) as exc:  # the connection broke
            raise _ClientGone from exc
