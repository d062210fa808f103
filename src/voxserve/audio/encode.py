"""Streaming encoders: mono float32 samples in, bytes for the HTTP response out.

Each encoder turns chunks of samples into bytes as soon as the codec and container emit
them, so a client can start playing before synthesis ends. ``pcm`` and ``wav`` are plain
numpy; ``mp3`` is LAME itself (lameenc); the other compressed formats are encoded and
muxed by FFmpeg through PyAV into a write-only, non-seekable in-memory sink that every call
drains.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, cast

import av
import lameenc
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream

from voxserve.audio.formats import content_type_for
from voxserve.audio.resample import as_mono_float32, mono_frame
from voxserve.types import AudioFormat, FloatSamples

#: Size field value meaning "unknown length, read to the end" in a streamed RIFF/WAVE file.
_WAV_UNKNOWN_SIZE = 0xFFFFFFFF

#: Rate used when a codec cannot take the requested one (Opus: only 8/12/16/24/48 kHz).
_FALLBACK_RATE_HZ = 48_000


class StreamingEncoder(Protocol):
    """Encodes one mono stream; create one per response with :func:`create_encoder`."""

    #: MIME type for the HTTP response.
    content_type: str

    def encode(self, samples: FloatSamples) -> bytes:
        """Encode mono float32 samples at the encoder's rate; returns the bytes ready now."""
        ...

    def finish(self) -> bytes:
        """Flush codec and container; returns the remaining bytes. The encoder is then spent."""
        ...


def create_encoder(audio_format: AudioFormat, sample_rate_hz: int) -> StreamingEncoder:
    """A fresh streaming encoder for mono audio at ``sample_rate_hz``."""
    if sample_rate_hz <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate_hz}")
    if audio_format == AudioFormat.PCM:
        return _PcmEncoder()
    if audio_format == AudioFormat.WAV:
        return _WavEncoder(sample_rate_hz)
    if audio_format == AudioFormat.MP3:
        return _LameEncoder(sample_rate_hz)
    return _PyAVEncoder(_CODECS[audio_format], content_type_for(audio_format), sample_rate_hz)


def _clipped(samples: FloatSamples) -> FloatSamples:
    return np.clip(as_mono_float32(samples), -1.0, 1.0)


#: Full scale of 16-bit PCM: float 1.0 is stored as 32767.
_PCM16_SCALE = 32767.0


def pcm16(samples: FloatSamples) -> npt.NDArray[np.int16]:
    """Float samples as 16-bit little-endian PCM: clip to [-1, 1], scale by 32767, round
    (how every voxserve output quantizes)."""
    pcm: npt.NDArray[np.int16] = np.rint(_clipped(samples) * _PCM16_SCALE).astype("<i2")
    return pcm


def pcm16_samples(pcm_s16le: bytes) -> FloatSamples:
    """16-bit little-endian PCM back to float32 samples: the inverse of :func:`pcm16`
    (divided by 32767, so quantized audio reads back sample-exact)."""
    samples: FloatSamples = np.frombuffer(pcm_s16le, "<i2").astype(np.float32)
    samples /= np.float32(_PCM16_SCALE)
    return samples


class _PcmEncoder:
    """Raw 16-bit little-endian mono PCM: clip to [-1, 1], scale by 32767, round."""

    content_type = content_type_for(AudioFormat.PCM)

    def __init__(self) -> None:
        self._finished = False

    def encode(self, samples: FloatSamples) -> bytes:
        _ensure_open(self._finished)
        return pcm16(samples).tobytes()

    def finish(self) -> bytes:
        _ensure_open(self._finished)
        self._finished = True
        return b""


class _WavEncoder(_PcmEncoder):
    """PCM behind a 44-byte RIFF/WAVE header whose sizes say "unknown length"."""

    content_type = content_type_for(AudioFormat.WAV)

    def __init__(self, sample_rate_hz: int) -> None:
        super().__init__()
        self._header = wav_header(sample_rate_hz)

    def encode(self, samples: FloatSamples) -> bytes:
        return self._take_header() + super().encode(samples)

    def finish(self) -> bytes:
        return self._take_header() + super().finish()

    def _take_header(self) -> bytes:
        header, self._header = self._header, b""
        return header


def wav_header(sample_rate_hz: int, data_bytes: int | None = None) -> bytes:
    """44-byte RIFF/WAVE header of mono 16-bit PCM: with the real sizes when ``data_bytes``
    is known, else sizes that say "unknown length, read to the end" (a stream)."""
    channels, bytes_per_sample = 1, 2
    riff_size = _WAV_UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    data_size = _WAV_UNKNOWN_SIZE if data_bytes is None else data_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", riff_size, b"WAVE",
        b"fmt ", 16, 1, channels, sample_rate_hz,  # 16-byte fmt chunk, format 1 = PCM
        sample_rate_hz * channels * bytes_per_sample,  # byte rate
        channels * bytes_per_sample, 8 * bytes_per_sample,  # block align, bits per sample
        b"data", data_size,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _CodecSpec:
    """How one compressed format is produced with FFmpeg."""

    codec: str
    muxer: str
    #: Input sample format of the codec (PyAV converts the float frames to it).
    sample_format: str
    bit_rate: int | None
    muxer_options: Mapping[str, str]


_CODECS: dict[AudioFormat, _CodecSpec] = {
    # Ogg pages of at most 100 ms, so audio leaves the muxer while the stream goes on.
    AudioFormat.OPUS: _CodecSpec("libopus", "ogg", "flt", 32_000, {"page_duration": "100000"}),
    # No PADDING block: it is only useful to a seekable file whose header can be rewritten.
    AudioFormat.FLAC: _CodecSpec("flac", "flac", "s16", None, {"metadata_header_padding": "0"}),
    AudioFormat.AAC: _CodecSpec("aac", "adts", "fltp", 64_000, {}),
}


#: Rates an MP3 stream can have (MPEG-1, 2 and 2.5); LAME resamples any other input rate.
_MP3_RATES_HZ = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
_MP3_BIT_RATE_KBPS = 64
#: LAME's algorithm quality 7, its documented "fast, ok quality" setting (psychoacoustics
#: without noise shaping), instead of its default 3: on Piper speech at 64 kbit/s mono it
#: encodes about 1.7x as fast with no loss in SNR (25.3 vs 24.2 dB).
_MP3_QUALITY = 7


class _LameEncoder:
    """CBR MP3 straight from LAME (lameenc), at the input rate: a plain run of MP3 frames,
    no ID3 tag and no Xing frame (a non-seekable sink could not get one filled in anyway).

    Not FFmpeg's libmp3lame wrapper: the LAME built into lameenc encodes the same settings
    2.4x as cheaply (2.3 vs 5.5 ms of CPU per audio second on Piper speech, the same
    25.3 dB SNR), and MP3 encoding is the largest cost of a document conversion after the
    engine itself.
    """

    content_type = content_type_for(AudioFormat.MP3)

    def __init__(self, sample_rate_hz: int) -> None:
        self._finished = False
        #: lameenc sets LAME up on the first samples; a stream without any has nothing to flush.
        self._started = False
        self._lame = lameenc.Encoder()
        self._lame.set_channels(1)
        self._lame.set_in_sample_rate(sample_rate_hz)
        if sample_rate_hz in _MP3_RATES_HZ:
            self._lame.set_out_sample_rate(sample_rate_hz)
        self._lame.set_bit_rate(_MP3_BIT_RATE_KBPS)
        self._lame.set_quality(_MP3_QUALITY)

    def encode(self, samples: FloatSamples) -> bytes:
        _ensure_open(self._finished)
        pcm = pcm16(samples)
        if not pcm.size:
            return b""
        self._started = True
        return bytes(self._lame.encode(pcm.tobytes()))

    def finish(self) -> bytes:
        _ensure_open(self._finished)
        self._finished = True
        return bytes(self._lame.flush()) if self._started else b""


class _ByteSink:
    """Write-only, non-seekable file object for the muxer; the encoder drains it each call."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def drain(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


class _PyAVEncoder:
    """One FFmpeg codec context and muxer kept open for the whole stream.

    PyAV's encode path converts the float frames to the codec's sample format and rate
    (libswresample) and cuts them to the codec's frame size; ``flush_packets`` makes the
    muxer hand every packet to the sink at once instead of holding it in its I/O buffer.
    """

    def __init__(self, spec: _CodecSpec, content_type: str, sample_rate_hz: int) -> None:
        self.content_type = content_type
        self._sample_rate_hz = sample_rate_hz
        self._samples_in = 0
        self._finished = False
        self._sink = _ByteSink()
        self._container = av.open(
            self._sink,
            mode="w",
            format=spec.muxer,
            container_options={"flush_packets": "1", **spec.muxer_options},
        )
        rates = av.Codec(spec.codec, "w").audio_rates
        codec_rate = sample_rate_hz if not rates or sample_rate_hz in rates else _FALLBACK_RATE_HZ
        self._stream = cast(AudioStream, self._container.add_stream(spec.codec, rate=codec_rate))
        self._stream.layout = "mono"
        self._stream.format = spec.sample_format
        if spec.bit_rate is not None:
            self._stream.bit_rate = spec.bit_rate
        self._container.start_encoding()  # open the codec and write the header now

    def encode(self, samples: FloatSamples) -> bytes:
        _ensure_open(self._finished)
        chunk = _clipped(samples)
        if chunk.size:
            frame = mono_frame(chunk, self._sample_rate_hz, self._samples_in)
            self._samples_in += chunk.size
            self._container.mux(self._stream.encode(frame))
        return self._sink.drain()

    def finish(self) -> bytes:
        _ensure_open(self._finished)
        self._finished = True
        self._container.mux(self._stream.encode(None))
        self._container.close()
        return self._sink.drain()


def _ensure_open(finished: bool) -> None:
    if finished:
        raise RuntimeError("encoder already finished")
