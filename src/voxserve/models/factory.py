"""The model repository a process uses, from ``VOXSERVE_MODEL_REPOSITORY``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from voxserve.errors import ConfigurationError
from voxserve.models.repository import LocalModelRepository, ModelRepository
from voxserve.settings import Settings


def create_model_repository(settings: Settings) -> ModelRepository:
    """A directory (default: the models directory), or ``s3://bucket/prefix`` (the ``s3``
    extra; files cached under ``<data_dir>/model-cache``)."""
    location = settings.model_repository
    if not location or "://" not in location:
        return LocalModelRepository(Path(location).expanduser() if location
                                    else settings.resolved_models_dir)
    parsed = urlparse(location)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigurationError(
            f"VOXSERVE_MODEL_REPOSITORY must be a directory or s3://bucket/prefix, not "
            f"{location!r}")
    try:
        from voxserve.models.s3 import S3ModelRepository
    except ImportError as exc:
        raise ConfigurationError(
            "an s3:// model repository needs boto3: install voxserve[s3]") from exc
    return S3ModelRepository(
        parsed.netloc, parsed.path, settings.data_dir.expanduser() / "model-cache",
        endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
    )
