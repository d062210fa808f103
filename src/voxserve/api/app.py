"""The FastAPI application: wiring of settings, catalog, service, routes and error mapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from voxserve import __version__
from voxserve.api.errors import install_error_handlers
from voxserve.api.routes import catalog as catalog_routes
from voxserve.api.routes import health, speech
from voxserve.service.catalog import EngineCatalog
from voxserve.service.speech import SpeechService
from voxserve.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Engines load in the background; ``/readyz`` says when they are done."""
    settings = settings or Settings()
    catalog = EngineCatalog(settings)
    speech_service = SpeechService(settings, catalog)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(catalog.load))
        loading.add_done_callback(_log_load_result)
        try:
            yield
        finally:
            if not loading.done():
                loading.cancel()
            speech_service.close()
            catalog.close()

    app = FastAPI(
        title="voxserve",
        version=__version__,
        summary="Text-to-speech server with an OpenAI-compatible streaming API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.speech = speech_service
    install_error_handlers(app)
    app.include_router(speech.router)
    app.include_router(catalog_routes.router)
    app.include_router(health.router)
    return app


def _log_load_result(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    if task.exception() is None:
        logger.info("engines ready")
