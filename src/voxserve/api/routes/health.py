"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from voxserve.api.dependencies import ServiceStateDep
from voxserve.api.schemas import HealthStatus

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthStatus)
async def healthz() -> HealthStatus:
    """The process is alive and serving HTTP."""
    return HealthStatus(status="ok")


@router.get("/readyz", response_model=HealthStatus, responses={503: {"model": HealthStatus}})
async def readyz(state: ServiceStateDep) -> JSONResponse:
    """200 once every engine is loaded and warmed up; 503 before, if loading failed, or while
    draining for shutdown."""
    if state.ready:
        return JSONResponse(HealthStatus(status="ok").model_dump())
    if state.load_error:
        status = HealthStatus(status="failed", detail=state.load_error)
    elif state.draining:
        status = HealthStatus(status="draining")
    else:
        status = HealthStatus(status="loading")
    return JSONResponse(
        status.model_dump(),
        status_code=503,
        headers={"Retry-After": "5"},
    )
