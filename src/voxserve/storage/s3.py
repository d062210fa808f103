"""Artifacts in S3 or an S3-compatible store (MinIO …), through boto3 on worker threads.

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, instance roles …). Uploads above ``multipart_threshold_bytes`` are sent in
parts by boto3's transfer manager; a single PUT or a completed multipart upload is atomic.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from voxserve.storage.base import DEFAULT_CONTENT_TYPE, validate_key

DEFAULT_MULTIPART_BYTES = 8 * 1024 * 1024
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3ArtifactStore:
    """Objects named ``<prefix><key>`` in ``bucket``; :meth:`url` presigns a GET."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        url_expiry_s: int = 3600,
        multipart_threshold_bytes: int = DEFAULT_MULTIPART_BYTES,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._url_expiry_s = url_expiry_s
        # Custom endpoints (MinIO and the like) usually want path-style addressing.
        addressing = {"addressing_style": "path"} if endpoint_url else {}
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(signature_version="s3v4", s3=addressing,
                          retries={"mode": "standard", "max_attempts": 3}),
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold_bytes,
            multipart_chunksize=multipart_threshold_bytes,
        )

    def object_key(self, key: str) -> str:
        """The S3 object key of artifact ``key``."""
        return self.prefix + validate_key(key)

    async def put(
        self, key: str, data: bytes | Path, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> None:
        name = self.object_key(key)
        extra = {"ContentType": content_type}
        if isinstance(data, bytes):
            await asyncio.to_thread(
                self._client.upload_fileobj, io.BytesIO(data), self.bucket, name,
                ExtraArgs=extra, Config=self._transfer,
            )
        else:
            await asyncio.to_thread(
                self._client.upload_file, str(data), self.bucket, name,
                ExtraArgs=extra, Config=self._transfer,
            )

    async def get(self, key: str) -> bytes:
        name = self.object_key(key)
        try:
            return await asyncio.to_thread(self._read, name)
        except ClientError as exc:
            if _not_found(exc):
                raise FileNotFoundError(f"no artifact {key!r}") from exc
            raise

    async def url(self, key: str, expires_s: int | None = None) -> str | None:
        url: str = await asyncio.to_thread(
            self._client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.object_key(key)},
            ExpiresIn=expires_s or self._url_expiry_s,
        )
        return url

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(
            self._client.delete_object, Bucket=self.bucket, Key=self.object_key(key)
        )

    async def exists(self, key: str) -> bool:
        name = self.object_key(key)
        try:
            await asyncio.to_thread(self._client.head_object, Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _not_found(exc):
                return False
            raise
        return True

    def _read(self, name: str) -> bytes:
        body = self._client.get_object(Bucket=self.bucket, Key=name)["Body"]
        with body:
            data: bytes = body.read()
        return data


def _not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND_CODES
