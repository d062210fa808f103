"""Long-running job processes: ``voxserve worker`` (RabbitMQ consumer) and ``voxserve
convert`` (a whole document converted locally, in-process)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from prometheus_client import start_http_server

from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import ConfigurationError, VoxserveError
from voxserve.gpu_metrics import register_gpu_metrics
from voxserve.jobs.runtime import JobRuntime
from voxserve.jobs.store.database import upgrade_database
from voxserve.jobs.store.records import ProjectRecord
from voxserve.jobs.tasks.factory import is_inprocess
from voxserve.jobs.tasks.outbox import publish_project
from voxserve.jobs.work.chapters import file_key
from voxserve.scheduler import Scheduler
from voxserve.service.projects import ProjectService, ProjectSpec
from voxserve.settings import Settings
from voxserve.storage import LocalArtifactStore, create_artifact_store
from voxserve.text.documents import parse_document

logger = logging.getLogger(__name__)

#: Folder under the output directory holding the conversion's database and segment audio.
WORK_DIR_NAME = ".voxserve-work"
PROGRESS_POLL_S = 0.2


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Consume segment tasks from RabbitMQ until SIGTERM/SIGINT (or ``stop``)."""
    if is_inprocess(settings):
        raise ConfigurationError(
            "voxserve worker needs VOXSERVE_QUEUE_URL=amqp://…; with 'inprocess' the API "
            "server converts projects itself"
        )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await asyncio.to_thread(upgrade_database, settings.resolved_database_url)
    if settings.worker_metrics_port:
        # Scheduler, engine and cache metrics of this worker, for Prometheus (and probes).
        try:
            start_http_server(settings.worker_metrics_port)
        except OSError as exc:  # e.g. two workers on one host: the second goes on without
            logger.warning("worker metrics not exported: port %s: %s",
                           settings.worker_metrics_port, exc)
    catalog = EngineCatalog(settings)
    await asyncio.to_thread(catalog.load)
    scheduler = Scheduler(settings)
    scheduler.start(catalog.replicas(), catalog.wide())
    register_gpu_metrics()
    runtime = JobRuntime(settings, catalog, scheduler, create_artifact_store(settings))
    try:
        await runtime.queue.consume(runtime.worker.handle)
        logger.info("worker consuming", extra={"queue": settings.queue_name})
        await stop.wait()
    finally:
        await runtime.close()
        await scheduler.stop()
        catalog.close()


ProgressCallback = Callable[[int, int], None]


async def convert(
    settings: Settings,
    source: Path,
    out_dir: Path,
    spec: ProjectSpec,
    on_progress: ProgressCallback | None = None,
) -> tuple[ProjectRecord, list[Path]]:
    """Convert ``source`` into ``out_dir`` (chapters, book, subtitles, manifest.json).

    Runs everything in this process: a temporary SQLite database and segment store under
    ``out_dir/.voxserve-work`` (removed on success), the in-process queue, the scheduler.
    Raises a ``VoxserveError`` for a bad document, voice or model, or a failed conversion.
    """
    work = out_dir / WORK_DIR_NAME
    work.mkdir(parents=True, exist_ok=True)
    data = await asyncio.to_thread(source.read_bytes)
    settings = settings.model_copy(update={"queue_url": "inprocess"})
    catalog = EngineCatalog(settings)
    await asyncio.to_thread(catalog.load)
    scheduler = Scheduler(settings)
    scheduler.start(catalog.replicas(), catalog.wide())
    artifacts = LocalArtifactStore(work / "artifacts")
    runtime = JobRuntime(settings, catalog, scheduler, artifacts,
                         database_url=f"sqlite:///{work / 'jobs.db'}")
    try:
        await runtime.open()  # also resumes an interrupted conversion in the same out dir
        service = ProjectService(settings, catalog, runtime.repository, runtime.queue, artifacts,
                                 stop_work=runtime.worker.cancel_project)
        document = await asyncio.to_thread(
            parse_document, data, filename=source.name, max_bytes=settings.max_upload_bytes,
            max_segment_chars=settings.max_segment_chars, reading=service.reading(spec),
        )
        new = service.validate(document, spec, default_name=source.stem)
        project = await asyncio.to_thread(runtime.repository.create_project, new)
        await publish_project(runtime.repository, runtime.queue, project.id,
                              settings.segments_per_task)
        await runtime.start_workers()
        finished = await _wait(runtime, project.id, on_progress)
    finally:
        await runtime.close()
        await scheduler.stop()
        catalog.close()
    if finished.files is None:
        raise VoxserveError(f"conversion {finished.state.value}: {finished.error or ''}")
    written = []
    for name, path in sorted(finished.files.items()):
        target = out_dir / name
        await asyncio.to_thread(shutil.copyfile, artifacts.path(file_key(project.id, path)),
                                target)
        written.append(target)
    await asyncio.to_thread(shutil.rmtree, work, True)
    return finished, written


async def _wait(
    runtime: JobRuntime, project_id: str, on_progress: ProgressCallback | None
) -> ProjectRecord:
    repository = runtime.repository
    while True:
        project = await asyncio.to_thread(repository.get_project, project_id)
        assert project is not None
        if on_progress is not None:
            progress = await asyncio.to_thread(repository.progress, project_id)
            on_progress(progress.segments_done, progress.segments_total)
        if project.state.finished:
            return project
        await asyncio.sleep(PROGRESS_POLL_S)
