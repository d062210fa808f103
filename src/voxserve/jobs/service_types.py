"""What a client asks for when creating a project (besides the document)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxserve.types import AudioFormat


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    name: str | None = None
    model: str | None = None
    voice: str | None = None
    audio_format: AudioFormat | None = None
    speed: float = 1.0
    options: Mapping[str, Any] | None = None
    webhook_url: str | None = None
    owner: str | None = None
