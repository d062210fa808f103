"""Maya1 engine lifecycle on the tiny models: close ends running streams, replicas share one
model, and concurrent streams (their SNAC windows batched) sound as they do alone."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tests.unit.maya1.conftest import maya1_settings
from voxserve.engines.base import SynthesisParams
from voxserve.engines.maya1 import Maya1Engine, Maya1Options
from voxserve.errors import EngineFailed, NotReady
from voxserve.types import AudioChunk

VOICE = "maya1-warm"
LONG = {"maya1_max_new_tokens": 2048, "maya1_min_new_tokens": 2048}


def _params(seed: int) -> SynthesisParams:
    return SynthesisParams(options=Maya1Options(seed=seed))


def _consume_in_thread(engine: Maya1Engine, first: threading.Event,
                       outcome: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            for _ in engine.synthesize("Hello there.", VOICE, _params(1)):
                first.set()
            outcome.append("finished")
        except EngineFailed as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_close_ends_a_running_stream_with_an_error(model_dir: Path, snac_dir: Path) -> None:
    """Before the fix the stream ran on to its 2048 tokens and ended as if complete."""
    engine = Maya1Engine(maya1_settings(model_dir, snac_dir, maya1_top_p=0.91, **LONG))
    engine.load()
    first, outcome = threading.Event(), []
    thread = _consume_in_thread(engine, first, outcome)
    assert first.wait(60)
    engine.close()
    thread.join(20)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], EngineFailed)
    assert "closed" in str(outcome[0])
    with pytest.raises(NotReady):
        engine.synthesize("Hi.", VOICE, SynthesisParams())


def test_replicas_share_one_model_until_the_last_closes(model_dir: Path, snac_dir: Path
                                                       ) -> None:
    settings = maya1_settings(model_dir, snac_dir, maya1_temperature=0.39, **LONG)
    first_replica, second_replica = Maya1Engine(settings), Maya1Engine(settings)
    first_replica.load()
    second_replica.load()
    assert first_replica.runtime is second_replica.runtime
    other = Maya1Engine(maya1_settings(model_dir, snac_dir, maya1_temperature=0.38))
    other.load()
    assert other.runtime is not first_replica.runtime
    other.close()
    # Closing one replica ends its own stream, not the other's, and keeps the model.
    started = [threading.Event(), threading.Event()]
    outcomes: list[list[object]] = [[], []]
    threads = [_consume_in_thread(replica, event, outcome) for replica, event, outcome
               in zip((first_replica, second_replica), started, outcomes, strict=True)]
    assert all(event.wait(60) for event in started)
    first_replica.close()
    threads[0].join(20)
    assert isinstance(outcomes[0][0], EngineFailed)
    assert threads[1].is_alive() and not outcomes[1]
    chunks = list(second_replica.synthesize("Hi.", VOICE, SynthesisParams(
        options=Maya1Options(max_new_tokens=28))))
    assert sum(len(c.samples) for c in chunks) == 3 * 2048
    second_replica.close()  # the last one: the model goes, the running stream fails
    threads[1].join(20)
    assert not threads[1].is_alive() and isinstance(outcomes[1][0], EngineFailed)


def test_concurrent_streams_sound_as_they_do_alone(model_dir: Path,
                                                    quiet_snac_dir: Path) -> None:
    """Four seeded streams at once: their windows are decoded in shared batches, and each
    stream's audio equals its audio alone (to float32 rounding, see test_snac_batcher)."""
    engine = Maya1Engine(maya1_settings(
        model_dir, quiet_snac_dir, maya1_max_new_tokens=84, maya1_min_new_tokens=84,
        maya1_snac_batch_wait_ms=1000.0), share=False)
    engine.load()
    seeds = [11, 12, 13, 14]
    alone = {seed: _audio(list(engine.synthesize("Hello.", VOICE, _params(seed))))
             for seed in seeds}
    before = REGISTRY.get_sample_value("voxserve_maya1_snac_batch_windows_bucket",
                                       {"le": "2.0"}) or 0.0
    count_before = REGISTRY.get_sample_value("voxserve_maya1_snac_batch_windows_count") or 0.0
    together: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(len(seeds))

    def run(seed: int) -> None:
        barrier.wait()
        together[seed] = _audio(list(engine.synthesize("Hello.", VOICE, _params(seed))))

    threads = [threading.Thread(target=run, args=(seed,)) for seed in seeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    engine.close()
    for seed in seeds:
        assert together[seed].shape == alone[seed].shape == (11 * 2048,)
        np.testing.assert_allclose(together[seed], alone[seed], rtol=0.0, atol=2e-6)
    after = REGISTRY.get_sample_value("voxserve_maya1_snac_batch_windows_bucket",
                                      {"le": "2.0"}) or 0.0
    calls = (REGISTRY.get_sample_value("voxserve_maya1_snac_batch_windows_count") or 0.0
             ) - count_before
    # 4 streams × 9 windows (12 frames: windows at frames 4…12) in far fewer calls
    assert calls < 4 * 9 and after - before < calls


def _audio(chunks: list[AudioChunk]) -> np.ndarray:
    return np.concatenate([c.samples for c in chunks])
