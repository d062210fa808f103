"""``GET /v1/models``, ``GET /v1/voices`` and a voice's preview clip."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from voxserve.api.dependencies import CatalogDep, SettingsDep
from voxserve.api.schemas import ModelList, ModelObject, VoiceList, VoiceObject
from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import ModelNotFound, ModelVersionNotFound, VoxserveError
from voxserve.service.previews import VoicePreviews
from voxserve.settings import Settings
from voxserve.types import AudioFormat, VoiceInfo

router = APIRouter(tags=["catalog"])


@router.get("/v1/models", response_model=ModelList)
async def list_models(catalog: CatalogDep) -> ModelList:
    return ModelList(data=[ModelObject(id=m.id, engine=m.engine) for m in catalog.models()])


@router.get("/v1/models/{model_id}", response_model=ModelObject)
async def get_model(model_id: str, catalog: CatalogDep) -> ModelObject:
    for model in catalog.models():
        if model.id == model_id:
            return ModelObject(id=model.id, engine=model.engine)
    raise ModelNotFound(f"unknown model '{model_id}'", param="model")


@router.get("/v1/voices", response_model=VoiceList)
async def list_voices(catalog: CatalogDep, settings: SettingsDep) -> VoiceList:
    """Every voice: its aliases, the OpenAI names that reach it, language, the active model
    version and all versions, and where to hear a preview."""
    return VoiceList(data=await asyncio.to_thread(_voice_objects, catalog, settings))


@router.get("/v1/voices/{voice_id}/preview",
            responses={200: {"content": {"audio/mpeg": {}}}}, response_class=Response)
async def voice_preview(
    voice_id: str, request: Request,
    audio_format: Annotated[AudioFormat, Query(alias="format")] = AudioFormat.MP3,
) -> Response:
    """A short clip of the voice (its active version, or ``model@version``), synthesized
    once per version and kept."""
    previews: VoicePreviews = request.app.state.previews
    clip = await previews.get(voice_id, audio_format)
    return Response(clip.data, media_type=clip.content_type, headers={
        "X-Voxserve-Voice": clip.voice_id, "Cache-Control": "private, max-age=300"})


def _voice_objects(catalog: EngineCatalog, settings: Settings) -> list[VoiceObject]:
    return [_voice_object(voice, catalog, settings) for voice in catalog.voices()]


def _voice_object(voice: VoiceInfo, catalog: EngineCatalog, settings: Settings) -> VoiceObject:
    try:
        status = catalog.hosted.status(voice.id)
        version, versions = status.active, [row.version for row in status.versions]
    except ModelVersionNotFound:
        version, versions = None, []
    except VoxserveError:  # the repository cannot be read now: what this server serves
        version = voice.version.split(":", 1)[0] if ":" in voice.version else None
        versions = [version] if version else []
    names = {voice.id, *voice.aliases}
    return VoiceObject(
        id=voice.id,
        engine=voice.engine,
        language=voice.language,
        sample_rate=voice.sample_rate_hz,
        description=voice.description,
        speakers=list(voice.speakers),
        aliases=list(voice.aliases),
        openai_voices=sorted(name for name, target in settings.voice_aliases.items()
                             if target in names),
        version=version,
        versions=versions,
        preview_url=f"/v1/voices/{voice.id}/preview",
    )
