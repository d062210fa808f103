"""Audio layer between the engines (mono float32 samples) and the HTTP response (bytes).

* :mod:`~voxserve.audio.resample`: streaming sample-rate conversion.
* :mod:`~voxserve.audio.join`: click-free joining of sentence audio with even pauses.
* :mod:`~voxserve.audio.encode`: streaming encoders for every :class:`~voxserve.types.AudioFormat`.
* :mod:`~voxserve.audio.formats`: each format's MIME type and file extension (one table).
"""

from voxserve.audio.encode import (
    StreamingEncoder,
    create_encoder,
    pcm16,
    pcm16_samples,
    wav_header,
)
from voxserve.audio.formats import (
    content_type_for,
    content_type_for_extension,
    content_type_for_file,
    extension_for,
)
from voxserve.audio.join import Placement, SegmentJoiner
from voxserve.audio.resample import StreamResampler, as_mono_float32

__all__ = [
    "Placement",
    "SegmentJoiner",
    "StreamResampler",
    "StreamingEncoder",
    "as_mono_float32",
    "content_type_for",
    "content_type_for_extension",
    "content_type_for_file",
    "create_encoder",
    "extension_for",
    "pcm16",
    "pcm16_samples",
    "wav_header",
]
