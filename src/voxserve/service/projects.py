"""Project use cases for the API: create (from an upload or text), read, list, cancel,
delete, download. Raises domain errors; knows nothing about HTTP."""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voxserve.audio import content_type_for_file
from voxserve.engines.base import parse_options
from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import (
    ArtifactNotFound,
    DocumentTooLarge,
    InvalidRequest,
    JsonTooDeep,
    ProjectConflict,
    ProjectNotFound,
    ProjectNotReady,
    UnsafeUrl,
)
from voxserve.jobs.outputs import chapter_file_prefix
from voxserve.jobs.store.models import ProjectState, utcnow
from voxserve.jobs.store.records import NewProject, Progress, ProjectPage, ProjectRecord
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.tasks.outbox import publish_project
from voxserve.jobs.tasks.queue import TaskQueue
from voxserve.jobs.work.chapters import chapter_audio_name, chapter_keys, file_key
from voxserve.jobs.work.word_subtitles import (
    SubtitleKind,
    book_word_cues,
    chapter_word_cues,
    render_word_subtitles,
)
from voxserve.security.json_depth import json_depth
from voxserve.security.outbound import OutboundPolicy, resolve_target
from voxserve.service.speech_job import check_speed
from voxserve.settings import Settings
from voxserve.storage import ArtifactStore
from voxserve.text.documents import (
    Document,
    Reading,
    parse_document,
    parse_text,
    split_long_chapters,
)
from voxserve.text.lexicon_store import LexiconStore
from voxserve.types import AudioFormat

MAX_PAGE_SIZE = 100
#: ``granularity`` of project subtitles: a cue per sentence, or words timed inside them
GRANULARITIES = ("sentence", "word")


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    """What a client asks for when creating a project (besides the document)."""

    name: str | None = None
    model: str | None = None
    voice: str | None = None
    audio_format: AudioFormat | None = None
    speed: float = 1.0
    options: Mapping[str, Any] | None = None
    webhook_url: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class ProjectStatus:
    project: ProjectRecord
    progress: Progress
    eta_s: float | None

    @property
    def percent(self) -> float:
        total = self.progress.segments_total
        return round(100.0 * self.progress.segments_done / total, 1) if total else 100.0


@dataclass(frozen=True, slots=True)
class Download:
    key: str
    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class RenderedFile:
    """A file made on request (not stored)."""

    content: bytes
    filename: str
    content_type: str


def check_granularity(granularity: str) -> bool:
    """True for word-level subtitles, False for sentence-level (the default); raises
    ``InvalidRequest`` for anything else."""
    if granularity not in GRANULARITIES:
        raise InvalidRequest(
            f"granularity must be one of {', '.join(GRANULARITIES)}, got '{granularity}'",
            param="granularity",
        )
    return granularity == "word"


def eta_s(project: ProjectRecord, progress: Progress, now: datetime | None = None) -> float | None:
    """Remaining seconds at the measured rate since the project started (None: unknown)."""
    done, total = progress.segments_done, progress.segments_total
    if project.state is not ProjectState.RUNNING or project.started_at is None or done == 0:
        return None
    elapsed_s = ((now or utcnow()) - project.started_at).total_seconds()
    return round(max(elapsed_s, 0.0) / done * (total - done), 1)


class ProjectService:
    def __init__(
        self,
        settings: Settings,
        catalog: EngineCatalog,
        repository: JobRepository,
        queue: TaskQueue,
        artifacts: ArtifactStore,
        *,
        stop_work: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._repository = repository
        self._queue = queue
        self._artifacts = artifacts
        #: Stops this process's in-flight synthesis of a project (its in-process workers).
        self._stop_work = stop_work
        self._outbound = OutboundPolicy.from_entries(settings.webhook_allowed_hosts)
        self._lexicons = LexiconStore(settings.resolved_models_dir / "lexicons")

    @property
    def artifacts(self) -> ArtifactStore:
        return self._artifacts

    # --- creation ---------------------------------------------------------------------

    def reading(self, spec: ProjectSpec) -> Reading:
        """How the project's voice reads a document: its language, lexicon, phonemes, and
        whether chapter titles are spoken. Raises ``ModelNotFound``/``VoiceNotFound``."""
        engine, voice = self._catalog.resolve(spec.model, spec.voice)
        return Reading(
            language=voice.language or "en", lexicon=self._lexicons.for_voice(voice.id),
            phonemes=engine.capabilities.phoneme_input,
            speak_titles=self._settings.speak_chapter_titles,
        )

    async def create_from_upload(
        self, data: bytes, *, filename: str | None, content_type: str | None, spec: ProjectSpec
    ) -> ProjectRecord:
        settings = self._settings
        reading = await asyncio.to_thread(self.reading, spec)
        document = await asyncio.to_thread(
            parse_document, data, filename=filename, content_type=content_type,
            max_bytes=settings.max_upload_bytes, max_segment_chars=settings.max_segment_chars,
            reading=reading,
        )
        return await self._create(document, spec, default_name=filename)

    async def create_from_text(
        self, text: str, *, markdown: bool, spec: ProjectSpec
    ) -> ProjectRecord:
        self._check_chars(len(text))
        reading = await asyncio.to_thread(self.reading, spec)
        document = await asyncio.to_thread(
            parse_text, text, markdown=markdown,
            max_segment_chars=self._settings.max_segment_chars, reading=reading,
        )
        return await self._create(document, spec, default_name=None)

    def _check_chars(self, chars: int) -> None:
        limit = self._settings.max_document_chars
        if chars > limit:
            raise DocumentTooLarge(f"the document has {chars} characters; the limit is {limit}")

    async def _create(
        self, document: Document, spec: ProjectSpec, *, default_name: str | None
    ) -> ProjectRecord:
        self._check_chars(document.char_count)
        new = self.validate(document, spec, default_name=default_name)
        if new.webhook_url:  # resolved now, and again before each call (DNS rebinding)
            await asyncio.to_thread(resolve_target, new.webhook_url, self._outbound)
        project = await asyncio.to_thread(self._repository.create_project, new)
        # its rows are stored: the project is accepted even if the broker is down now (the
        # outbox sweeper publishes its tasks later)
        await publish_project(self._repository, self._queue, project.id,
                              self._settings.segments_per_task)
        return project

    def validate(
        self, document: Document, spec: ProjectSpec, *, default_name: str | None
    ) -> NewProject:
        """Resolve model and voice (404s), check options, speed and webhook (400s); long
        chapters become parts (``max_chapter_segments``)."""
        engine, voice = self._catalog.resolve(spec.model, spec.voice)
        options = dict(spec.options or {})
        parse_options(engine, options)
        check_speed(spec.speed)
        if spec.webhook_url and not spec.webhook_url.startswith(("http://", "https://")):
            raise UnsafeUrl("webhook_url must be an http(s) URL", param="webhook_url")
        name = spec.name or document.title or default_name or "Untitled"
        return NewProject(
            name=name, model=engine.name, voice=voice.id,
            document=split_long_chapters(document, self._settings.max_chapter_segments),
            audio_format=(spec.audio_format or self._settings.default_response_format).value,
            sample_rate_hz=voice.sample_rate_hz, speed=spec.speed, options=options,
            webhook_url=spec.webhook_url, owner=spec.owner,
        )

    # --- reading ----------------------------------------------------------------------

    async def get(self, project_id: str, owner: str | None = None) -> ProjectRecord:
        """The project; one of another owner is reported as not found (``owner`` None: any)."""
        project = await asyncio.to_thread(self._repository.get_project, project_id)
        if project is None or (owner is not None and project.owner != owner):
            raise ProjectNotFound(f"no project '{project_id}'", param="project_id")
        return project

    async def status(self, project_id: str) -> ProjectStatus:
        project = await self.get(project_id)
        progress = await asyncio.to_thread(self._repository.progress, project_id)
        return ProjectStatus(project, progress, eta_s(project, progress))

    async def list(
        self, *, limit: int, after: str | None, owner: str | None = None
    ) -> ProjectPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}", param="limit")
        return await asyncio.to_thread(
            self._repository.list_projects, limit=limit, after=after, owner=owner
        )

    async def statuses(self, projects: Sequence[ProjectRecord]) -> builtins.list[ProjectStatus]:
        """The status of each of ``projects`` (a page of the list), in two queries."""
        progress = await asyncio.to_thread(
            self._repository.progress_many, [p.id for p in projects])
        return [ProjectStatus(p, progress[p.id], eta_s(p, progress[p.id])) for p in projects]

    # --- changes ----------------------------------------------------------------------

    async def cancel(self, project_id: str) -> ProjectRecord:
        project = await self.get(project_id)
        if project.state in (ProjectState.COMPLETED, ProjectState.FAILED):
            raise ProjectConflict(f"project '{project_id}' is already {project.state.value}")
        await asyncio.to_thread(self._repository.cancel, project_id)
        self._stopped(project_id)
        return await self.get(project_id)

    def _stopped(self, project_id: str) -> None:
        if self._stop_work is not None:
            self._stop_work(project_id)

    async def delete(self, project_id: str) -> None:
        """Cancel the work, remove the rows, then the artifacts (chapters assembled before
        the project ended included)."""
        await asyncio.to_thread(self._repository.cancel, project_id)
        self._stopped(project_id)
        project = await asyncio.to_thread(self._repository.get_project, project_id)
        keys = await asyncio.to_thread(self._repository.delete, project_id)
        if keys is None or project is None:
            raise ProjectNotFound(f"no project '{project_id}'", param="project_id")
        for key in dict.fromkeys([*keys, *chapter_keys(project)]):
            await self._artifacts.delete(key)

    # --- downloads --------------------------------------------------------------------

    async def download(self, project_id: str, name: str) -> Download:
        """One output file by name (``book.mp3``, ``chapter-001.vtt`` …)."""
        return self._completed_file(await self.get(project_id), name)

    def _completed_file(self, project: ProjectRecord, name: str) -> Download:
        if project.state is not ProjectState.COMPLETED or project.files is None:
            raise ProjectNotReady(
                f"project '{project.id}' is {project.state.value}; its files exist once it "
                "is completed"
            )
        path = project.files.get(name)
        if path is None:
            raise ProjectNotFound(f"project '{project.id}' has no file '{name}'")
        return self._file_download(project, name, path)

    @staticmethod
    def _file_download(project: ProjectRecord, name: str, path: str) -> Download:
        filename = f"{_safe_stem(project.name)}-{name}"
        return Download(file_key(project.id, path), filename, content_type_for_file(name))

    def _chapter_file(self, project: ProjectRecord, chapter: int, name: str) -> Download:
        """A file of one chapter: from the project's files once it is completed, and
        before that as soon as the chapter is assembled (its segments are all done)."""
        record = next((c for c in project.chapters if c.index == chapter), None)
        if record is None:
            raise ProjectNotFound(f"project '{project.id}' has no chapter {chapter}",
                                  param="chapter")
        if project.state is ProjectState.COMPLETED:
            return self._completed_file(project, name)
        if not record.assembled:
            raise ProjectNotReady(
                f"chapter {chapter} of project '{project.id}' is not converted yet "
                f"(the project is {project.state.value})"
            )
        return self._file_download(project, name, f"files/{name}")

    async def chapter_audio(self, project_id: str, chapter: int) -> Download:
        project = await self.get(project_id)
        return self._chapter_file(
            project, chapter, chapter_audio_name(chapter, AudioFormat(project.audio_format))
        )

    async def book_audio(self, project_id: str) -> Download:
        project = await self.get(project_id)
        names = [n for n in project.files or {} if n.startswith("book.")
                 and not n.endswith((".vtt", ".srt"))]
        return await self.download(project_id, names[0] if names else "book")

    async def subtitles(self, project_id: str, kind: str, chapter: int | None) -> Download:
        if chapter is None:
            return await self.download(project_id, f"book.{kind}")
        return self._chapter_file(await self.get(project_id), chapter,
                                  f"{chapter_file_prefix(chapter)}.{kind}")

    async def word_subtitles(
        self, project_id: str, kind: SubtitleKind, chapter: int | None
    ) -> RenderedFile:
        """Word-level subtitles (:mod:`voxserve.jobs.work.word_subtitles`) of the book, or of
        one ``chapter`` once it is ready; the same readiness rules as :meth:`subtitles`."""
        project = await self.get(project_id)
        if chapter is None:
            self._completed_file(project, "manifest.json")
            assert project.files is not None
            name, what = f"book.words.{kind}", "the book"
            load = book_word_cues(self._artifacts, project.id, project.files["manifest.json"])
        else:
            self._chapter_file(project, chapter, f"{chapter_file_prefix(chapter)}.{kind}")
            name, what = f"{chapter_file_prefix(chapter)}.words.{kind}", f"chapter {chapter}"
            load = chapter_word_cues(self._artifacts, project.id, chapter)
        try:
            cues = await load
        except FileNotFoundError as exc:
            raise ArtifactNotFound(f"project '{project.id}' has no stored cues for {what}") \
                from exc
        return RenderedFile(render_word_subtitles(cues, kind),
                            f"{_safe_stem(project.name)}-{name}", content_type_for_file(name))

    async def read(self, download: Download) -> bytes:
        return await self._artifacts.get(download.key)

    async def url(self, download: Download) -> str | None:
        return await self._artifacts.url(download.key, self._settings.storage_url_expiry_s)


def _safe_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-")
    return stem[:60] or "project"


def parse_options_field(raw: str | None, max_depth: int) -> Mapping[str, Any]:
    """The ``options`` form field: a JSON object nesting at most ``max_depth`` levels (a
    multipart field is not seen by the JSON body check, and deep nesting would overflow the
    parser's stack)."""
    if not raw:
        return {}
    if json_depth(raw.encode("utf-8", "surrogatepass")) > max_depth:
        raise JsonTooDeep(f"options nests deeper than {max_depth} levels", param="options")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise InvalidRequest("options must be a JSON object", param="options") from None
    if not isinstance(value, dict):
        raise InvalidRequest("options must be a JSON object", param="options")
    return value
