"""``GET /v1/audio/files/{key}``: stored audio, for the local artifact store.

With S3 storage, clients get presigned S3 URLs instead and this route is not used for them.
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

@router.get("/v1/audio/files/{key:path}", response_class=FileResponse,
            responses={404: {"model": ErrorResponse}})
async def get_audio_file(key: str, artifacts: ArtifactsDep) -> FileResponse:
    """Download audio stored by a speech request with ``return_url``."""
    try:
        validate_key(key)
    except ValueError:
        raise ArtifactNotFound(f"no stored audio '{key}'", param="key") from None
    if not isinstance(artifacts, LocalArtifactStore) or not await artifacts.exists(key):
        raise ArtifactNotFound(f"no stored audio '{key}'", param="key")
    return FileResponse(artifacts.path(key), media_type=content_type_for_file(key))
