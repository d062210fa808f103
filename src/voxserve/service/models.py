"""The model-management use case: one method per admin action, for every transport.

The HTTP admin routes (``/v1/admin/models…``) call these, and ``voxserve models …`` calls
those routes. The work (copying, checking, loading) blocks for seconds, so each action runs
off the event loop; :meth:`ModelService.maintain` is the background loop for idle unload and
for following the repository's active pointers (pods sharing one repository).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from voxserve.engines.catalog import EngineCatalog
from voxserve.engines.hosted import HostedModels, ModelStatus, VersionStatus
from voxserve.errors import InvalidModel
from voxserve.models import StoredVersion, check_name
from voxserve.models.mlflow_source import is_mlflow_uri
from voxserve.settings import Settings

logger = logging.getLogger(__name__)


class ModelService:
    """List, import, load, unload, activate, roll back and remove model versions."""

    def __init__(self, settings: Settings, catalog: EngineCatalog) -> None:
        self._settings = settings
        self._catalog = catalog

    @property
    def _hosted(self) -> HostedModels:
        self._catalog.require_ready()
        return self._catalog.hosted

    async def list_models(self) -> list[ModelStatus]:
        return await asyncio.to_thread(self._hosted.listing)

    async def get(self, model: str) -> ModelStatus:
        return await asyncio.to_thread(self._hosted.status, model)

    async def import_path(
        self, path: str, model: str | None = None, version: str | None = None, *,
        engine: str | None = None, activate: bool = False,
    ) -> StoredVersion:
        """Copy a directory (or one model file) on the server's filesystem in as a version,
        or a registered MLflow version (``mlflow:models:/NAME@ALIAS`` or ``…/NAME/3``)."""
        if is_mlflow_uri(path):
            if model is not None:
                check_name(model, "model")
            return await asyncio.to_thread(
                self._hosted.import_registry, path, model, version, engine=engine,
                activate=activate)
        source = Path(path)
        if not source.is_absolute():
            raise InvalidModel(f"path must be absolute on the server: {path!r}", param="path")
        name = check_name(model or _default_model_name(source), "model")
        return await asyncio.to_thread(
            self._hosted.import_version, source, name, version, engine=engine,
            source_label=f"path:{source}", activate=activate,
        )

    async def load(self, model: str, version: str) -> VersionStatus:
        return await asyncio.to_thread(self._hosted.load, model, version)

    async def unload(self, model: str, version: str) -> VersionStatus:
        return await asyncio.to_thread(self._hosted.unload, model, version)

    async def activate(self, model: str, version: str) -> ModelStatus:
        return await asyncio.to_thread(self._hosted.activate, model, version)

    async def rollback(self, model: str) -> ModelStatus:
        return await asyncio.to_thread(self._hosted.rollback, model)

    async def remove(self, model: str, version: str) -> None:
        await asyncio.to_thread(self._hosted.remove, model, version)

    async def sync(self) -> list[str]:
        return await asyncio.to_thread(self._hosted.sync)

    async def maintain(self) -> None:
        """Forever: unload idle versions, follow the active pointers (per the settings)."""
        idle_s = self._settings.model_idle_unload_s
        poll_s = self._settings.model_poll_s
        if not idle_s and not poll_s:
            return
        period_s = min(s for s in (idle_s / 4 if idle_s else 0, poll_s) if s)
        while True:
            await asyncio.sleep(max(0.05, period_s))
            try:
                if idle_s:
                    await asyncio.to_thread(self._catalog.hosted.unload_idle, idle_s)
                if poll_s:
                    await asyncio.to_thread(self._catalog.hosted.sync)
            except Exception:  # a bad repository must not end the loop
                logger.exception("model maintenance failed")


def _default_model_name(source: Path) -> str:
    """``/x/en_US-amy-medium.onnx`` -> ``en_US-amy-medium``; a directory: its name."""
    return source.name.split(".onnx", 1)[0] if source.name.endswith(".onnx") else source.name
