"""The FastAPI application: wiring of settings, catalog, scheduler, service, routes, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from voxserve import __version__
from voxserve.api.auth import require_scope
from voxserve.api.errors import install_error_handlers
from voxserve.api.middleware.audit import AuditMiddleware
from voxserve.api.middleware.authentication import AuthenticationMiddleware, operations_protected
from voxserve.api.middleware.context import RequestContextMiddleware
from voxserve.api.middleware.rate_limit import RateLimitMiddleware, count_request
from voxserve.api.middleware.request_limits import RequestLimitsMiddleware
from voxserve.api.middleware.security_headers import SecurityHeadersMiddleware
from voxserve.api.routes import artifacts as artifact_routes
from voxserve.api.routes import catalog as catalog_routes
from voxserve.api.routes import (
    docs,
    health,
    lexicons,
    models_admin,
    projects,
    speech,
    speech_stream,
    web,
)
from voxserve.api.routes import metrics as metrics_routes
from voxserve.cache import create_segment_cache
from voxserve.engines.catalog import EngineCatalog
from voxserve.gpu_metrics import register_gpu_metrics
from voxserve.jobs.runtime import JobRuntime
from voxserve.scheduler import Scheduler
from voxserve.security.audit import create_audit_log
from voxserve.security.authenticator import Authenticator
from voxserve.security.config_check import check_security_settings
from voxserve.security.limits import RateLimiter
from voxserve.security.principal import SCOPE_ADMIN, SCOPE_PROJECTS, SCOPE_SPEECH
from voxserve.service.lifecycle import ServiceState
from voxserve.service.models import ModelService
from voxserve.service.previews import VoicePreviews
from voxserve.service.projects import ProjectService
from voxserve.service.speech import SpeechService
from voxserve.settings import Settings
from voxserve.storage import create_artifact_store

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Engines load in the background; ``/readyz`` says when they are done."""
    settings = settings or Settings()
    state = ServiceState()
    catalog = EngineCatalog(settings)
    scheduler = Scheduler(settings)
    cache = create_segment_cache(settings)
    artifacts = create_artifact_store(settings)
    speech_service = SpeechService(
        settings, catalog, scheduler, cache, artifacts=artifacts, state=state
    )
    jobs = JobRuntime(settings, catalog, scheduler, artifacts)
    project_service = ProjectService(settings, catalog, jobs.repository, jobs.queue, artifacts,
                                     stop_work=jobs.worker.cancel_project)
    model_service = ModelService(settings, catalog)
    rate_limiter = RateLimiter.from_settings(settings)
    audit_log = create_audit_log(settings)

    async def load_engines() -> None:
        try:
            await asyncio.to_thread(catalog.load)
        except Exception as exc:
            state.load_error = str(exc)
            return
        scheduler.start(catalog.replicas(), catalog.wide())
        await jobs.start_workers()
        register_gpu_metrics()
        state.started = True
        logger.info("engines ready", extra={"engines": list(catalog.replicas())})
        await model_service.maintain()  # idle unload, pointer polling (issue 19), if set

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await jobs.open()  # migrate; re-enqueue unfinished projects (in-process queue)
        loading = asyncio.create_task(load_engines())
        try:
            yield
        finally:
            loading.cancel()
            await jobs.close()
            await scheduler.stop()
            await cache.close()
            await rate_limiter.close()
            audit_log.close()
            catalog.close()

    app = FastAPI(
        title="voxserve",
        version=__version__,
        summary="Text-to-speech server with an OpenAI-compatible streaming API.",
        lifespan=lifespan,
        docs_url=None,  # served offline by routes/docs.py
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service_state = state
    app.state.catalog = catalog
    app.state.scheduler = scheduler
    app.state.speech = speech_service
    app.state.cache = cache
    app.state.artifacts = artifacts
    app.state.jobs = jobs
    app.state.projects = project_service
    app.state.models = model_service
    app.state.previews = VoicePreviews(settings, speech_service)
    install_error_handlers(app)
    for warning in check_security_settings(settings):  # raises ConfigurationError when fatal
        logger.warning(warning)
    authenticator = Authenticator(settings)
    app.state.authenticator = authenticator
    app.state.rate_limiter = rate_limiter
    app.state.audit_log = audit_log  # the gRPC transport writes to it too
    # The last middleware added is the outermost: request context, security headers, audit,
    # authentication (from the headers, before any body is read), rate-limit headers, body
    # limits.
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
        overrides={"/v1/projects": settings.max_upload_bytes},
        max_json_values=settings.max_json_values,
    )
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(AuthenticationMiddleware, authenticator=authenticator,
                       protect_operations=operations_protected(settings))
    app.add_middleware(AuditMiddleware, audit_log=audit_log, include_text=settings.audit_log_text)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware, state=state)
    app.include_router(speech.router, dependencies=_guarded(SCOPE_SPEECH))
    # The WebSocket authenticates and counts in its session (a header or a first-message
    # token): HTTP dependencies do not run on it.
    app.include_router(speech_stream.router)
    app.include_router(projects.router, dependencies=_guarded(SCOPE_PROJECTS))
    app.include_router(artifact_routes.router, dependencies=_guarded(SCOPE_SPEECH))
    app.include_router(catalog_routes.router, dependencies=_guarded(SCOPE_SPEECH))
    app.include_router(lexicons.router, dependencies=_guarded(SCOPE_ADMIN))
    app.include_router(models_admin.router, dependencies=_guarded(SCOPE_ADMIN))
    app.include_router(health.router)
    app.include_router(web.router)  # the browser UI: no auth, it holds no data
    app.include_router(docs.router)
    if not settings.metrics_port:  # else on a port of its own (voxserve.server)
        app.include_router(metrics_routes.router)
    return app


def _guarded(scope: str) -> list[Any]:
    """Authenticate, check the scope, count the request against the caller's rate limit."""
    return [Depends(require_scope(scope)), Depends(count_request)]
