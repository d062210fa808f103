"""``GET /v1/models`` and ``GET /v1/voices``."""

from __future__ import annotations

from fastapi import APIRouter

from voxserve.api.dependencies import CatalogDep
from voxserve.api.schemas import ModelList, ModelObject, VoiceList, VoiceObject
from voxserve.errors import ModelNotFound

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
async def list_voices(catalog: CatalogDep) -> VoiceList:
    return VoiceList(
        data=[
            VoiceObject(
                id=v.id,
                engine=v.engine,
                language=v.language,
                sample_rate=v.sample_rate_hz,
                description=v.description,
                speakers=list(v.speakers),
                aliases=list(v.aliases),
            )
            for v in catalog.voices()
        ]
    )
