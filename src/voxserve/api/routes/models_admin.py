"""``/v1/admin/models…``: the model repository and the loaded versions (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from voxserve.engines.hosted import ModelStatus, VersionStatus
from voxserve.service.models import ModelService

router = APIRouter(tags=["admin: models"])


async def get_model_service(request: Request) -> ModelService:
    service: ModelService = request.app.state.models
    return service


ModelServiceDep = Annotated[ModelService, Depends(get_model_service)]


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: A directory (or one model file) on the server's filesystem.
    path: str = Field(min_length=1, max_length=4096)
    model: str | None = Field(default=None, max_length=128)
    version: str | None = Field(default=None, max_length=128)
    #: The engine, when the directory has no ``manifest.json``.
    engine: str | None = Field(default=None, max_length=64)
    activate: bool = False


class ActivateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=128)


def _version(row: VersionStatus) -> dict[str, Any]:
    return {
        "version": row.version, "state": str(row.state), "active": row.active,
        "read_only": row.read_only, "requests": row.leases, "bytes": row.bytes,
        "load_seconds": None if row.load_s is None else round(row.load_s, 3),
        "loaded_at": row.loaded_at_s, "last_used_at": row.last_used_s, "error": row.error,
        "source": row.source or None, "created_at": row.created_at_s,
    }


def _model(status: ModelStatus) -> dict[str, Any]:
    return {
        "object": "model_status", "id": status.model, "engine": status.engine,
        "active_version": status.active, "ready": status.ready, "language": status.language,
        "aliases": list(status.aliases), "description": status.description,
        "versions": [_version(row) for row in status.versions],
    }


@router.get("/v1/admin/models")
async def list_models(service: ModelServiceDep) -> dict[str, Any]:
    """Every model: its versions with state (loaded, unloaded, loading, draining, failed),
    bytes, requests in flight, last use; which is active; whether the model serves."""
    return {"object": "list", "data": [_model(status) for status in await service.list_models()]}


@router.get("/v1/admin/models/{model}")
async def get_model(model: str, service: ModelServiceDep) -> dict[str, Any]:
    return _model(await service.get(model))


@router.post("/v1/admin/models/import", status_code=201)
async def import_model(body: ImportRequest, service: ModelServiceDep) -> dict[str, Any]:
    """Copy a version in (checked: manifest, checksums, a trial load); nothing is registered
    when a check fails. A model's first version becomes active."""
    stored = await service.import_path(body.path, body.model, body.version,
                                       engine=body.engine, activate=body.activate)
    return _model(await service.get(stored.model)) | {"imported_version": stored.version}


@router.post("/v1/admin/models/{model}/versions/{version}/load")
async def load_version(model: str, version: str, service: ModelServiceDep) -> dict[str, Any]:
    return _version(await service.load(model, version))


@router.post("/v1/admin/models/{model}/versions/{version}/unload")
async def unload_version(model: str, version: str, service: ModelServiceDep) -> dict[str, Any]:
    """Unloaded at once, or ``draining`` until the requests using it finish."""
    return _version(await service.unload(model, version))


@router.post("/v1/admin/models/{model}/activate")
async def activate(model: str, body: ActivateRequest, service: ModelServiceDep) -> dict[str, Any]:
    """Load the version (if needed), then switch new requests to it; the previous version
    finishes its requests and is unloaded."""
    return _model(await service.activate(model, body.version))


@router.post("/v1/admin/models/{model}/rollback")
async def rollback(model: str, service: ModelServiceDep) -> dict[str, Any]:
    return _model(await service.rollback(model))


@router.delete("/v1/admin/models/{model}/versions/{version}", status_code=204)
async def remove_version(model: str, version: str, service: ModelServiceDep) -> Response:
    await service.remove(model, version)
    return Response(status_code=204)


@router.post("/v1/admin/models/sync")
async def sync(service: ModelServiceDep) -> dict[str, Any]:
    """Follow the repository's active pointers now (another pod may have activated)."""
    return {"changed": await service.sync()}
