"""Engines that host repository model versions (hot load and unload, no restart).

An engine family whose voices are files (Piper) implements these besides :class:`Engine`;
the catalog calls them to load a version under a key of its own (``<model>@<version>``),
which requests then name as their voice id, and to drop it once no request uses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from voxserve.models import ModelManifest
from voxserve.types import VoiceInfo


@runtime_checkable
class ModelHost(Protocol):
    def check_model(self, directory: Path, manifest: ModelManifest) -> None:
        """Raise ``InvalidModel`` unless the files would load (a trial load, nothing kept)."""

    def add_model(self, key: str, directory: Path, manifest: ModelManifest) -> VoiceInfo:
        """Load and warm up the version as voice ``key``; raises ``EngineLoadError``."""

    def remove_model(self, key: str) -> None:
        """Forget voice ``key`` and release its runtime (no request may still use it)."""
