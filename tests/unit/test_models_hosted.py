"""Repository versions hosted by the real Piper engine: load, swap with leases, roll back,
idle unload, memory budget, read-only engine voices, bad versions refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.models_tools import corrupt_version_dir, joe_version_dir
from voxserve import metrics
from voxserve.cache import segment_cache_key
from voxserve.engines.base import SynthesisParams
from voxserve.engines.catalog import EngineCatalog
from voxserve.engines.hosted import HostedModels, VersionState
from voxserve.errors import (
    InvalidModel,
    ModelConflict,
    ModelMemoryExceeded,
    ModelVersionNotFound,
)
from voxserve.models import LocalModelRepository, build_manifest
from voxserve.settings import Settings
from voxserve.types import VoiceInfo


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return joe_version_dir(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineCatalog]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), engines=["piper", "fake"],
                        engine_replicas=2)
    loaded = EngineCatalog(settings)
    loaded.load()
    yield loaded
    loaded.close()


def _states(hosted: HostedModels, model: str) -> dict[str, tuple[str, int]]:
    return {row.version: (str(row.state), row.leases) for row in hosted.status(model).versions}


def _unloads(model: str, reason: str) -> float:
    value = metrics.MODEL_UNLOADS.labels(model, reason)._value.get()
    return float(value)


def test_first_import_activates_and_the_model_serves(catalog: EngineCatalog, source: Path) -> None:
    hosted = catalog.hosted
    loads_before = metrics.MODEL_LOADS.labels("amy", "ok")._value.get()  # a process-wide count
    stored = hosted.import_version(source, "amy", engine="piper")
    assert stored.version == "1"
    engine, voice = catalog.resolve(None, "amy")
    assert (engine.name, voice.id) == ("piper", "amy@1")
    assert voice.version.startswith("1:")
    assert list(engine.synthesize("Hello.", voice.id, SynthesisParams()))  # every replica
    for replica in catalog.replicas()["piper"]:
        assert list(replica.synthesize("Hi.", voice.id, SynthesisParams()))
    status = hosted.status("amy")
    assert status.active == "1" and status.ready
    assert status.versions[0].bytes > 2 * 60_000_000  # file bytes times two replicas
    assert "amy" in {v.id for v in catalog.voices()}
    assert metrics.MODELS_LOADED._value.get() >= 1
    assert metrics.MODEL_BYTES._value.get() >= status.versions[0].bytes
    assert metrics.MODEL_LOADS.labels("amy", "ok")._value.get() == loads_before + 1
    assert catalog.resolve("piper", "amy@1")[1].id == "amy@1"  # a pinned version


def test_swap_keeps_the_leased_version_until_its_requests_finish(
    catalog: EngineCatalog, source: Path
) -> None:
    hosted = catalog.hosted
    hosted.import_version(source, "bob", engine="piper")
    hosted.import_version(source, "bob", engine="piper")
    assert _states(hosted, "bob")["2"] == ("unloaded", 0)  # imported, not active
    _, old_voice = catalog.resolve(None, "bob")
    lease = catalog.acquire(old_voice)
    before = _unloads("bob", "swap")
    hosted.activate("bob", "2")
    assert catalog.resolve(None, "bob")[1].id == "bob@2"
    assert _states(hosted, "bob") == {"1": ("draining", 1), "2": ("loaded", 0)}
    engine = catalog.engine("piper")
    assert list(engine.synthesize("Still here.", "bob@1", SynthesisParams()))
    lease.release()
    lease.release()  # idempotent
    assert _states(hosted, "bob") == {"1": ("unloaded", 0), "2": ("loaded", 0)}
    assert _unloads("bob", "swap") == before + 1
    # The cache key carries the version: a swap never serves the old version's audio.
    new_voice = catalog.resolve(None, "bob")[1]
    keys = {
        segment_cache_key(engine="piper", voice_id=voice.id, voice_version=voice.version,
                          text="Hi.", params=SynthesisParams(), sample_rate_hz=22050)
        for voice in (old_voice, new_voice)
    }
    assert len(keys) == 2


def test_a_lease_on_an_unloaded_version_gets_the_active_one(
    catalog: EngineCatalog, source: Path
) -> None:
    hosted = catalog.hosted
    hosted.import_version(source, "cid", engine="piper")
    hosted.import_version(source, "cid", engine="piper", activate=True)
    planned = catalog.resolve(None, "cid")[1]
    assert planned.id == "cid@2"
    hosted.activate("cid", "1")  # between planning and opening the request
    lease = catalog.acquire(planned)
    assert lease.voice.id == "cid@1"
    lease.release()


def test_rollback_and_history(catalog: EngineCatalog, source: Path) -> None:
    hosted = catalog.hosted
    for _ in range(3):
        hosted.import_version(source, "dee", engine="piper")
    hosted.activate("dee", "2")
    hosted.activate("dee", "3")
    assert hosted.rollback("dee").active == "2"
    assert hosted.rollback("dee").active == "1"
    with pytest.raises(ModelConflict, match="no earlier"):
        hosted.rollback("dee")
    assert catalog.resolve(None, "dee")[1].id == "dee@1"
    assert _states(hosted, "dee") == {"1": ("loaded", 0), "2": ("unloaded", 0),
                                      "3": ("unloaded", 0)}


def test_unload_remove_and_reload_on_request(catalog: EngineCatalog, source: Path) -> None:
    hosted = catalog.hosted
    hosted.import_version(source, "eve", engine="piper")
    hosted.import_version(source, "eve", engine="piper")
    with pytest.raises(ModelConflict, match="active"):
        hosted.remove("eve", "1")
    assert hosted.unload("eve", "1").state == VersionState.UNLOADED
    assert not hosted.status("eve").ready
    # The next request loads the active version again (and waits for it).
    assert catalog.resolve(None, "eve")[1].id == "eve@1"
    assert hosted.status("eve").ready
    hosted.load("eve", "2")
    hosted.remove("eve", "2")
    assert [row.version for row in hosted.status("eve").versions] == ["1"]
    with pytest.raises(ModelVersionNotFound):
        hosted.load("eve", "2")


def test_bad_versions_are_refused_and_nothing_changes(
    catalog: EngineCatalog, source: Path, tmp_path: Path
) -> None:
    hosted = catalog.hosted
    hosted.import_version(source, "fay", engine="piper")
    before = _states(hosted, "fay")
    with pytest.raises(InvalidModel, match="not a usable Piper voice"):
        hosted.import_version(corrupt_version_dir(tmp_path), "fay", engine="piper")
    with pytest.raises(InvalidModel, match="engine 'nope' is not enabled"):
        hosted.import_version(source, "fay", engine="nope")
    wrong = build_manifest(source, engine="piper").model_copy(
        update={"files": {"voice.onnx": "ab" * 32, "voice.onnx.json": "cd" * 32}})
    with pytest.raises(InvalidModel, match="checksum mismatch"):
        hosted.import_version(source, "fay", manifest=wrong)
    with pytest.raises(ModelConflict):
        hosted.import_version(source, "fay", "1", engine="piper")
    assert _states(hosted, "fay") == before
    assert [v.version for v in hosted.repository.versions("fay")] == ["1"]
    assert catalog.resolve(None, "fay")[1].id == "fay@1"


def test_engine_voice_is_a_read_only_version(catalog: EngineCatalog, source: Path) -> None:
    hosted = catalog.hosted
    hosted.import_version(source, "en_US-joe-medium", engine="piper")
    status = hosted.status("en_US-joe-medium")
    assert status.active == "bundled"  # importing never switches a served voice by itself
    assert [(r.version, r.read_only) for r in status.versions] == [("bundled", True),
                                                                   ("1", False)]
    assert catalog.resolve(None, "joe")[1].id == "en_US-joe-medium"
    hosted.activate("en_US-joe-medium", "1")
    assert catalog.resolve(None, "joe")[1].id == "en_US-joe-medium@1"
    assert catalog.resolve(None, "alloy")[1].id == "en_US-joe-medium@1"  # OpenAI alias too
    assert catalog.resolve(None, "en_US-joe-medium@bundled")[1].id == "en_US-joe-medium"
    assert hosted.rollback("en_US-joe-medium").active == "bundled"
    assert catalog.resolve(None, "joe")[1].id == "en_US-joe-medium"
    with pytest.raises(ModelConflict, match="read-only"):
        hosted.unload("en_US-joe-medium", "bundled")
    with pytest.raises(ModelConflict, match="read-only"):
        hosted.remove("en_US-joe-medium", "bundled")


def test_idle_unload_and_memory_budget(catalog: EngineCatalog, source: Path,
                                       tmp_path: Path) -> None:
    now = [1000.0]
    repository = LocalModelRepository(tmp_path / "repo")
    hosted = HostedModels(repository, memory_budget_bytes=200_000_000, clock=lambda: now[0])
    hosted.start(catalog.replicas(), {})
    hosted.import_version(source, "gus", engine="piper")  # 2 replicas x 63 MB: fits
    hosted.import_version(source, "hal", engine="piper")  # stored and active, not loaded
    assert _states(hosted, "hal") == {"1": ("unloaded", 0)}
    assert not hosted.status("hal").ready
    with pytest.raises(ModelMemoryExceeded, match="VOXSERVE_MODEL_MEMORY_BYTES"):
        hosted.resolve("hal", "piper")  # a request for it: refused clearly (507)
    with pytest.raises(ModelMemoryExceeded):
        hosted.load("hal", "1")
    voice = hosted.resolve("gus", "piper")
    assert voice is not None
    lease = hosted.acquire(voice)
    now[0] += 60
    assert hosted.unload_idle(30) == []  # in use
    lease.release()
    now[0] += 60
    assert hosted.unload_idle(30) == ["gus@1"]
    assert _states(hosted, "gus") == {"1": ("unloaded", 0)}
    assert hosted.resolve("hal", "piper") is not None  # room now: loads on the request
    hosted.close()


def test_a_second_server_follows_the_shared_pointer(
    catalog: EngineCatalog, source: Path, tmp_path: Path
) -> None:
    """Two processes on one repository (pods on a shared volume): one activates, the other
    follows on its next poll (``sync``), rollbacks too."""
    other_settings = Settings(data_dir=tmp_path, engines=["piper"], engine_replicas=1,
                              model_repository=str(catalog.hosted.repository.root))  # type: ignore[attr-defined]
    other = EngineCatalog(other_settings)
    other.load()
    try:
        hosted = catalog.hosted
        hosted.import_version(source, "ivy", engine="piper")
        hosted.import_version(source, "ivy", engine="piper")
        assert other.hosted.sync() == ["ivy"]  # it did not know the model yet
        assert other.resolve(None, "ivy")[1].id == "ivy@1"
        hosted.activate("ivy", "2")
        assert other.hosted.sync() == ["ivy"]
        assert other.resolve(None, "ivy")[1].id == "ivy@2"
        assert other.hosted.sync() == []
        hosted.rollback("ivy")
        assert other.hosted.sync() == ["ivy"]
        assert other.resolve(None, "ivy")[1].id == "ivy@1"
        assert _states(other.hosted, "ivy") == {"1": ("loaded", 0), "2": ("unloaded", 0)}
    finally:
        other.close()


def test_an_engine_voice_named_like_a_variant_stays_the_engines(
    catalog: EngineCatalog, source: Path, tmp_path: Path
) -> None:
    """A voice file ``VOICE@int8`` (issue 17's variants) is the engine's, even when VOICE is
    a repository model."""
    hosted = HostedModels(LocalModelRepository(tmp_path / "repo"))
    variant = VoiceInfo(id="zed@int8", engine="fake", language="en_US",
                        sample_rate_hz=16000)
    hosted.start({"piper": catalog.replicas()["piper"], "fake": catalog.replicas()["fake"]},
                 {"fake": [variant]})
    hosted.import_version(source, "zed", engine="piper")
    assert hosted.resolve("zed@int8", "piper") is None
    assert hosted.resolve("zed@int8", "fake") is None
    voice = hosted.resolve("zed", "piper")
    assert voice is not None and voice.id == "zed@1"
    hosted.close()


def test_a_draining_version_activated_again_stays_loaded(
    catalog: EngineCatalog, source: Path
) -> None:
    hosted = catalog.hosted
    hosted.import_version(source, "jay", engine="piper")
    hosted.import_version(source, "jay", engine="piper")
    lease = catalog.acquire(catalog.resolve(None, "jay")[1])
    hosted.activate("jay", "2")
    assert _states(hosted, "jay")["1"] == ("draining", 1)
    hosted.activate("jay", "1")  # wanted again before its request ended: kept, not reloaded
    assert _states(hosted, "jay") == {"1": ("loaded", 1), "2": ("unloaded", 0)}
    lease.release()
    assert _states(hosted, "jay") == {"1": ("loaded", 0), "2": ("unloaded", 0)}
    assert catalog.resolve(None, "jay")[1].id == "jay@1"
