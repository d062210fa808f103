"""The loaded engines and the names clients use for them.

Resolves a request's ``model`` and ``voice`` (including OpenAI's names such as ``tts-1``
and ``alloy``, mapped by configuration) to an engine and one of its voice ids.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from voxserve.engines.base import Engine, create_engine
from voxserve.engines.hosted import HostedModels, Lease
from voxserve.errors import ModelNotFound, NotReady, VoiceNotFound
from voxserve.models.factory import create_model_repository
from voxserve.models.mlflow_source import MlflowRegistry
from voxserve.settings import Settings
from voxserve.types import VoiceInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ``GET /v1/models`` lists: an engine, or an alias that points at one."""

    id: str
    engine: str


class EngineCatalog:
    """Creates and loads the configured engines and answers name look-ups."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engines: dict[str, Engine] = {}
        self._replicas: dict[str, list[Engine]] = {}
        self._wide: dict[str, Engine] = {}
        self._voices: dict[str, list[VoiceInfo]] = {}
        self._ready = threading.Event()
        self.load_error: str | None = None
        #: Versioned models of the repository, loaded into the engines that host them.
        self.hosted = HostedModels(
            create_model_repository(settings),
            memory_budget_bytes=settings.model_memory_bytes,
            registry=(lambda: MlflowRegistry(settings.mlflow_tracking_uri))
            if settings.mlflow_tracking_uri else None,
        )

    # --- lifecycle ------------------------------------------------------------------

    def load(self) -> None:
        """Create, load and warm up every configured engine and its replicas (blocking)."""
        try:
            for name in self._settings.engines:
                replicas = []
                for _ in range(self._settings.replicas_for(name)):
                    engine = create_engine(name, self._settings)
                    engine.load()
                    replicas.append(engine)
                self._replicas[name] = replicas
                wide_threads = self._settings.wide_threads_for(name)
                if wide_threads:  # the all-core instance (scheduler/layout.py)
                    wide = create_engine(name, self._settings.model_copy(
                        update={"piper_intra_op_threads": wide_threads}))
                    wide.load()
                    self._wide[name] = wide
                self._engines[name] = replicas[0]
                self._voices[name] = list(replicas[0].voices())
            # Repository versions load into every instance, the all-core one included.
            self.hosted.start({name: [*replicas, *([self._wide[name]] if name in self._wide
                                                   else [])]
                               for name, replicas in self._replicas.items()}, self._voices)
        except Exception as exc:
            self.load_error = str(exc)
            logger.exception("engine loading failed")
            raise
        self._ready.set()

    def close(self) -> None:
        self.hosted.close()
        for replicas in self._replicas.values():
            for engine in replicas:
                engine.close()
        for engine in self._wide.values():
            engine.close()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    # --- look-ups -------------------------------------------------------------------

    def engine(self, name: str) -> Engine:
        self._require_ready()
        return self._engines[name]

    def engines(self) -> list[Engine]:
        return list(self._engines.values())

    def replicas(self) -> dict[str, list[Engine]]:
        """Every loaded instance of every engine (the scheduler runs one thread per instance)."""
        return {name: list(replicas) for name, replicas in self._replicas.items()}

    def wide(self) -> dict[str, Engine]:
        """The all-core instance of each engine that has one (adaptive threads)."""
        return dict(self._wide)

    def models(self) -> list[ModelInfo]:
        listed = [ModelInfo(id=name, engine=name) for name in self._engines]
        listed += [
            ModelInfo(id=alias, engine=target)
            for alias, target in self._settings.model_aliases.items()
            if target in self._engines
        ]
        return listed

    def voices(self) -> list[VoiceInfo]:
        """Every voice clients can name: the engines' own, each repository model (its active
        version, under the model's name) in place of an engine voice of the same name."""
        listed: dict[str, VoiceInfo] = {
            voice.id: voice for voices in self._voices.values() for voice in voices
        }
        for model in self.hosted.served_models():
            voice = self.hosted.listed_voice(model)
            if voice is not None:
                listed[model] = voice
        return list(listed.values())

    def acquire(self, voice: VoiceInfo) -> Lease:
        """Hold the model version of a resolved voice while a request uses it."""
        return self.hosted.acquire(voice)

    def resolve(self, model: str | None, voice: str | None) -> tuple[Engine, VoiceInfo]:
        """A request's (model, voice) -> (engine, voice). Raises ModelNotFound/VoiceNotFound."""
        self._require_ready()
        if model is None and voice is not None:
            named = self._settings.voice_aliases.get(voice, voice)
            owner = self.hosted.engine_of(named) or self._engine_owning(named)
            model = owner or self._settings.default_model
        engine_name = self._engine_name(model or self._settings.default_model)
        voices = self._voices[engine_name]
        wanted = voice or self._default_voice_id(engine_name)
        wanted = self._settings.voice_aliases.get(wanted, wanted)
        hosted = self.hosted.resolve(wanted, engine_name)
        if hosted is not None:
            return self._engines[engine_name], hosted
        for info in voices:
            if wanted == info.id or wanted in info.aliases:
                return self._engines[engine_name], info
        known = ", ".join(v.id for v in voices)
        raise VoiceNotFound(
            f"model '{engine_name}' has no voice '{voice}' (voices: {known}; "
            "see GET /v1/voices)",
            param="voice",
        )

    def require_ready(self) -> None:
        """``NotReady`` until the engines are loaded."""
        self._require_ready()

    # --- internals ------------------------------------------------------------------

    def _require_ready(self) -> None:
        if not self.ready:
            raise NotReady("engines are still loading" if self.load_error is None
                           else f"engines failed to load: {self.load_error}")

    def _engine_name(self, model: str) -> str:
        name = self._settings.model_aliases.get(model, model)
        if name not in self._engines:
            known = ", ".join(m.id for m in self.models())
            raise ModelNotFound(f"unknown model '{model}' (models: {known})", param="model")
        return name

    def _engine_owning(self, voice: str) -> str | None:
        for engine_name, voices in self._voices.items():
            if any(voice == info.id or voice in info.aliases for info in voices):
                return engine_name
        return None

    def _default_voice_id(self, engine_name: str) -> str:
        voices = self._voices[engine_name]
        default = self._settings.default_voice
        if self.hosted.engine_of(default) == engine_name:
            return default
        if any(default == v.id or default in v.aliases for v in voices):
            return default
        return voices[0].id
