"""Voice previews for people: a short clip per voice, synthesized once per model version.

``GET /v1/voices/{id}/preview`` and the web UI's play button use it. The clip is keyed by
the voice's resolved id and version (``amy@2``, its file fingerprint), so activating another
version makes a new clip, and the old one ages out of the small LRU.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from voxserve.scheduler import Priority
from voxserve.service.speech import SpeechService
from voxserve.service.speech_job import SpeechInput
from voxserve.settings import Settings
from voxserve.types import AudioFormat

_MAX_CLIPS = 64


@dataclass(frozen=True, slots=True)
class Preview:
    data: bytes
    content_type: str
    #: The voice (and version) that spoke it: ``amy@2``.
    voice_id: str
    version: str


class VoicePreviews:
    """Synthesizes and keeps each voice version's preview clip."""

    def __init__(self, settings: Settings, speech: SpeechService) -> None:
        self._settings = settings
        self._speech = speech
        self._clips: OrderedDict[tuple[str, str, str, str], Preview] = OrderedDict()
        self._locks: dict[tuple[str, str, str, str], asyncio.Lock] = {}

    async def get(self, voice: str, audio_format: AudioFormat = AudioFormat.MP3) -> Preview:
        """The clip of ``voice`` (an id, alias or ``model@version``); ``VoiceNotFound``…"""
        job = await asyncio.to_thread(self._speech.plan, SpeechInput(
            text=self._settings.model_preview_text, voice=voice, audio_format=audio_format))
        key = (job.engine.name, job.voice.id, job.voice.version, audio_format.value)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            clip = self._clips.get(key)
            if clip is None:
                stream = await self._speech.open(job, Priority.INTERACTIVE)
                clip = Preview(await stream.read_all(), stream.content_type, job.voice.id,
                               job.voice.version)
                self._clips[key] = clip
                while len(self._clips) > _MAX_CLIPS:
                    old, _ = self._clips.popitem(last=False)
                    self._locks.pop(old, None)
            self._clips.move_to_end(key)
        return clip

    def cached(self) -> int:
        return len(self._clips)
