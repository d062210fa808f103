"""FastAPI dependencies: how routes reach the service layer (kept on ``app.state``).

They are ``async def`` although they never await: FastAPI runs a plain ``def`` dependency in
its thread pool, a thread hop per dependency per request (seven on a speech request) that
a burst of requests pays on the event loop and the GIL."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from voxserve.api.auth import current_principal
from voxserve.engines.catalog import EngineCatalog
from voxserve.service.lifecycle import ServiceState
from voxserve.service.projects import ProjectService
from voxserve.service.speech import SpeechService
from voxserve.settings import Settings
from voxserve.storage import ArtifactStore


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_catalog(request: Request) -> EngineCatalog:
    catalog: EngineCatalog = request.app.state.catalog
    return catalog


async def get_speech_service(request: Request) -> SpeechService:
    service: SpeechService = request.app.state.speech
    return service


async def get_service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service_state
    return state


async def get_artifacts(request: Request) -> ArtifactStore:
    artifacts: ArtifactStore = request.app.state.artifacts
    return artifacts


async def get_project_service(request: Request) -> ProjectService:
    service: ProjectService = request.app.state.projects
    return service


async def get_project_owner(request: Request) -> str | None:
    """Whose projects the caller may see: its own (:attr:`Principal.owner_id`: the API key's
    id or the token's subject), or None (everyone's) for admins and when authentication is
    off."""
    principal = current_principal(request)
    if principal is None or principal.auth_method == "none" or principal.has_scope("admin"):
        return None
    return principal.owner_id


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[EngineCatalog, Depends(get_catalog)]
SpeechServiceDep = Annotated[SpeechService, Depends(get_speech_service)]
ServiceStateDep = Annotated[ServiceState, Depends(get_service_state)]
ArtifactsDep = Annotated[ArtifactStore, Depends(get_artifacts)]
ProjectOwnerDep = Annotated[str | None, Depends(get_project_owner)]
ProjectServiceDep = Annotated[ProjectService, Depends(get_project_service)]
