"""Repository model versions loaded into the engines: the version table, with leases.

Each loaded version is a voice of its engine under the key ``<model>@<version>`` (in every
replica). A request takes a :class:`Lease` on the version it resolved to and holds it to its
last byte; activating another version loads that one first, then switches the model's
pointer (new requests get it), and unloads the old version when its last lease is released.
So a request never changes voice half-way and never meets a half-loaded model. The engines'
own voices (the bundled joe voice, Piper files in the old flat layout) appear as read-only
versions (``bundled``, ``local``): they can be activated, never unloaded or removed.

Blocking (loads take seconds): call the admin methods off the event loop. One admin action
runs at a time; the table itself is guarded by a short lock.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from voxserve import metrics
from voxserve.engines.base import Engine
from voxserve.engines.hosting import ModelHost
from voxserve.errors import (
    ConfigurationError,
    EngineLoadError,
    InvalidModel,
    ModelConflict,
    ModelMemoryExceeded,
    ModelVersionNotFound,
)
from voxserve.models import (
    READ_ONLY_VERSIONS,
    ModelManifest,
    ModelRepository,
    Pointer,
    StoredVersion,
    version_sort_key,
)
from voxserve.models.mlflow_source import MlflowRegistry
from voxserve.models.mlflow_source import parse as parse_registry_uri
from voxserve.models.repository import guess_engine
from voxserve.types import VoiceInfo

logger = logging.getLogger(__name__)

KEY_SEPARATOR = "@"


class VersionState(StrEnum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    LOADED = "loaded"
    #: Loaded, no longer active, unloaded when the requests using it finish.
    DRAINING = "draining"
    FAILED = "failed"


@dataclass(slots=True)
class _Entry:
    """One hosted version's state (guarded by the table lock)."""

    model: str
    version: str
    engine: str
    state: VersionState = VersionState.UNLOADED
    voice: VoiceInfo | None = None
    leases: int = 0
    last_used_s: float = 0.0
    #: Wall-clock time of the last use (for people; ``last_used_s`` is the idle clock).
    last_used_at: float | None = None
    loaded_at_s: float | None = None
    load_s: float | None = None
    bytes: int = 0
    error: str | None = None
    unload_reason: str = ""

    @property
    def key(self) -> str:
        return f"{self.model}{KEY_SEPARATOR}{self.version}"


@dataclass(frozen=True, slots=True)
class VersionStatus:
    """One version as the admin listing shows it."""

    version: str
    state: str
    active: bool
    read_only: bool
    leases: int = 0
    bytes: int = 0
    load_s: float | None = None
    loaded_at_s: float | None = None
    last_used_s: float | None = None
    error: str | None = None
    source: str = ""
    created_at_s: float | None = None


@dataclass(frozen=True, slots=True)
class ModelStatus:
    model: str
    engine: str
    active: str | None
    #: The active version is loaded (or a read-only engine voice): requests are served.
    ready: bool
    language: str
    aliases: tuple[str, ...]
    description: str
    versions: tuple[VersionStatus, ...] = field(default_factory=tuple)


class Lease:
    """A request's hold on the version it started with; :meth:`release` is idempotent."""

    def __init__(self, voice: VoiceInfo, release: Callable[[], None] | None) -> None:
        self.voice = voice
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class HostedModels:
    """The repository's versions in the engines of one process (see the module doc)."""

    def __init__(
        self, repository: ModelRepository, *, memory_budget_bytes: int = 0,
        clock: Callable[[], float] = time.monotonic,
        registry: Callable[[], MlflowRegistry] | None = None,
    ) -> None:
        self.repository = repository
        #: The MLflow registry client, made when first needed (None: not configured).
        self._registry_factory = registry
        self._budget = memory_budget_bytes
        self._clock = clock
        self._replicas: dict[str, list[Engine]] = {}
        #: Read-only engine voices by model name: (engine, voice, version name).
        self._static: dict[str, tuple[str, VoiceInfo, str]] = {}
        self._entries: dict[str, _Entry] = {}
        #: Model -> the version new requests get (this process's view of the pointers).
        self._active: dict[str, str] = {}
        self._engine_of: dict[str, str] = {}
        #: Aliases from the manifests of active versions not loaded (resolved without I/O).
        self._manifest_aliases: dict[str, tuple[str, ...]] = {}
        #: The manifest of each model's last loaded (or tried) version, for the catalog.
        self._manifests: dict[str, ModelManifest] = {}
        self._lock = threading.Lock()
        self._admin = threading.RLock()

    # --- start-up -----------------------------------------------------------------------

    def start(self, replicas: Mapping[str, Sequence[Engine]],
              static_voices: Mapping[str, Sequence[VoiceInfo]]) -> None:
        """Note the engines and their own voices, then load every model's active version.
        A version that fails to load is marked failed (logged); it never stops start-up."""
        self._replicas = {name: list(engines) for name, engines in replicas.items()}
        for engine_name, voices in static_voices.items():
            origin = getattr(self._replicas[engine_name][0], "voice_origin", None)
            for voice in voices:
                version = origin(voice.id) if callable(origin) else "bundled"
                self._static[voice.id] = (engine_name, voice, version)
        try:
            models = self.repository.models()
        except Exception as exc:  # an unreachable repository: the engines' voices still serve
            logger.warning("model repository %s: not read at start-up: %s",
                           self.repository.describe(), exc)
            models = []
        for model in models:
            try:
                self._follow_pointer(model)
            except Exception as exc:  # logged, the model is shown as failed
                logger.warning("model %s: not served: %s", model, exc)

    def hosts(self, engine_name: str) -> bool:
        replicas = self._replicas.get(engine_name)
        return bool(replicas) and all(isinstance(e, ModelHost) for e in replicas or ())

    # --- request side -------------------------------------------------------------------

    def engine_of(self, name: str) -> str | None:
        """The engine of the model ``name`` (a model, ``model@version`` or an alias)."""
        model = self._model_name(name.split(KEY_SEPARATOR, 1)[0])
        return self._engine_of.get(model) if model else None

    def knows(self, name: str) -> bool:
        return self.engine_of(name) is not None

    def resolve(self, name: str, engine_name: str) -> VoiceInfo | None:
        """The voice a request naming ``name`` gets: the active version of that model, or the
        pinned ``model@version`` (a read-only version: the engine's own voice); None when
        ``name`` is no repository model of this engine.
        Loads the version first when it is not loaded (idle unload; the request waits)."""
        if name in self._static and (KEY_SEPARATOR in name or name not in self._engine_of):
            return None  # an engine's own voice (e.g. a ``VOICE@int8`` variant file)
        base, _, pinned = name.partition(KEY_SEPARATOR)
        model = self._model_name(base)
        if model is None or self._engine_of.get(model) != engine_name:
            return None
        version = pinned or self._active.get(model)
        if version is None:
            return None
        if version in READ_ONLY_VERSIONS:
            static = self._static.get(model)
            if static is None or static[2] != version:
                raise ModelVersionNotFound(f"model '{model}' has no version '{version}'",
                                           param="voice")
            return static[1]
        entry = self._entries.get(f"{model}{KEY_SEPARATOR}{version}")
        if entry is None or entry.state not in (VersionState.LOADED, VersionState.DRAINING):
            with self._admin:
                entry = self._load(model, version, reason="request")
        with self._lock:  # a request is coming: not idle (it takes its lease soon)
            entry.last_used_s, entry.last_used_at = self._clock(), time.time()
        assert entry.voice is not None
        return entry.voice

    def acquire(self, voice: VoiceInfo) -> Lease:
        """Hold ``voice``'s version until the lease is released. A version unloaded since
        the request resolved it is swapped for its model's active version."""
        with self._lock:
            entry = self._entries.get(voice.id)
            if entry is not None and entry.state in (VersionState.LOADED, VersionState.DRAINING):
                entry.leases += 1
                entry.last_used_s, entry.last_used_at = self._clock(), time.time()
                return Lease(entry.voice or voice, lambda: self._release(entry))
        if entry is None:
            return Lease(voice, None)  # an engine's own voice: never unloaded
        fresh = self.resolve(entry.model, entry.engine)
        return self.acquire(fresh) if fresh is not None else Lease(voice, None)

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.leases -= 1
            entry.last_used_s, entry.last_used_at = self._clock(), time.time()
            drained = entry.state is VersionState.DRAINING and entry.leases == 0
        if drained:  # unless activated again meanwhile
            self._unload_now(entry, entry.unload_reason or "swap", draining_only=True)

    # --- admin: the actions of service.models -------------------------------------------

    def listing(self) -> list[ModelStatus]:
        names = sorted(set(self.repository.models()) | set(self._static))
        return [self.status(name) for name in names]

    def status(self, model: str) -> ModelStatus:
        stored = self.repository.versions(model) if model in self.repository.models() else []
        static = self._static.get(model)
        if not stored and static is None:
            raise ModelVersionNotFound(f"no model '{model}'", param="model")
        active = self._current(model)
        rows: list[VersionStatus] = []
        if static is not None:
            rows.append(VersionStatus(version=static[2], state=VersionState.LOADED,
                                      active=active == static[2], read_only=True))
        for version in stored:
            entry = self._entries.get(f"{model}{KEY_SEPARATOR}{version.version}")
            rows.append(_version_status(version, entry, active == version.version))
        engine = self._engine_of.get(model) or (
            stored[0].manifest.engine if stored else static[0] if static else "")
        ready = any(row.active and row.state in (VersionState.LOADED, VersionState.DRAINING)
                    for row in rows)
        voice = self._describing_voice(model)
        manifest = stored[-1].manifest if stored else None
        return ModelStatus(
            model=model, engine=engine, active=active, ready=ready,
            language=voice.language if voice else (manifest.language if manifest else ""),
            aliases=voice.aliases if voice else (manifest.aliases if manifest else ()),
            description=voice.description if voice else (manifest.description
                                                         if manifest else ""),
            versions=tuple(rows),
        )

    def import_version(
        self, source: Path, model: str, version: str | None = None, *,
        manifest: ModelManifest | None = None, engine: str | None = None,
        source_label: str = "", activate: bool = False,
    ) -> StoredVersion:
        """Copy a version in, checked (checksums, a trial load by its engine); the model's
        first version becomes active. Nothing is registered when a check fails."""
        with self._admin:
            def check(directory: Path, checked: ModelManifest) -> None:
                host = self._host(checked.engine)
                host.check_model(directory, checked)

            if model in self._static and version in READ_ONLY_VERSIONS:
                raise InvalidModel(f"version '{version}' is reserved", param="version")
            stored = self.repository.add(
                source, model, version, manifest=manifest, engine=engine, check=check,
                source_label=source_label,
            )
            first = self.repository.pointer(model).active is None and model not in self._static
            if activate:
                self.activate(model, stored.version)
            elif first:  # the model's first version: active, loaded when memory allows
                self.repository.set_pointer(model, Pointer(stored.version))
                with self._lock:
                    self._active[model] = stored.version
                    self._engine_of[model] = stored.manifest.engine
                try:
                    self._load(model, stored.version, reason="import")
                except ModelMemoryExceeded as exc:
                    logger.warning("model %s: imported, not loaded: %s", model, exc.message)
            else:
                with self._lock:
                    self._engine_of.setdefault(model, stored.manifest.engine)
            return stored

    def import_registry(
        self, uri: str, model: str | None = None, version: str | None = None, *,
        engine: str | None = None, activate: bool = False,
    ) -> StoredVersion:
        """Import the MLflow version ``uri`` names (``mlflow:models:/NAME@ALIAS`` or
        ``…/NAME/3``); once per MLflow version. With an alias the model follows it: a later
        :meth:`sync` imports and activates the version the alias points at then."""
        ref = parse_registry_uri(uri)
        registry = self._registry()
        with self._admin:
            resolved = registry.resolve(ref)
            name = model or ref.name
            stored = self._registry_version(name, resolved.source)
            if stored is None:
                with tempfile.TemporaryDirectory(prefix="voxserve-mlflow-") as scratch:
                    directory = registry.download(resolved, Path(scratch))
                    stored = self.import_version(
                        directory, name, version or resolved.version,
                        engine=engine or guess_engine(directory),
                        source_label=resolved.source, activate=activate)
            elif activate:
                self.activate(name, stored.version)
            if ref.alias is not None:
                pointer = self.repository.pointer(name)
                self.repository.set_pointer(name, replace(pointer, follow=ref.uri))
            return stored

    def load(self, model: str, version: str) -> VersionStatus:
        with self._admin:
            if version in READ_ONLY_VERSIONS:
                self._static_version(model, version)
            else:
                self._load(model, version, reason="admin")
            return self._row(model, version)

    def unload(self, model: str, version: str) -> VersionStatus:
        """Unload now, or when its requests finish (``draining``)."""
        with self._admin:
            if version in READ_ONLY_VERSIONS:
                raise ModelConflict(f"'{model}@{version}' is an engine's own voice (read-only);"
                                    " it cannot be unloaded", param="version")
            self.repository.version(model, version)
            entry = self._entries.get(f"{model}{KEY_SEPARATOR}{version}")
            if entry is not None:
                self._retire(entry, "admin")
            return self._row(model, version)

    def activate(self, model: str, version: str, *, record: bool = True) -> ModelStatus:
        """Load ``version`` (if needed), point the model at it, retire the previous one."""
        with self._admin:
            if version in READ_ONLY_VERSIONS:
                engine = self._static_version(model, version)[0]
            else:
                engine = self._load(model, version, reason="activate").engine
            pointer = self.repository.pointer(model)
            previous = self._current(model) or pointer.active
            if record and previous is not None and previous != version:
                history = (*(v for v in pointer.history if v != previous), previous)
                self.repository.set_pointer(model, replace(pointer, active=version,
                                                                   history=history[-20:]))
            elif pointer.active != version:
                self.repository.set_pointer(model, replace(pointer, active=version))
            with self._lock:
                self._active[model] = version
                self._engine_of[model] = engine
            if previous is not None and previous != version:
                old = self._entries.get(f"{model}{KEY_SEPARATOR}{previous}")
                if old is not None:
                    self._retire(old, "swap")
            logger.info("model %s: version %s active (was %s)", model, version, previous)
            return self.status(model)

    def rollback(self, model: str) -> ModelStatus:
        """Back to the version active before the current one."""
        with self._admin:
            pointer = self.repository.pointer(model)
            if not pointer.history:
                raise ModelConflict(f"model '{model}' has no earlier active version to roll "
                                    "back to", param="model")
            target = pointer.history[-1]
            status = self.activate(model, target, record=False)
            self.repository.set_pointer(model, replace(pointer, active=target,
                                                               history=pointer.history[:-1]))
            return status

    def remove(self, model: str, version: str) -> None:
        with self._admin:
            if version in READ_ONLY_VERSIONS:
                raise ModelConflict(f"'{model}@{version}' is read-only", param="version")
            if self._active.get(model) == version:
                raise ModelConflict(f"version '{version}' is the active version of '{model}'; "
                                    "activate another first", param="version")
            entry = self._entries.get(f"{model}{KEY_SEPARATOR}{version}")
            if entry is not None and entry.state is not VersionState.UNLOADED:
                if entry.leases:
                    raise ModelConflict(f"'{entry.key}' is serving {entry.leases} request(s); "
                                        "retry when they finish", param="version")
                self._unload_now(entry, "removed")
            self.repository.remove(model, version)
            self._entries.pop(f"{model}{KEY_SEPARATOR}{version}", None)

    def unload_idle(self, idle_s: float) -> list[str]:
        """Unload loaded versions without a request for ``idle_s``; the keys unloaded."""
        now = self._clock()
        with self._admin:
            with self._lock:
                idle = [entry for entry in self._entries.values()
                        if entry.state is VersionState.LOADED and entry.leases == 0
                        and now - entry.last_used_s >= idle_s]
            for entry in idle:
                self._unload_now(entry, "idle")
        return [entry.key for entry in idle]

    def sync(self) -> list[str]:
        """Follow every model's active pointer (another pod activated), and the registry
        alias a model follows (MLflow: the alias moved); the models changed."""
        changed = []
        for model in self.repository.models():
            follow = self.repository.pointer(model).follow
            if follow is not None and self._registry_factory is not None:
                try:
                    if self._follow_registry(model, follow):
                        changed.append(model)
                except Exception as exc:
                    logger.warning("model %s: cannot follow %s: %s", model, follow, exc)
            pointer = self.repository.pointer(model).active
            if pointer is not None and pointer != self._active.get(model):
                try:
                    with self._admin:
                        self.activate(model, pointer, record=False)
                    changed.append(model)
                except Exception as exc:
                    logger.warning("model %s: cannot follow the pointer to %s: %s",
                                   model, pointer, exc)
        return changed

    def _follow_registry(self, model: str, follow: str) -> bool:
        resolved = self._registry().resolve(parse_registry_uri(follow))
        current = self._active.get(model)
        stored = self._registry_version(model, resolved.source)
        if stored is not None and stored.version == current:
            return False
        self.import_registry(follow, model, activate=True)
        return True

    def _registry(self) -> MlflowRegistry:
        if self._registry_factory is None:
            raise ConfigurationError("importing from MLflow needs VOXSERVE_MLFLOW_TRACKING_URI")
        return self._registry_factory()

    def _registry_version(self, model: str, source: str) -> StoredVersion | None:
        return next((stored for stored in self.repository.versions(model)
                     if stored.manifest.source == source), None)

    def close(self) -> None:
        for entry in list(self._entries.values()):
            if entry.state in (VersionState.LOADED, VersionState.DRAINING):
                self._unload_now(entry, "shutdown")

    # --- internals ----------------------------------------------------------------------

    def _follow_pointer(self, model: str) -> None:
        stored = self.repository.versions(model)
        pointer = self.repository.pointer(model)
        static = self._static.get(model)
        version = pointer.active or (static[2] if static else
                                     (stored[-1].version if stored else None))
        if version is None:
            return
        engine = static[0] if static and version == static[2] else next(
            (s.manifest.engine for s in stored if s.version == version), None)
        if engine is None:
            raise ModelVersionNotFound(f"the active version '{version}' is not in the repository")
        with self._lock:
            self._active[model] = version
            self._engine_of[model] = engine
        if version not in READ_ONLY_VERSIONS:
            self._load(model, version, reason="start")

    def _current(self, model: str) -> str | None:
        """The version serving ``model`` now (an engine's own voice until one is activated)."""
        static = self._static.get(model)
        return self._active.get(model) or (static[2] if static else None)

    def _model_name(self, name: str) -> str | None:
        if name in self._engine_of:
            return name
        for model in list(self._engine_of):  # aliases of the active versions (in memory)
            entry = self._entries.get(f"{model}{KEY_SEPARATOR}{self._active.get(model)}")
            static = self._static.get(model)
            if entry is not None and entry.voice is not None:
                aliases = entry.voice.aliases
            else:
                aliases = static[1].aliases if static else self._manifest_aliases.get(model, ())
            if name in aliases:
                return model
        return None

    def served_models(self) -> list[str]:
        """Repository models with an active version here (from memory: no repository I/O)."""
        return sorted(self._engine_of)

    def listed_voice(self, model: str) -> VoiceInfo | None:
        """A repository model as ``GET /v1/voices`` lists it (None: not a repository model)."""
        if model not in self._engine_of:
            return None
        voice = self._describing_voice(model)
        return replace(voice, id=model) if voice is not None else None

    def _describing_voice(self, model: str) -> VoiceInfo | None:
        active = self._active.get(model)
        entry = self._entries.get(f"{model}{KEY_SEPARATOR}{active}")
        if entry is not None and entry.voice is not None:
            return entry.voice
        static = self._static.get(model)
        if static is not None:
            return static[1]
        manifest = self._manifests.get(model)
        if manifest is not None:
            return VoiceInfo(id=model, engine=manifest.engine, language=manifest.language,
                             sample_rate_hz=manifest.sample_rate_hz or 0,
                             description=manifest.description, aliases=manifest.aliases)
        return None

    def _static_version(self, model: str, version: str) -> tuple[str, VoiceInfo, str]:
        static = self._static.get(model)
        if static is None or static[2] != version:
            raise ModelVersionNotFound(f"model '{model}' has no version '{version}'",
                                       param="version")
        return static

    def _host(self, engine: str) -> ModelHost:
        if engine not in self._replicas:
            raise InvalidModel(f"engine '{engine}' is not enabled here (VOXSERVE_ENGINES: "
                               f"{', '.join(self._replicas) or 'none'})", param="engine")
        if not self.hosts(engine):
            raise InvalidModel(f"engine '{engine}' cannot load repository models",
                               param="engine")
        host = self._replicas[engine][0]
        assert isinstance(host, ModelHost)
        return host

    def _load(self, model: str, version: str, *, reason: str) -> _Entry:
        """Load into every replica (caller holds the admin lock); the loaded entry."""
        key = f"{model}{KEY_SEPARATOR}{version}"
        entry = self._entries.get(key)
        if entry is not None and entry.state is VersionState.LOADED:
            return entry
        if entry is not None and entry.state is VersionState.DRAINING:
            with self._lock:
                entry.state = VersionState.LOADED  # wanted again: keep it
            return entry
        stored = self.repository.version(model, version)
        engine = stored.manifest.engine
        self._manifest_aliases[model] = stored.manifest.aliases
        self._manifests[model] = stored.manifest
        self._host(engine)
        replicas = self._replicas[engine]
        size = stored.bytes * len(replicas)
        if self._budget and self._loaded_bytes() + size > self._budget:
            raise ModelMemoryExceeded(
                f"loading '{key}' needs {size} bytes; {self._loaded_bytes()} of the budget of "
                f"{self._budget} (VOXSERVE_MODEL_MEMORY_BYTES) are in use: unload a version "
                "first", param="version")
        entry = entry or _Entry(model, version, engine)
        with self._lock:
            self._entries[key] = entry
            entry.state, entry.error = VersionState.LOADING, None
        started = time.perf_counter()
        loaded: list[ModelHost] = []
        try:
            directory = self.repository.materialize(stored)
            voice: VoiceInfo | None = None
            for replica in replicas:
                assert isinstance(replica, ModelHost)
                voice = replica.add_model(key, directory, stored.manifest)
                loaded.append(replica)
        except Exception as exc:
            for host in loaded:
                host.remove_model(key)
            with self._lock:
                entry.state, entry.error = VersionState.FAILED, str(exc)
            metrics.MODEL_LOADS.labels(model, "failed").inc()
            logger.warning("model %s: loading failed: %s", key, exc)
            if isinstance(exc, EngineLoadError | InvalidModel):
                raise InvalidModel(f"'{key}' does not load: {exc}", param="version") from exc
            raise
        load_s = time.perf_counter() - started
        assert voice is not None
        with self._lock:
            static = self._static.get(model)  # its short names stay with the model
            aliases = tuple(dict.fromkeys(voice.aliases + (static[1].aliases if static else ())))
            entry.voice = replace(voice, id=key, version=f"{version}:{voice.version}",
                                  aliases=aliases)
            entry.state, entry.load_s, entry.bytes = VersionState.LOADED, load_s, size
            entry.loaded_at_s = time.time()
            entry.last_used_s, entry.last_used_at = self._clock(), time.time()
        metrics.MODEL_LOADS.labels(model, "ok").inc()
        metrics.MODEL_LOAD_SECONDS.labels(model).observe(load_s)
        self._update_gauges()
        logger.info("model %s loaded in %.2f s (%s)", key, load_s, reason)
        return entry

    def _retire(self, entry: _Entry, reason: str) -> None:
        with self._lock:
            if entry.state not in (VersionState.LOADED, VersionState.DRAINING):
                if entry.state is VersionState.FAILED:
                    entry.state = VersionState.UNLOADED
                return
            if entry.leases:
                entry.state, entry.unload_reason = VersionState.DRAINING, reason
                return
        self._unload_now(entry, reason)

    def _unload_now(self, entry: _Entry, reason: str, *, draining_only: bool = False) -> None:
        with self._lock:
            if entry.state not in (VersionState.LOADED, VersionState.DRAINING):
                return
            if draining_only and entry.state is not VersionState.DRAINING:
                return
            if entry.leases:  # a request took it meanwhile: it drains
                entry.state, entry.unload_reason = VersionState.DRAINING, reason
                return
            entry.state, entry.bytes = VersionState.UNLOADED, 0
        for replica in self._replicas.get(entry.engine, []):
            if isinstance(replica, ModelHost):
                replica.remove_model(entry.key)
        metrics.MODEL_UNLOADS.labels(entry.model, reason).inc()
        self._update_gauges()
        logger.info("model %s unloaded (%s)", entry.key, reason)

    def _row(self, model: str, version: str) -> VersionStatus:
        return next(row for row in self.status(model).versions if row.version == version)

    def _loaded_bytes(self) -> int:
        return sum(e.bytes for e in self._entries.values()
                   if e.state in (VersionState.LOADED, VersionState.DRAINING, VersionState.LOADING))

    def _update_gauges(self) -> None:
        with self._lock:
            loaded = [e for e in self._entries.values()
                      if e.state in (VersionState.LOADED, VersionState.DRAINING)]
        metrics.MODELS_LOADED.set(len(loaded))
        metrics.MODEL_BYTES.set(sum(e.bytes for e in loaded))


def _version_status(stored: StoredVersion, entry: _Entry | None, active: bool) -> VersionStatus:
    if entry is None:
        return VersionStatus(version=stored.version, state=VersionState.UNLOADED, active=active,
                             read_only=False, source=stored.manifest.source,
                             created_at_s=stored.created_at_s)
    return VersionStatus(
        version=stored.version, state=entry.state, active=active, read_only=False,
        leases=entry.leases, bytes=entry.bytes, load_s=entry.load_s,
        loaded_at_s=entry.loaded_at_s,
        last_used_s=entry.last_used_at,
        error=entry.error, source=stored.manifest.source, created_at_s=stored.created_at_s,
    )


def sorted_versions(versions: Sequence[str]) -> list[str]:
    return sorted(versions, key=version_sort_key)
