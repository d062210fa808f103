"""The model repository on disk: manifests, checksums, atomic imports, pointers, layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxserve.engines.piper import discover_voice_files
from voxserve.errors import InvalidModel, ModelConflict, ModelVersionNotFound
from voxserve.models import (
    MANIFEST_NAME,
    LocalModelRepository,
    Pointer,
    build_manifest,
    read_manifest,
    sha256_file,
    version_sort_key,
)


def _source(tmp_path: Path, name: str = "src", content: bytes = b"weights") -> Path:
    source = tmp_path / name
    source.mkdir()
    (source / "voice.onnx").write_bytes(content)
    (source / "voice.onnx.json").write_text('{"audio": {"sample_rate": 22050}}')
    return source


def _nothing_staged(repo: LocalModelRepository) -> bool:
    staging = repo.root / ".staging"
    return not staging.exists() or not any(staging.iterdir())


def test_import_builds_manifest_with_checksums_and_numbers_versions(tmp_path: Path) -> None:
    repo = LocalModelRepository(tmp_path / "repo")
    source = _source(tmp_path)
    first = repo.add(source, "amy", engine="piper", source_label="path:x")
    second = repo.add(source, "amy", engine="piper")
    assert (first.version, second.version) == ("1", "2")
    manifest = read_manifest(first.path)
    assert manifest.engine == "piper" and manifest.source == "path:x"
    assert manifest.files == {
        "voice.onnx": sha256_file(source / "voice.onnx"),
        "voice.onnx.json": sha256_file(source / "voice.onnx.json"),
    }
    assert repo.models() == ["amy"]
    assert [v.version for v in repo.versions("amy")] == ["1", "2"]
    assert first.bytes == len(b"weights") + len('{"audio": {"sample_rate": 22050}}')
    assert _nothing_staged(repo)


def test_import_refuses_bad_input_and_registers_nothing(tmp_path: Path) -> None:
    repo = LocalModelRepository(tmp_path / "repo")
    source = _source(tmp_path)
    with pytest.raises(InvalidModel, match="name the engine"):
        repo.add(source, "amy")  # no manifest, no engine
    manifest = build_manifest(source, engine="piper").model_copy(
        update={"files": {"voice.onnx": "0" * 64, "voice.onnx.json": "0" * 64}})
    with pytest.raises(InvalidModel, match="checksum mismatch"):
        repo.add(source, "amy", manifest=manifest)
    missing = build_manifest(source, engine="piper").model_copy(
        update={"files": {"other.onnx": "0" * 64}})
    with pytest.raises(InvalidModel, match="missing"):
        repo.add(source, "amy", manifest=missing)
    escaping = build_manifest(source, engine="piper").model_copy(
        update={"files": {"../../etc/passwd": "0" * 64}})
    with pytest.raises(InvalidModel, match="not a model file"):
        repo.add(source, "amy", manifest=escaping)
    (source / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(InvalidModel, match="JSON"):
        repo.add(source, "amy")
    (source / MANIFEST_NAME).write_text(json.dumps({"engine": "piper"}))
    with pytest.raises(InvalidModel, match="files"):
        repo.add(source, "amy")

    def failing_check(directory: Path, manifest: object) -> None:
        raise InvalidModel("does not load")

    (source / MANIFEST_NAME).unlink()
    with pytest.raises(InvalidModel, match="does not load"):
        repo.add(source, "amy", engine="piper", check=failing_check)
    for bad_name in ("../x", ".hidden", "a/b", "lexicons"):
        with pytest.raises(InvalidModel):
            repo.add(source, bad_name, engine="piper")
    with pytest.raises(InvalidModel, match="reserved"):
        repo.add(source, "amy", "bundled", engine="piper")
    with pytest.raises(InvalidModel, match="no such file"):
        repo.add(tmp_path / "nowhere", "amy", engine="piper")
    assert repo.models() == []
    assert _nothing_staged(repo)


def test_duplicate_version_is_a_conflict(tmp_path: Path) -> None:
    repo = LocalModelRepository(tmp_path / "repo")
    source = _source(tmp_path)
    repo.add(source, "amy", "7", engine="piper")
    with pytest.raises(ModelConflict, match="already has a version '7'"):
        repo.add(source, "amy", "7", engine="piper")
    assert [v.version for v in repo.versions("amy")] == ["7"]


def test_import_of_one_onnx_file_takes_its_json_companion(tmp_path: Path) -> None:
    repo = LocalModelRepository(tmp_path / "repo")
    source = _source(tmp_path)
    stored = repo.add(source / "voice.onnx", "amy", engine="piper")
    assert set(stored.manifest.files) == {"voice.onnx", "voice.onnx.json"}


def test_pointer_history_and_remove(tmp_path: Path) -> None:
    repo = LocalModelRepository(tmp_path / "repo")
    source = _source(tmp_path)
    for _ in range(3):
        repo.add(source, "amy", engine="piper")
    assert repo.pointer("amy") == Pointer()
    repo.set_pointer("amy", Pointer("2", ("1",)))
    assert repo.pointer("amy") == Pointer("2", ("1",))
    with pytest.raises(ModelConflict, match="active"):
        repo.remove("amy", "2")
    repo.remove("amy", "1")
    assert [v.version for v in repo.versions("amy")] == ["2", "3"]
    assert repo.pointer("amy") == Pointer("2", ())  # gone from the history too
    with pytest.raises(ModelVersionNotFound):
        repo.remove("amy", "1")
    (repo.root / "amy" / "active.json").write_text("garbage")
    assert repo.pointer("amy") == Pointer()  # unreadable: as if none, never fatal


def test_broken_version_is_skipped_and_other_folders_are_not_models(tmp_path: Path) -> None:
    repo = LocalModelRepository(tmp_path / "repo")
    repo.add(_source(tmp_path), "amy", engine="piper")
    (repo.root / "amy" / "9").mkdir()
    (repo.root / "amy" / "9" / MANIFEST_NAME).write_text("{}")
    (repo.root / "lexicons" / "x").mkdir(parents=True)
    (repo.root / "lexicons" / "x" / MANIFEST_NAME).write_text("{}")
    (repo.root / "maya1").mkdir()
    (repo.root / "flat.onnx").write_bytes(b"x")
    assert repo.models() == ["amy"]
    assert [v.version for v in repo.versions("amy")] == ["1"]


def test_piper_flat_layout_is_still_found_beside_the_repository(tmp_path: Path) -> None:
    root = tmp_path / "models"
    repo = LocalModelRepository(root)
    repo.add(_source(tmp_path), "amy", engine="piper")
    (root / "old").mkdir()
    (root / "old" / "en_US-old-low.onnx").write_bytes(b"x")
    (root / "old" / "en_US-old-low.onnx.json").write_text("{}")
    (root / "en_US-flat-low.onnx").write_bytes(b"x")
    (root / "en_US-flat-low.onnx.json").write_text("{}")
    staged = root / ".staging" / "amy-2-x"
    staged.mkdir(parents=True)
    (staged / "voice.onnx").write_bytes(b"x")
    (staged / "voice.onnx.json").write_text("{}")
    found = sorted(files.voice_id for files in discover_voice_files(root))
    assert found == ["en_US-flat-low", "en_US-old-low"]  # not the repository's, not staged


def test_version_order_is_numeric_then_names() -> None:
    assert sorted(["10", "beta", "2", "1"], key=version_sort_key) == ["1", "2", "10", "beta"]
