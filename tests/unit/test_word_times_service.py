"""Word times of the OUTPUT audio from SpeechService streams (issue 21): Piper's alignment
shifted by the joiner's trims and pauses; estimates (marked) for engines and cache hits
without one."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.audio_tools import decode_audio
from tests.conftest import running_service
from voxserve.cache.base import CachedSegment
from voxserve.cache.memory import MemoryCache
from voxserve.engines.catalog import EngineCatalog
from voxserve.scheduler import Scheduler
from voxserve.service.speech import SpeechService
from voxserve.service.speech_job import SpeechInput
from voxserve.service.word_times import WordTime
from voxserve.settings import Settings
from voxserve.types import AudioFormat

TEXT = "I paid $25.50 for it. Then, on the third day, we walked home slowly."


def _speak(settings: Settings, catalog: EngineCatalog, text: str, model: str = "piper",
           sample_rate_hz: int | None = None, speed: float = 1.0,
           ) -> tuple[list[WordTime], np.ndarray, int]:
    async def run() -> tuple[list[WordTime], bytes]:
        async with running_service(settings, catalog) as service:
            stream = await service.speak(SpeechInput(
                text=text, model=model, audio_format=AudioFormat.WAV,
                sample_rate_hz=sample_rate_hz, speed=speed, word_times=True))
            data = await stream.read_all()
            return list(stream.words.words), data

    words, data = asyncio.run(run())
    samples, rate = decode_audio(data)
    return words, samples, rate


def _check_shape(words: list[WordTime], text: str, duration_s: float) -> None:
    previous_start = previous_end = 0.0
    for word in words:
        assert 0.0 <= word.start_s <= word.end_s <= duration_s + 1e-3
        assert word.start_s >= previous_start and word.end_s >= previous_end
        assert word.end_s > word.start_s  # every word takes time
        previous_start, previous_end = word.start_s, word.end_s
        assert text[word.source_start:word.source_end] == word.word


def test_piper_words_cover_the_text_are_monotonic_and_inside_the_audio(
    settings: Settings, catalog: EngineCatalog
) -> None:
    words, samples, rate = _speak(settings, catalog, TEXT)
    assert [w.word.strip(".,") for w in words] == [
        "I", "paid", "$25.50", "for", "it", "Then", "on", "the", "third", "day", "we",
        "walked", "home", "slowly"]
    assert not any(w.estimated for w in words)
    _check_shape(words, TEXT, len(samples) / rate)
    # "$25.50" says several spoken words: it is one of the longest
    money = next(w for w in words if w.word.startswith("$"))
    assert money.end_s - money.start_s > 1.0


def test_words_sit_on_the_audio_they_name(settings: Settings, catalog: EngineCatalog) -> None:
    """Where a word is, the output is loud; the pause between the sentences is between
    the first sentence's last word and the second's first."""
    words, samples, rate = _speak(settings, catalog, "Good morning. Quite right.")
    _check_shape(words, "Good morning. Quite right.", len(samples) / rate)
    for word in words:
        part = samples[int(word.start_s * rate):int(word.end_s * rate)]
        assert np.sqrt(np.mean(part ** 2)) > 0.02, word
    gap = words[2].start_s - words[1].end_s
    assert gap >= settings.sentence_silence_ms / 1000 * 0.8
    quiet = samples[int((words[1].end_s + 0.03) * rate):int((words[2].start_s - 0.03) * rate)]
    assert np.abs(quiet).max() < 0.05


def test_times_are_output_seconds_whatever_the_rate_and_speed(
    settings: Settings, catalog: EngineCatalog
) -> None:
    native, samples, rate = _speak(settings, catalog, "Seven green apples.")
    resampled, samples_8k, rate_8k = _speak(settings, catalog, "Seven green apples.",
                                            sample_rate_hz=8000)
    assert rate_8k == 8000 != rate
    _check_shape(resampled, "Seven green apples.", len(samples_8k) / rate_8k)
    for word in resampled:  # seconds, not samples: each word is on its speech at 8 kHz
        part = samples_8k[int(word.start_s * rate_8k):int(word.end_s * rate_8k)]
        assert np.sqrt(np.mean(part ** 2)) > 0.02, word
    assert resampled[-1].end_s == pytest.approx(native[-1].end_s, abs=0.15)
    fast, fast_samples, _ = _speak(settings, catalog, "Seven green apples.", speed=2.0)
    # Piper's speed is its length scale, in the alignment already: the words end with the
    # (shorter) speech, within the trim margin and a frame of the audio's end
    assert fast[-1].end_s < 0.75 * native[-1].end_s
    for words, audio in ((fast, fast_samples), (native, samples)):
        assert len(audio) / rate - 0.05 <= words[-1].end_s <= len(audio) / rate


def test_engine_without_alignment_gets_marked_estimates(
    settings: Settings, catalog: EngineCatalog
) -> None:
    text = "One two three. Four five."
    words, samples, rate = _speak(settings, catalog, text, model="fake")
    assert [w.word for w in words] == ["One", "two", "three.", "Four", "five."]
    assert all(w.estimated for w in words)
    _check_shape(words, text, len(samples) / rate)


@pytest.mark.parametrize("stored", [False, True])
def test_cache_hits_keep_the_alignment_in_memory_else_give_marked_estimates(
    settings: Settings, catalog: EngineCatalog, stored: bool
) -> None:
    """The memory cache keeps a segment's alignment; a value that was stored as bytes
    (disk, Redis) has none: its words are estimated, and marked."""

    class EncodingCache(MemoryCache):
        async def put(self, key: str, value: CachedSegment) -> None:
            await super().put(key, CachedSegment.decode(value.encode()))

    async def run() -> list[list[WordTime]]:
        scheduler = Scheduler(settings)
        scheduler.start(catalog.replicas())
        cache = EncodingCache(10**8) if stored else MemoryCache(10**8)
        try:
            service = SpeechService(settings, catalog, scheduler, cache=cache)
            runs = []
            for _ in range(2):
                stream = await service.speak(SpeechInput(
                    text="A cached sentence here.", model="piper",
                    audio_format=AudioFormat.WAV, word_times=True))
                await stream.read_all()
                runs.append(list(stream.words.words))
            return runs
        finally:
            await scheduler.stop()

    first, second = asyncio.run(run())
    assert [w.word for w in second] == [w.word for w in first]
    assert not any(w.estimated for w in first)  # a miss: the engine's own alignment
    if not stored:
        assert second == first
        return
    assert all(w.estimated for w in second)
    # the estimate spans the same speech
    assert second[0].start_s == pytest.approx(first[0].start_s, abs=0.1)
    assert second[-1].end_s == pytest.approx(first[-1].end_s, abs=0.1)


def test_ssml_words_are_the_inputs_own(settings: Settings, catalog: EngineCatalog) -> None:
    text = '<speak>It costs <say-as interpret-as="characters">ABC</say-as> now.</speak>'
    words, samples, rate = _speak(settings, catalog, text)
    assert [w.word.strip(".") for w in words] == ["It", "costs", "ABC", "now"]
    _check_shape(words, text, len(samples) / rate)
