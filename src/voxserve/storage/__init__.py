"""Artifact storage: finished audio files by key, on local disk or in S3.

``create_artifact_store`` builds the configured store; the S3 backend (and boto3) is
imported only when ``VOXSERVE_STORAGE_URL`` names an ``s3://`` bucket.
"""

from voxserve.storage.base import ArtifactStore, validate_key
from voxserve.storage.factory import create_artifact_store, parse_s3_url
from voxserve.storage.local import LocalArtifactStore

__all__ = [
    "ArtifactStore",
    "LocalArtifactStore",
    "create_artifact_store",
    "parse_s3_url",
    "validate_key",
]
