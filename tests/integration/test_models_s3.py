"""The model repository in S3 (moto's S3 in server mode on loopback): versions, pointer,
download with checksums, errors; and a server loading and swapping versions from it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.s3_tools import REGION, moto_endpoint, use_fake_credentials
from tests.models_tools import joe_version_dir
from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import InvalidModel, ModelConflict, ModelSourceUnavailable
from voxserve.models import Pointer
from voxserve.settings import Settings

boto3 = pytest.importorskip("boto3", reason="an S3 repository needs boto3 (the s3 extra)")
pytest.importorskip("moto.server", reason="the S3 tests need moto[server]")

from voxserve.models.s3 import S3ModelRepository  # noqa: E402

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_fake_credentials(monkeypatch, tmp_path)


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"voxserve-models-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket=name)
    return name


def _small_source(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "voice.onnx").write_bytes(b"weights" * 10)
    (source / "voice.onnx.json").write_text("{}")
    return source


def test_versions_pointer_download_and_remove(endpoint: str, bucket: str,
                                              tmp_path: Path) -> None:
    writer = S3ModelRepository(bucket, "models/", tmp_path / "cache-a", endpoint_url=endpoint,
                               region=REGION)
    source = _small_source(tmp_path)
    first = writer.add(source, "amy", engine="piper")
    second = writer.add(source, "amy", engine="piper")
    assert (first.version, second.version) == ("1", "2")
    with pytest.raises(ModelConflict):
        writer.add(source, "amy", "2", engine="piper")
    with pytest.raises(InvalidModel, match="name the engine"):
        writer.add(source, "amy")
    writer.set_pointer("amy", Pointer("2", ("1",)))
    # Another server, its own cache: sees the same versions and pointer, downloads on load.
    reader = S3ModelRepository(bucket, "models", tmp_path / "cache-b", endpoint_url=endpoint,
                               region=REGION)
    assert reader.models() == ["amy"]
    assert [v.version for v in reader.versions("amy")] == ["1", "2"]
    assert reader.versions("amy")[0].bytes == 70 + 2
    assert reader.pointer("amy") == Pointer("2", ("1",))
    directory = reader.materialize(reader.version("amy", "2"))
    assert (directory / "voice.onnx").read_bytes() == b"weights" * 10
    assert directory.is_relative_to(tmp_path / "cache-b")
    # A changed object in the bucket is caught by the checksums at download.
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.put_object(Bucket=bucket, Key="models/amy/1/voice.onnx", Body=b"tampered")
    with pytest.raises(InvalidModel, match="checksum mismatch"):
        reader.materialize(reader.version("amy", "1"))
    assert not (tmp_path / "cache-b" / "amy" / "1").exists()
    with pytest.raises(ModelConflict, match="active"):
        writer.remove("amy", "2")
    writer.remove("amy", "1")
    assert [v.version for v in reader.versions("amy")] == ["2"]
    assert reader.pointer("amy") == Pointer("2", ())


def test_unreachable_repository_is_a_clear_error(tmp_path: Path) -> None:
    repository = S3ModelRepository("nope", "", tmp_path, endpoint_url="http://127.0.0.1:9",
                                   region=REGION)
    with pytest.raises(ModelSourceUnavailable, match="s3://nope/"):
        repository.models()
    # A server whose repository is down still starts and serves its engines' own voices.
    settings = Settings(data_dir=tmp_path / "data", engines=["piper"], engine_replicas=1,
                        model_repository="s3://nope/models", s3_endpoint_url="http://127.0.0.1:9",
                        s3_region=REGION)
    catalog = EngineCatalog(settings)
    catalog.load()
    try:
        assert catalog.resolve(None, "joe")[1].id == "en_US-joe-medium"
        assert "en_US-joe-medium" in {voice.id for voice in catalog.voices()}
    finally:
        catalog.close()


def test_a_server_loads_and_swaps_versions_from_s3(endpoint: str, bucket: str,
                                                   tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", engines=["piper"], engine_replicas=1,
                        model_repository=f"s3://{bucket}/repo", s3_endpoint_url=endpoint,
                        s3_region=REGION)
    catalog = EngineCatalog(settings)
    catalog.load()
    try:
        source = joe_version_dir(tmp_path)
        catalog.hosted.import_version(source, "amy", engine="piper")
        catalog.hosted.import_version(source, "amy", engine="piper")
        assert catalog.resolve(None, "amy")[1].id == "amy@1"
        catalog.hosted.activate("amy", "2")
        assert catalog.resolve(None, "amy")[1].id == "amy@2"
        listed: Any = {row.version: str(row.state)
                       for row in catalog.hosted.status("amy").versions}
        assert listed == {"1": "unloaded", "2": "loaded"}
        # A second server starts from the bucket alone: the active version is downloaded.
        other = EngineCatalog(Settings(
            data_dir=tmp_path / "other", engines=["piper"], engine_replicas=1,
            model_repository=f"s3://{bucket}/repo", s3_endpoint_url=endpoint,
            s3_region=REGION))
        other.load()
        try:
            assert other.resolve(None, "amy")[1].id == "amy@2"
            assert (tmp_path / "other" / "model-cache" / "amy" / "2" / "voice.onnx").is_file()
        finally:
            other.close()
    finally:
        catalog.close()
