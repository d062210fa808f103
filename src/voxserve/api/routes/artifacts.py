"""``GET /v1/audio/files/{key}``: audio stored by a speech request with ``return_url``, for
the local artifact store (with S3, clients get presigned, expiring S3 URLs instead).

Only those files: keys ``speech/<random id>.<ext>``, where the id (128 random bits) is the
capability the client was given. Everything else in the store (a project's chapters,
book, subtitles, manifest, sentence audio) has an owner and is served only through
``/v1/projects/{id}/…``, which checks it; here it is "not found" like any unknown key.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from voxserve.api.dependencies import ArtifactsDep
from voxserve.api.schemas import ErrorResponse
from voxserve.audio import content_type_for_file
from voxserve.errors import ArtifactNotFound
from voxserve.storage import LocalArtifactStore, validate_key

router = APIRouter(tags=["speech"])

#: The only part of the artifact store this route serves (see ``SpeechService.store``).
SPEECH_PREFIX = "speech/"

@router.get("/v1/audio/files/{key:path}", response_class=FileResponse,
            responses={404: {"model": ErrorResponse}})
async def get_audio_file(key: str, artifacts: ArtifactsDep) -> FileResponse:
    """Download audio stored by a speech request with ``return_url``."""
    try:
        validate_key(key)
    except ValueError:
        raise ArtifactNotFound(f"no stored audio '{key}'", param="key") from None
    if (not key.startswith(SPEECH_PREFIX) or not isinstance(artifacts, LocalArtifactStore)
            or not await artifacts.exists(key)):
        raise ArtifactNotFound(f"no stored audio '{key}'", param="key")
    return FileResponse(artifacts.path(key), media_type=content_type_for_file(key))
