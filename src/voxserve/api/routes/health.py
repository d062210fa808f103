"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from voxserve.api.dependencies import CatalogDep
from voxserve.api.schemas import HealthStatus

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthStatus)
async def healthz() -> HealthStatus:
    """The process is alive and serving HTTP."""
    return HealthStatus(status="ok")


@router.get("/readyz", response_model=HealthStatus, responses={503: {"model": HealthStatus}})
async def readyz(catalog: CatalogDep) -> JSONResponse:
    """200 once every engine is loaded and warmed up; 503 before (or if loading failed)."""
    if catalog.ready:
        return JSONResponse(HealthStatus(status="ok").model_dump())
    status = HealthStatus(status="failed" if catalog.load_error else "loading",
                          detail=catalog.load_error)
    return JSONResponse(
        status.model_dump(),
        status_code=503,
        headers={"Retry-After": "5"},
    )
