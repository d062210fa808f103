"""Where each word of the user's input is in the text an engine reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpokenWord:
    """One word of the user's input and the part of a segment's spoken text that says it."""
    source_start: int  # char offsets in the user's whole input
    source_end: int
    spoken_start: int  # char offsets in Segment.text (what the engine reads)
    spoken_end: int
