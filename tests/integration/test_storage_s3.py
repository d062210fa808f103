"""S3ArtifactStore against moto's S3 in server mode (a real HTTP endpoint on loopback)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.s3_tools import REGION, moto_endpoint, use_fake_credentials
from voxserve.settings import Settings
from voxserve.storage import create_artifact_store

boto3 = pytest.importorskip("boto3", reason="S3 storage needs boto3 (the s3 extra)")
pytest.importorskip("moto.server", reason="the S3 tests need moto[server]")

from voxserve.storage.s3 import S3ArtifactStore  # noqa: E402

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake keys from the environment only: no profile or config file of the machine."""
    use_fake_credentials(monkeypatch, tmp_path)


@pytest.fixture
def s3(endpoint: str, fake_credentials: None) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"voxserve-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_put_get_exists_delete_under_the_prefix(endpoint: str, s3: Any, bucket: str) -> None:
    store = S3ArtifactStore(bucket, "renders/", endpoint_url=endpoint, region=REGION)

    async def scenario() -> None:
        assert not await store.exists("jobs/1/out.mp3")
        await store.put("jobs/1/out.mp3", b"ID3 audio", "audio/mpeg")
        assert await store.exists("jobs/1/out.mp3")
        assert await store.get("jobs/1/out.mp3") == b"ID3 audio"
        listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert [item["Key"] for item in listed] == ["renders/jobs/1/out.mp3"]
        head = s3.head_object(Bucket=bucket, Key="renders/jobs/1/out.mp3")
        assert head["ContentType"] == "audio/mpeg"
        await store.delete("jobs/1/out.mp3")
        await store.delete("jobs/1/out.mp3")  # deleting twice is fine
        assert not await store.exists("jobs/1/out.mp3")
        with pytest.raises(FileNotFoundError):
            await store.get("jobs/1/out.mp3")
        with pytest.raises(ValueError, match="artifact key"):
            await store.get("../secrets")

    asyncio.run(scenario())


def test_presigned_url_serves_the_bytes(endpoint: str, bucket: str) -> None:
    store = S3ArtifactStore(bucket, "p/", endpoint_url=endpoint, region=REGION)
    data = os.urandom(50_000)

    async def scenario() -> str | None:
        await store.put("a.wav", data, "audio/wav")
        return await store.url("a.wav", expires_s=120)

    url = asyncio.run(scenario())
    assert url is not None and "X-Amz-Signature" in url and "/p/a.wav" in url
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == data


def test_big_file_goes_up_in_parts(endpoint: str, s3: Any, bucket: str, tmp_path: Path) -> None:
    store = S3ArtifactStore(bucket, endpoint_url=endpoint, region=REGION,
                            multipart_threshold_bytes=5 * MIB)
    source = tmp_path / "long.wav"
    source.write_bytes(os.urandom(6 * MIB))

    async def scenario() -> bytes:
        await store.put("long.wav", source, "audio/wav")
        return await store.get("long.wav")

    assert asyncio.run(scenario()) == source.read_bytes()
    assert s3.head_object(Bucket=bucket, Key="long.wav")["ETag"].endswith('-2"')


def test_factory_builds_the_configured_store(endpoint: str, s3: Any, bucket: str,
                                             tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, storage_url=f"s3://{bucket}/team/renders",
                        s3_endpoint_url=endpoint, s3_region=REGION)
    store = create_artifact_store(settings)
    assert isinstance(store, S3ArtifactStore)
    asyncio.run(store.put("x.pcm", b"\0\1"))
    assert s3.get_object(Bucket=bucket, Key="team/renders/x.pcm")["Body"].read() == b"\0\1"
