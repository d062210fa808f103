"""Engines: one small class per model family behind the :class:`Engine` protocol."""

from voxserve.engines.base import Engine, EngineOptions, SynthesisParams, create_engine

__all__ = ["Engine", "EngineOptions", "SynthesisParams", "create_engine"]
