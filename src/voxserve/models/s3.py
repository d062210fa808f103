"""The model repository in S3 (or MinIO …): one bucket prefix shared by every server.

Objects: ``<prefix><model>/<version>/<file>``, the version's ``manifest.json`` (uploaded
last: a version without it is not listed, so a reader never sees half an upload),
``<prefix><model>/active.json``. An import is staged and checked locally, then uploaded; a
version is downloaded (and its checksums verified) into a local cache directory the first
time a server loads it. Needs boto3 (the ``s3`` extra).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from voxserve.errors import (
    InvalidModel,
    ModelConflict,
    ModelSourceUnavailable,
    ModelVersionNotFound,
)
from voxserve.models.manifest import MANIFEST_NAME, ModelManifest, verify_files
from voxserve.models.repository import (
    POINTER_NAME,
    RESERVED_NAMES,
    Pointer,
    StoredVersion,
    VersionCheck,
    check_names,
    find_version,
    pointer_from_json,
    pointer_to_json,
    stage_version,
    version_sort_key,
)

logger = logging.getLogger(__name__)


class S3ModelRepository:
    """Model versions under ``s3://bucket/prefix``; files cached under ``cache_dir``."""

    def __init__(self, bucket: str, prefix: str, cache_dir: Path, *,
                 endpoint_url: str | None = None, region: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.root = cache_dir
        addressing = {"addressing_style": "path"} if endpoint_url else {}
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            config=Config(signature_version="s3v4", s3=addressing,
                          retries={"mode": "standard", "max_attempts": 3}),
        )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    # --- reading ------------------------------------------------------------------------

    def models(self) -> list[str]:
        names = set()
        for page in self._pages(self.prefix, delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(self.prefix):].rstrip("/")
                if name and name not in RESERVED_NAMES and not name.startswith("."):
                    names.add(name)
        return sorted(name for name in names if self.versions(name))

    def versions(self, model: str) -> list[StoredVersion]:
        sizes: dict[str, int] = {}
        manifests: dict[str, float] = {}
        base = f"{self.prefix}{model}/"
        for page in self._pages(base):
            for item in page.get("Contents", []):
                version, _, name = item["Key"][len(base):].partition("/")
                if not name:
                    continue
                sizes[version] = sizes.get(version, 0) + (
                    0 if name == MANIFEST_NAME else int(item["Size"]))
                if name == MANIFEST_NAME:
                    manifests[version] = item["LastModified"].timestamp()
        found = []
        for version, created in manifests.items():
            try:
                manifest = ModelManifest.model_validate_json(self._get(f"{base}{version}/"
                                                                       f"{MANIFEST_NAME}"))
            except (ValueError, ModelVersionNotFound) as exc:
                logger.warning("ignoring model version %s@%s: %s", model, version, exc)
                continue
            found.append(StoredVersion(model, version, self.root / model / version, manifest,
                                       created, sizes.get(version, 0)))
        return sorted(found, key=lambda stored: version_sort_key(stored.version))

    def version(self, model: str, version: str) -> StoredVersion:
        return find_version(self.versions(model), model, version)

    def pointer(self, model: str) -> Pointer:
        try:
            return pointer_from_json(self._get(f"{self.prefix}{model}/{POINTER_NAME}").decode())
        except ModelVersionNotFound:
            return Pointer()
        except (ValueError, AttributeError) as exc:
            logger.warning("ignoring unreadable pointer of %s: %s", model, exc)
            return Pointer()

    def next_version(self, model: str) -> str:
        numbers = [int(v.version) for v in self.versions(model) if v.version.isdigit()]
        return str(max(numbers, default=0) + 1)

    def materialize(self, stored: StoredVersion) -> Path:
        """Download the version once into the cache (checksums verified), atomically."""
        target = self.root / stored.model / stored.version
        if (target / MANIFEST_NAME).is_file():
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=".download-", dir=self.root))
        try:
            base = f"{self.prefix}{stored.model}/{stored.version}/"
            for name in stored.manifest.files:
                self._call(self._client.download_file, self.bucket, base + name,
                           str(staged / name))
            verify_files(staged, stored.manifest)
            (staged / MANIFEST_NAME).write_text(stored.manifest.dump(), "utf-8")
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # another load won: the same content
                staged.rename(target)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return target

    # --- writing ------------------------------------------------------------------------

    def set_pointer(self, model: str, pointer: Pointer) -> None:
        data = pointer_to_json(pointer)
        self._call(self._client.put_object, Bucket=self.bucket,
                   Key=f"{self.prefix}{model}/{POINTER_NAME}", Body=data.encode(),
                   ContentType="application/json")

    def add(
        self, source: Path, model: str, version: str | None = None, *,
        manifest: ModelManifest | None = None, engine: str | None = None,
        check: VersionCheck | None = None, source_label: str = "",
    ) -> StoredVersion:
        version = check_names(model, version or self.next_version(model))
        base = f"{self.prefix}{model}/{version}/"
        if self._exists(base + MANIFEST_NAME):
            raise ModelConflict(f"model '{model}' already has a version '{version}'",
                                param="version")
        self.root.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            settled = stage_version(source, staged, manifest=manifest, engine=engine,
                                    check=check, source_label=source_label)
            for name in settled.files:
                self._call(self._client.upload_file, str(staged / name), self.bucket,
                           base + name)
            self._call(self._client.upload_file, str(staged / MANIFEST_NAME), self.bucket,
                       base + MANIFEST_NAME)  # last: the version exists from now on
            target = self.root / model / version
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                staged.rename(target)  # the cache has it already
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return self.version(model, version)

    def remove(self, model: str, version: str) -> None:
        stored = self.version(model, version)
        pointer = self.pointer(model)
        if pointer.active == version:
            raise ModelConflict(f"version '{version}' is the active version of '{model}'; "
                                "activate another first", param="version")
        base = f"{self.prefix}{model}/{version}/"
        self._call(self._client.delete_object, Bucket=self.bucket, Key=base + MANIFEST_NAME)
        for name in stored.manifest.files:
            self._call(self._client.delete_object, Bucket=self.bucket, Key=base + name)
        shutil.rmtree(self.root / model / version, ignore_errors=True)
        if version in pointer.history:
            self.set_pointer(model, replace(
                pointer, history=tuple(v for v in pointer.history if v != version)))

    # --- internals ----------------------------------------------------------------------

    def _pages(self, prefix: str, delimiter: str = "") -> list[dict]:  # type: ignore[type-arg]
        paginator = self._client.get_paginator("list_objects_v2")
        arguments = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = delimiter
        return list(self._call(lambda: list(paginator.paginate(**arguments))))

    def _get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = response["Body"].read()
            return data
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ModelVersionNotFound(f"no s3://{self.bucket}/{key}") from None
            raise self._unavailable(exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc) from exc

    def _exists(self, key: str) -> bool:
        try:
            self._get(key)
        except ModelVersionNotFound:
            return False
        return True

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> ModelSourceUnavailable:
        return ModelSourceUnavailable(f"model repository {self.describe()}: {exc}")


__all__ = ["InvalidModel", "S3ModelRepository"]
