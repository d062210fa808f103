"""The artifact store a process uses, from ``VOXSERVE_STORAGE_URL`` and the ``s3_*`` settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from voxserve.errors import ConfigurationError
from voxserve.settings import Settings
from voxserve.storage.base import ArtifactStore, validate_key
from voxserve.storage.local import LocalArtifactStore


def create_artifact_store(settings: Settings) -> ArtifactStore:
    """``local``: files under ``<data_dir>/artifacts``; ``s3://bucket/prefix``: S3 (boto3).

    Raises ``ConfigurationError`` for another URL, a malformed S3 URL, or missing boto3.
    """
    url = settings.storage_url.strip()
    if url == "local":
        return LocalArtifactStore(settings.data_dir.expanduser() / "artifacts")
    if not url.startswith("s3://"):
        raise ConfigurationError(
            f"VOXSERVE_STORAGE_URL={url!r}: expected 'local' or 's3://bucket/prefix'"
        )
    bucket, prefix = parse_s3_url(url)
    try:
        from voxserve.storage.s3 import S3ArtifactStore
    except ImportError as exc:
        raise ConfigurationError(
            f"VOXSERVE_STORAGE_URL={url!r} needs the 'boto3' package (pip install voxserve[s3])"
        ) from exc
    return S3ArtifactStore(
        bucket,
        prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        url_expiry_s=settings.storage_url_expiry_s,
    )


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b/")``; ``s3://bucket`` -> ``("bucket", "")``."""
    parts = urlsplit(url)
    prefix = parts.path.strip("/")
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(f"VOXSERVE_STORAGE_URL={url!r}: expected s3://bucket/prefix")
    if prefix:
        try:
            validate_key(prefix)
        except ValueError as exc:
            raise ConfigurationError(f"VOXSERVE_STORAGE_URL={url!r}: bad prefix: {exc}") from None
        prefix += "/"
    return parts.netloc, prefix
