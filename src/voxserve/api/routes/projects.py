"""``/v1/projects``: convert documents to audiobooks (queued, at batch priority).

Create with a multipart upload (``file`` plus form fields) or a JSON body with ``text``;
follow progress with ``GET /v1/projects/{id}`` or the SSE stream ``/events``; download each
chapter (audio, subtitles) as soon as it is converted, and the book, its subtitles and the
manifest once the project is completed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from voxserve.api.auth import current_principal
from voxserve.api.dependencies import ProjectOwnerDep, ProjectServiceDep, SettingsDep
from voxserve.api.project_schemas import ProjectBody, ProjectList, ProjectTextRequest, project_body
from voxserve.api.schemas import ErrorResponse
from voxserve.api.sse import sse_event, sse_response
from voxserve.errors import DocumentTooLarge, InvalidRequest, UnsupportedFormat
from voxserve.jobs.work.word_subtitles import SubtitleKind
from voxserve.service.projects import (
    Download,
    ProjectService,
    ProjectSpec,
    check_granularity,
    parse_options_field,
)
from voxserve.settings import Settings
from voxserve.storage import LocalArtifactStore
from voxserve.types import AudioFormat

router = APIRouter(tags=["projects"])

#: Room for multipart boundaries and form fields on top of ``max_upload_bytes``.
FORM_OVERHEAD_BYTES = 64 * 1024
#: How often the SSE stream reads progress from the database.
EVENTS_POLL_S = 0.5

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse}, 404: {"model": ErrorResponse},
    409: {"model": ErrorResponse}, 413: {"model": ErrorResponse}, 422: {"model": ErrorResponse},
}

def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` put in place of their ``$ref``s: inside an
    OpenAPI operation, ``#/$defs/…`` points nowhere (ReDoc fails on it)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_UPLOAD_SCHEMA = {
    "requestBody": {
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    **{name: {"type": "string"} for name in (
                        "name", "model", "voice", "response_format", "speed", "options",
                        "webhook_url")},
                },
            }},
            "application/json": {"schema": _inline_refs(ProjectTextRequest.model_json_schema())},
        },
        "required": True,
    }
}


def _creator(request: Request) -> str | None:
    """The owner recorded on a new project: the caller's stable id (None with auth off)."""
    principal = current_principal(request)
    return principal.owner_id if principal is not None else None


def _too_large(length: int, limit: int) -> DocumentTooLarge:
    return DocumentTooLarge(f"the upload is {length} bytes; the limit is {limit}", param="file")


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


def _format(value: str | None) -> AudioFormat | None:
    if not value:
        return None
    try:
        return AudioFormat(value.strip().lower())
    except ValueError:
        formats = ", ".join(f.value for f in AudioFormat)
        raise UnsupportedFormat(
            f"response_format '{value}' is not supported (one of: {formats})",
            param="response_format",
        ) from None


def _speed(value: str | None) -> float:
    if not value:
        return 1.0
    try:
        return float(value)
    except ValueError:
        raise InvalidRequest("speed must be a number", param="speed") from None


async def _create_from_json(
    request: Request, service: ProjectService, settings: Settings
) -> ProjectBody:
    length = _declared_length(request)
    if length is not None and length > settings.max_upload_bytes:
        raise _too_large(length, settings.max_upload_bytes)
    raw = await request.body()
    if len(raw) > settings.max_upload_bytes:
        raise _too_large(len(raw), settings.max_upload_bytes)
    try:  # up to 20 MB: parsed off the event loop
        body = await asyncio.to_thread(ProjectTextRequest.model_validate_json, raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    spec = ProjectSpec(
        name=body.name, model=body.model, voice=body.voice, audio_format=body.response_format,
        speed=body.speed, options=body.options, webhook_url=body.webhook_url,
        owner=_creator(request),
    )
    project = await service.create_from_text(body.text, markdown=body.markdown, spec=spec)
    return project_body(project)


async def _create_from_upload(
    request: Request, service: ProjectService, settings: Settings
) -> ProjectBody:
    limit = settings.max_upload_bytes
    length = _declared_length(request)
    if length is not None and length > limit + FORM_OVERHEAD_BYTES:
        raise _too_large(length, limit)  # refused before reading the body
    form = await request.form(max_files=1, max_fields=20)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("missing required parameter 'file' (the document)",
                                 param="file")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise _too_large(upload.size or len(data), limit)

        def field(name: str) -> str | None:
            value = form.get(name)
            return value.strip() or None if isinstance(value, str) else None

        spec = ProjectSpec(
            name=field("name"), model=field("model"), voice=field("voice"),
            audio_format=_format(field("response_format")), speed=_speed(field("speed")),
            options=parse_options_field(field("options"), settings.max_json_depth),
            webhook_url=field("webhook_url"),
            owner=_creator(request),
        )
        project = await service.create_from_upload(
            data, filename=upload.filename, content_type=upload.content_type, spec=spec
        )
    finally:
        await form.close()
    return project_body(project)


@router.post("/v1/projects", status_code=201, response_model=ProjectBody,
             responses=_ERRORS, openapi_extra=_UPLOAD_SCHEMA)
async def create_project(
    request: Request, service: ProjectServiceDep, settings: SettingsDep
) -> JSONResponse:
    """Queue a document (multipart ``file``) or text (JSON ``text``) for conversion."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        body = await _create_from_json(request, service, settings)
    elif media_type == "multipart/form-data":
        body = await _create_from_upload(request, service, settings)
    else:
        raise InvalidRequest(
            "send the document as multipart/form-data (field 'file') or JSON {\"text\": …}"
        )
    return JSONResponse(body.model_dump(mode="json"), status_code=201)


@router.get("/v1/projects", response_model=ProjectList, responses=_ERRORS)
async def list_projects(
    service: ProjectServiceDep,
    owner: ProjectOwnerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> ProjectList:
    """Projects, newest first, each with its chapters and progress as in the detail view;
    pass ``next_cursor`` as ``after`` for the next page."""
    page = await service.list(limit=limit, after=after, owner=owner)
    statuses = await service.statuses(page.items)
    return ProjectList(data=[project_body(s.project, s) for s in statuses],
                       has_more=page.next_cursor is not None, next_cursor=page.next_cursor)


@router.get("/v1/projects/{project_id}", response_model=ProjectBody, responses=_ERRORS)
async def get_project(
    project_id: str, service: ProjectServiceDep, owner: ProjectOwnerDep
) -> ProjectBody:
    """State and progress (per chapter, overall percent, ETA from the measured rate)."""
    await service.get(project_id, owner)
    status = await service.status(project_id)
    return project_body(status.project, status)


@router.get("/v1/projects/{project_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}, **_ERRORS})
async def project_events(
    project_id: str, service: ProjectServiceDep, owner: ProjectOwnerDep,
    settings: SettingsDep,
) -> StreamingResponse:
    """SSE: ``state`` (``{"state": ...}``) when the state changes (queued, running),
    ``progress`` when progress changes, then ``completed``, ``failed`` or ``canceled``
    (with the project) and the end of the stream."""
    await service.get(project_id, owner)  # 404 before the stream starts

    async def events() -> AsyncIterator[bytes]:
        last: bytes | None = None
        last_state: str | None = None
        while True:
            status = await service.status(project_id)
            body = project_body(status.project, status).model_dump(mode="json")
            if status.project.state.finished:
                yield sse_event(body, event=status.project.state.value)
                return
            if body["state"] != last_state:
                last_state = body["state"]
                yield sse_event({"state": last_state}, event="state")
            progress = sse_event(body["progress"], event="progress")
            if progress != last:
                last = progress
                yield progress
            await asyncio.sleep(EVENTS_POLL_S)

    return sse_response(events(), keepalive_s=settings.sse_keepalive_s)


@router.post("/v1/projects/{project_id}/cancel", response_model=ProjectBody, responses=_ERRORS)
async def cancel_project(
    project_id: str, service: ProjectServiceDep, owner: ProjectOwnerDep
) -> ProjectBody:
    """Stop converting: pending segments are skipped. 409 if already completed or failed."""
    await service.get(project_id, owner)
    return project_body(await service.cancel(project_id))


@router.delete("/v1/projects/{project_id}", status_code=204, responses=_ERRORS)
async def delete_project(
    project_id: str, service: ProjectServiceDep, owner: ProjectOwnerDep
) -> Response:
    """Cancel the project and delete it with all its files."""
    await service.get(project_id, owner)
    await service.delete(project_id)
    return Response(status_code=204)


async def _serve(service: ProjectService, download: Download) -> Response:
    store = service.artifacts
    if isinstance(store, LocalArtifactStore):
        return FileResponse(store.path(download.key), media_type=download.content_type,
                            filename=download.filename)
    url = await service.url(download)
    if url:
        return RedirectResponse(url, status_code=307)
    return Response(await service.read(download), media_type=download.content_type)


_FILE = {200: {"content": {"audio/mpeg": {}}}, **_ERRORS}


@router.get("/v1/projects/{project_id}/chapters/{chapter}/audio", responses=_FILE)
async def chapter_audio(
    project_id: str, chapter: int, service: ProjectServiceDep, owner: ProjectOwnerDep
) -> Response:
    """One chapter's audio (chapters count from 0), as soon as that chapter is converted
    (``progress.chapters[i].ready``), before the rest of the project; 409 until then."""
    await service.get(project_id, owner)
    return await _serve(service, await service.chapter_audio(project_id, chapter))


@router.get("/v1/projects/{project_id}/audio", responses=_FILE)
async def book_audio(
    project_id: str, service: ProjectServiceDep, owner: ProjectOwnerDep
) -> Response:
    """The whole book in one file, with chapter markers."""
    await service.get(project_id, owner)
    return await _serve(service, await service.book_audio(project_id))


@router.get("/v1/projects/{project_id}/subtitles.vtt", responses=_ERRORS)
async def subtitles_vtt(
    project_id: str, service: ProjectServiceDep, owner: ProjectOwnerDep,
    chapter: int | None = None, granularity: str = "sentence",
) -> Response:
    """WebVTT cues of the whole book, or of one ``chapter`` (once that chapter is ready).
    ``granularity=word``: the same cues with a timestamp tag before each word (karaoke)."""
    return await _subtitles(service, owner, project_id, "vtt", chapter, granularity)


@router.get("/v1/projects/{project_id}/subtitles.srt", responses=_ERRORS)
async def subtitles_srt(
    project_id: str, service: ProjectServiceDep, owner: ProjectOwnerDep,
    chapter: int | None = None, granularity: str = "sentence",
) -> Response:
    """SRT cues of the whole book, or of one ``chapter`` (once that chapter is ready).
    ``granularity=word``: one subtitle per word."""
    return await _subtitles(service, owner, project_id, "srt", chapter, granularity)


async def _subtitles(
    service: ProjectService, owner: str | None, project_id: str, kind: SubtitleKind,
    chapter: int | None, granularity: str,
) -> Response:
    await service.get(project_id, owner)
    if not check_granularity(granularity):
        return await _serve(service, await service.subtitles(project_id, kind, chapter))
    rendered = await service.word_subtitles(project_id, kind, chapter)
    return Response(rendered.content, media_type=rendered.content_type, headers={
        "Content-Disposition": f'attachment; filename="{rendered.filename}"'})


@router.get("/v1/projects/{project_id}/manifest.json", responses=_ERRORS)
async def manifest(
    project_id: str, service: ProjectServiceDep, owner: ProjectOwnerDep
) -> Response:
    """The manifest: chapters, durations, start times in the book, files."""
    await service.get(project_id, owner)
    return await _serve(service, await service.download(project_id, "manifest.json"))
