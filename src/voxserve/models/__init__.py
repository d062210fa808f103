"""The model repository: versioned model files with manifests and an active pointer each."""

from voxserve.models.manifest import (
    MANIFEST_NAME,
    ModelManifest,
    build_manifest,
    check_name,
    read_manifest,
    sha256_file,
    verify_files,
)
from voxserve.models.repository import (
    READ_ONLY_VERSIONS,
    RESERVED_NAMES,
    LocalModelRepository,
    ModelRepository,
    Pointer,
    StoredVersion,
    VersionCheck,
    version_sort_key,
)

__all__ = [
    "MANIFEST_NAME",
    "READ_ONLY_VERSIONS",
    "RESERVED_NAMES",
    "LocalModelRepository",
    "ModelManifest",
    "ModelRepository",
    "Pointer",
    "StoredVersion",
    "VersionCheck",
    "build_manifest",
    "check_name",
    "read_manifest",
    "sha256_file",
    "verify_files",
    "version_sort_key",
]
