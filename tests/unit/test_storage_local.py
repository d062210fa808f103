"""LocalArtifactStore, key validation, and create_artifact_store / parse_s3_url."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from voxserve.errors import ConfigurationError
from voxserve.settings import Settings
from voxserve.storage import (
    ArtifactStore,
    LocalArtifactStore,
    create_artifact_store,
    parse_s3_url,
    validate_key,
)


def test_bytes_and_files_round_trip(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    source = tmp_path / "render.wav"
    source.write_bytes(b"RIFF" + bytes(range(256)) * 10_000)

    async def scenario() -> None:
        assert not await store.exists("jobs/1/out.mp3")
        await store.put("jobs/1/out.mp3", b"ID3 first", "audio/mpeg")
        await store.put("jobs/1/out.mp3", b"ID3 second", "audio/mpeg")
        assert await store.get("jobs/1/out.mp3") == b"ID3 second"
        assert await store.exists("jobs/1/out.mp3")
        await store.put("jobs/1/out.wav", source, "audio/wav")
        assert await store.get("jobs/1/out.wav") == source.read_bytes()
        assert await store.url("jobs/1/out.wav", 60) is None
        await store.delete("jobs/1/out.mp3")
        await store.delete("jobs/1/out.mp3")  # deleting twice is fine
        assert not await store.exists("jobs/1/out.mp3")
        with pytest.raises(FileNotFoundError):
            await store.get("jobs/1/out.mp3")
        with pytest.raises(FileNotFoundError):
            await store.get("jobs/1")  # a directory is not an artifact

    asyncio.run(scenario())
    assert store.path("jobs/1/out.wav") == tmp_path / "artifacts" / "jobs" / "1" / "out.wav"
    assert sorted(p.name for p in (tmp_path / "artifacts").rglob("*")) == ["1", "jobs", "out.wav"]


def test_failed_write_keeps_the_previous_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path)
    source = tmp_path / "source.bin"
    source.write_bytes(b"new")
    asyncio.run(store.put("a/out.bin", b"old"))

    def broken_copy(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", broken_copy)
    with pytest.raises(OSError, match="No space"):
        asyncio.run(store.put("a/out.bin", source))
    assert asyncio.run(store.get("a/out.bin")) == b"old"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["out.bin"]


BAD_KEYS = [
    "", "..", ".", "../etc/passwd", "a/../../b", "a/..", "..a", "/etc/passwd", "a//b",
    "a/./b", "a/", "a\\b", "a b", "ünï", "a:b", "a\0b", "x" * 1025,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused_before_any_io(tmp_path: Path, key: str) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    with pytest.raises(ValueError, match="artifact key"):
        validate_key(key)
    for call in (store.put(key, b"x"), store.get(key), store.exists(key), store.delete(key),
                 store.url(key)):
        with pytest.raises(ValueError, match="artifact key"):
            asyncio.run(call)
    assert not (tmp_path / "root").exists()


@pytest.mark.parametrize("key", ["a", "jobs/4f2c/output.mp3", ".hidden", "A-Z_0.9/x.y.z"])
def test_safe_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


# --- factory ---------------------------------------------------------------------------------


def test_factory_local_store_under_the_data_dir(tmp_path: Path) -> None:
    store = create_artifact_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalArtifactStore)
    assert isinstance(store, ArtifactStore)
    assert store.root == tmp_path / "artifacts"


def test_factory_refuses_unknown_urls(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="VOXSERVE_STORAGE_URL"):
        create_artifact_store(Settings(data_dir=tmp_path, storage_url="gs://bucket"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/renders", ("bucket", "renders/")),
        ("s3://my.bucket/a/b/", ("my.bucket", "a/b/")),
    ],
)
def test_parse_s3_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "s3://b/../x", "s3://b/p?x=1",
                                 "s3://b/a b"])
def test_parse_s3_url_refuses_malformed_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_s3_url(url)
