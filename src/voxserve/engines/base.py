"""The engine contract and the registry of engine families.

An engine turns one segment (a sentence) into typed audio chunks. It never sees HTTP,
never encodes audio, and never downloads anything. Model libraries (onnxruntime, torch)
are imported only by the engine modules, which the registry imports lazily, so importing
this module (as the API layer does) pulls in none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from voxserve.errors import ConfigurationError, InvalidOption
from voxserve.types import AudioChunk, EngineCapabilities, VoiceInfo

if TYPE_CHECKING:
    from voxserve.settings import Settings


class EngineOptions(BaseModel):
    """Engine-specific per-request options (the request's ``options`` field).

    Frozen and closed: an unknown key is a client error, not something silently ignored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class SynthesisParams:
    """Per-request synthesis settings, validated before they reach an engine."""

    speed: float = 1.0
    options: EngineOptions = field(default_factory=EngineOptions)
    #: Free-text voice direction (OpenAI ``instructions``); engines that cannot use it ignore it.
    instructions: str | None = None


@runtime_checkable
class Engine(Protocol):
    """What every model family implements."""

    name: str
    capabilities: EngineCapabilities
    options_model: type[EngineOptions]

    def load(self) -> None:
        """Create runtimes/sessions once and warm them up. Raises ``EngineLoadError``."""

    def voices(self) -> Sequence[VoiceInfo]:
        """The voices this engine can speak with (available after ``load``)."""

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> Iterator[AudioChunk]:
        """Speak one segment. Thread-safe; blocking; raises ``VoiceNotFound``/``EngineFailed``."""

    def close(self) -> None:
        """Release runtimes."""


@dataclass(frozen=True, slots=True)
class SegmentRequest:
    """One segment to synthesize, as handed to a batching engine."""

    text: str
    voice_id: str
    params: SynthesisParams


@runtime_checkable
class BatchingEngine(Engine, Protocol):
    """An engine that gains from batching (``capabilities.batching_gain``) also has these."""

    def batch_key(self, voice_id: str, params: SynthesisParams) -> Hashable:
        """Segments with equal keys may share a batch (e.g. same sampling settings)."""

    def synthesize_batch(self, requests: Sequence[SegmentRequest]) -> list[list[AudioChunk]]:
        """Speak several segments in one pass; result ``i`` belongs to ``requests[i]``."""


@runtime_checkable
class InterruptibleEngine(Engine, Protocol):
    """An engine whose running synthesis another thread can stop (the scheduler stops an
    all-core run that has delivered nothing yet when a second segment arrives; see
    ``scheduler/layout.py``)."""

    def interrupt(self) -> None:
        """Stop the synthesis running on this instance as soon as the runtime allows; that
        ``synthesize`` call then raises. Thread-safe; a no-op when nothing runs; later
        calls run normally."""


def parse_options(engine: Engine, options: Mapping[str, Any]) -> EngineOptions:
    """Validate a request's raw ``options`` against the engine's options model."""
    try:
        return engine.options_model.model_validate(dict(options))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidOption(
            f"invalid option for engine '{engine.name}': {where}: {first['msg']}",
            param=f"options.{where}" if where else "options",
        ) from None


#: Engine family name -> "module:Class". Imported only when that engine is enabled.
ENGINE_REGISTRY: dict[str, str] = {
    "piper": "voxserve.engines.piper:PiperEngine",
    "fake": "voxserve.engines.fake:FakeEngine",
    "fake-batch": "voxserve.engines.fake:FakeBatchEngine",
    "maya1": "voxserve.engines.maya1:Maya1Engine",
}


def register_engine(name: str, target: str) -> None:
    """Add an engine family (for plug-ins); ``target`` is ``"package.module:Class"``."""
    ENGINE_REGISTRY[name] = target


def create_engine(name: str, settings: Settings) -> Engine:
    """Instantiate (but do not load) the engine registered under ``name``."""
    target = ENGINE_REGISTRY.get(name)
    if target is None:
        known = ", ".join(sorted(ENGINE_REGISTRY))
        raise ConfigurationError(f"unknown engine '{name}' (known: {known})")
    module_name, _, class_name = target.partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class(settings)
    return engine
