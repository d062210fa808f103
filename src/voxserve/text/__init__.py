"""Text pipeline: raw user input -> normalized, speakable segments for a TTS engine."""

from voxserve.text.normalize import normalize_text
from voxserve.text.segment import prepare_segments, split_segments

__all__ = ["normalize_text", "prepare_segments", "split_segments"]
