"""The API serves audio from the tiny Maya1, and the scheduler batches its segments."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.audio_tools import decode_audio
from tests.unit.maya1.conftest import maya1_settings
from voxserve.api.app import create_app
from voxserve.engines.base import SegmentRequest, SynthesisParams, create_engine
from voxserve.scheduler import EngineScheduler, Priority
from voxserve.scheduler.admission import AdmissionLimits


def test_speech_endpoint_serves_maya1_audio(model_dir: Path, snac_dir: Path) -> None:
    settings = maya1_settings(model_dir, snac_dir, default_model="maya1",
                              default_voice="maya1-warm")
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        voices = {v["id"]: v for v in client.get("/v1/voices").json()["data"]}
        assert voices["maya1-warm"]["sample_rate"] == 24000
        response = client.post("/v1/audio/speech", json={
            "model": "maya1", "voice": "maya1-warm", "input": "Hello there. <laugh> Bye.",
            "response_format": "wav", "instructions": "an old sailor, gravelly voice",
            "options": {"seed": 7},
        })
        assert response.status_code == 200, response.text
        samples, rate = decode_audio(response.content)
        assert rate == 24000
        assert len(samples) > 2 * 2048  # two segments of several frames each
        bad = client.post("/v1/audio/speech", json={
            "model": "maya1", "input": "Hi.", "options": {"temperature": 0}})
        assert bad.status_code == 400
        lengths = {}
        for speed in (1.0, 2.0):  # Maya1 has no rate control: voxserve stretches its audio
            spoken = client.post("/v1/audio/speech", json={
                "model": "maya1", "input": "Hello there.", "response_format": "wav",
                "speed": speed, "options": {"seed": 3}})
            assert spoken.status_code == 200, spoken.text
            spoken_samples = decode_audio(spoken.content)[0]
            lengths[speed] = len(spoken_samples)
            # one segment streamed frame by frame is one stretch of audio: no pause (or
            # fade to silence) between its chunks
            assert _longest_zero_run(spoken_samples) < 24000 * 0.01
        assert 0.4 < lengths[2.0] / lengths[1.0] < 0.6, lengths


def test_scheduler_batches_maya1_segments(model_dir: Path, snac_dir: Path) -> None:
    settings = maya1_settings(model_dir, snac_dir)
    engine = create_engine("maya1", settings)
    engine.load()
    before = _batched_segments()

    async def run() -> list[int]:
        scheduler = EngineScheduler("maya1", [engine], AdmissionLimits(100, 60.0),
                                    max_batch_size=8, max_queue_delay_s=0.5)
        scheduler.start()
        try:
            tasks = [
                scheduler.submit(SegmentRequest(text, "maya1-warm", SynthesisParams()),
                                 Priority.INTERACTIVE)
                for text in ("One.", "Two two.", "Three three three.")
            ]
            lengths = [sum(len(c.samples) for c in [x async for x in task.chunks()])
                       for task in tasks]
            for _ in range(100):  # the replica records its batch right after delivering it
                if _batched_segments() > before:
                    break
                await asyncio.sleep(0.05)
            return lengths
        finally:
            await scheduler.stop()

    lengths = asyncio.run(run())
    assert all(length > 0 for length in lengths)
    assert _batched_segments() == before + 3  # one batch of three segments


def _longest_zero_run(samples: np.ndarray) -> int:
    zero = np.concatenate([[False], np.abs(samples) < 1e-4, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    return int(np.max(edges[1::2] - edges[::2])) if edges.size else 0


def _batched_segments() -> float:
    return REGISTRY.get_sample_value("voxserve_batch_size_sum", {"engine": "maya1"}) or 0.0

