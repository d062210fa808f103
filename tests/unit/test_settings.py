"""The settings object: environment parsing and refusals."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from voxserve.settings import Settings, usable_cpus


def test_engine_list_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXSERVE_ENGINES", "piper, fake")
    assert Settings().engines == ["piper", "fake"]
    monkeypatch.setenv("VOXSERVE_ENGINES", '["fake"]')
    assert Settings().engines == ["fake"]


def test_json_maps_and_overrides_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXSERVE_VOICE_ALIASES", '{"alloy": "en_US-amy-medium"}')
    monkeypatch.setenv("VOXSERVE_ENGINE_OVERRIDES", '{"piper": {"replicas": 2}}')
    monkeypatch.setenv("VOXSERVE_ENGINE_REPLICAS", "3")
    settings = Settings()
    assert settings.voice_aliases == {"alloy": "en_US-amy-medium"}
    assert settings.replicas_for("piper") == 2
    assert settings.replicas_for("fake") == 3


@pytest.mark.parametrize(("cpus", "replicas", "threads"), [({3}, 1, 1), ({0, 1, 2, 3}, 4, 1)])
def test_automatic_layout_follows_the_affinity_mask(
    monkeypatch: pytest.MonkeyPatch, cpus: set[int], replicas: int, threads: int
) -> None:
    """``taskset`` or a container's cpuset, not the machine's CPU count, sizes the engines."""
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cpus, raising=False)
    settings = Settings()
    assert usable_cpus() == len(cpus)
    assert settings.replicas_for("piper") == replicas
    assert settings.resolved_piper_intra_op_threads == threads
    assert settings.replicas_for("maya1") == 1  # GPU engines: one replica per device


def test_usable_cpus_without_an_affinity_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert usable_cpus() == 6


@pytest.mark.parametrize(
    "env",
    [
        {"VOXSERVE_ENGINES": ""},
        {"VOXSERVE_ENGINES": "piper,piper"},
        {"VOXSERVE_PORT": "0"},
        {"VOXSERVE_MAX_INPUT_CHARS": "-1"},
        {"VOXSERVE_DEFAULT_RESPONSE_FORMAT": "ogg"},
        {"VOXSERVE_UNKNOWN_SETTING": "1"},
        {"VOXSERVE_ENGINE_OVERRIDES": '{"piper": {"replicas": 0}}'},
    ],
)
def test_bad_configuration_is_refused(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_scheduling_for_applies_an_engines_overrides_over_the_global_settings() -> None:
    settings = Settings(
        engines=["piper", "fake"], max_queue_segments=50, queue_budget_ms=4000.0,
        max_batch_size=4, max_queue_delay_ms=20.0, engine_replicas=3,
        engine_overrides={"fake": {"queue_budget_ms": 500.0, "max_queue_delay_ms": 0.0,
                                   "replicas": 2}},
    )
    fake = settings.scheduling_for("fake")
    assert (fake.replicas, fake.queue_budget_ms, fake.max_queue_delay_ms) == (2, 500.0, 0.0)
    assert (fake.max_queue_segments, fake.max_batch_size) == (50, 4)
    piper = settings.scheduling_for("piper")
    assert (piper.replicas, piper.queue_budget_ms, piper.max_queue_delay_ms) == (3, 4000.0, 20.0)
