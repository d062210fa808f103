"""The vLLM backend against a faithful stand-in of vLLM 0.27 – 0.32 (``fake_vllm``; vLLM
itself needs a CUDA host), both model-runner generations: the slot mask keeps every code in
its slot against an adversarial model while requests join, leave and move in the batch; the
stream ends on EOS_AUDIO; close ends running streams; a failed batch request stops the rest.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.unit.maya1 import fake_vllm
from tests.unit.maya1.conftest import maya1_settings
from voxserve.engines.base import SynthesisParams
from voxserve.engines.maya1 import Maya1Engine, Maya1Options
from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.backends.vllm_backend import MASK_V1, MASK_V2, VllmBackend
from voxserve.engines.maya1.frames import strict_frames
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineFailed, EngineLoadError

TOKENS = Maya1Tokens()
RUNNER = "VLLM_USE_V2_MODEL_RUNNER"


@pytest.fixture(params=[False, True], ids=["vllm-0.27-to-0.30", "vllm-0.31-to-0.32"])
def mrv2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Installs the fake vLLM; the environment variable the backend sets is restored."""
    monkeypatch.setenv(RUNNER, "unset")
    monkeypatch.delenv(RUNNER)
    monkeypatch.delitem(sys.modules, "vllm.v1.worker.gpu.sample.logits_processor",
                        raising=False)
    for name, module in fake_vllm.modules(mrv2_processors=request.param).items():
        monkeypatch.setitem(sys.modules, name, module)
    return bool(request.param)


def _load(model_dir: Path, snac_dir: Path, **settings: Any) -> VllmBackend:
    return VllmBackend.load(maya1_settings(model_dir, snac_dir, maya1_backend="vllm",
                                           **settings),
                            model_dir, TOKENS, torch.device("cuda"), None)


@pytest.fixture
def backend(mrv2: bool, model_dir: Path, snac_dir: Path) -> Iterator[VllmBackend]:
    loaded = _load(model_dir, snac_dir)
    yield loaded
    loaded.close()
    assert loaded._engine.shut_down


def _request(max_tokens: int = 84, min_tokens: int = 28, first: int = TOKENS.soh,
             seed: int = 5) -> GenerationRequest:
    return GenerationRequest([first, 7, 8, 9, TOKENS.sos], SamplingConfig(
        max_new_tokens=max_tokens, min_new_tokens=min_tokens, seed=seed))


def test_engine_arguments_and_request_parameters(backend: VllmBackend, mrv2: bool,
                                                  model_dir: Path) -> None:
    engine = backend._engine
    args = engine.args
    assert args.model == str(model_dir) and args.dtype == "auto" and args.quantization is None
    assert args.gpu_memory_utilization == 0.85 and args.max_model_len == 8192
    # the processor for the model runner this release uses, and that runner pinned
    assert args.logits_processors == [MASK_V2 if mrv2 else MASK_V1]
    assert os.environ[RUNNER] == ("1" if mrv2 else "0") and engine.runner == (
        "v2" if mrv2 else "v1")
    list(backend.stream(_request()))
    (prompt,), (params,) = engine.prompts, engine.params
    assert prompt == {"prompt_token_ids": [TOKENS.soh, 7, 8, 9, TOKENS.sos]}  # TokensPrompt
    assert params.stop_token_ids == [TOKENS.eos_audio] and params.seed == 5
    assert params.min_tokens == 28 and params.max_tokens == 84
    assert params.allowed_token_ids is None  # MRv2 takes at most 1024; the mask is stricter
    assert params.extra_args == {"voxserve_maya1_slots": {
        "first_code": TOKENS.first_code, "eos": TOKENS.eos_audio}}
    assert params.output_kind == fake_vllm.RequestOutputKind.DELTA
    assert not params.detokenize


def test_dtype_and_quantization_are_passed_through(mrv2: bool, model_dir: Path,
                                                   snac_dir: Path) -> None:
    loaded = VllmBackend.load(
        maya1_settings(model_dir, snac_dir, maya1_backend="vllm",
                       maya1_vllm_quantization="fp8"),
        model_dir, TOKENS, torch.device("cuda"), torch.bfloat16)
    try:
        assert loaded._engine.args.dtype == "bfloat16"
        assert loaded._engine.args.quantization == "fp8"
    finally:
        loaded.close()


def test_every_code_lands_in_its_slot_while_the_batch_changes(backend: VllmBackend) -> None:
    """Eight concurrent streams of different lengths against a model that always prefers a
    text token, the tokenizer's EOS and the next slot's codes: every token is in its slot,
    and each stream ends on EOS_AUDIO after its minimum, or at its maximum."""
    limits = [(28, 28), (42, 14), (84, 56), (56, 56), (70, 28), (35, 35), (63, 7), (49, 49)]
    results: dict[int, list[int]] = {}

    def run(index: int) -> None:
        maximum, minimum = limits[index]
        results[index] = list(backend.stream(_request(maximum, minimum, seed=index)))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(limits))]
    for thread in threads:
        thread.start()
        time.sleep(0.003)  # arrivals spread over several engine steps
    for thread in threads:
        thread.join(60)
    for index, (maximum, minimum) in enumerate(limits):
        tokens = results[index]
        assert minimum <= len(tokens) <= maximum
        if len(tokens) < maximum or tokens[-1] == TOKENS.eos_audio:
            assert tokens[-1] == TOKENS.eos_audio and TOKENS.eos_audio not in tokens[:-1]
            assert len(tokens) > minimum
        frames = strict_frames(tokens, TOKENS)  # FrameError on any stray token
        assert len(frames) == (len(tokens) - (tokens[-1] == TOKENS.eos_audio)) // 7
    assert backend._engine.max_batch >= 3


def test_closing_a_stream_aborts_the_request(backend: VllmBackend) -> None:
    stream = backend.stream(_request(max_tokens=2000, min_tokens=2000))
    next(stream)
    stream.close()
    deadline = time.monotonic() + 5
    while not backend._engine.aborted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(backend._engine.aborted) == 1


def test_close_ends_running_streams_and_batches(backend: VllmBackend) -> None:
    """Before the fix, close() stopped the loop under the running streams: their readers
    waited for an end marker forever."""
    backend._engine.step_s = 0.005
    outcomes: list[object] = []
    started = threading.Barrier(4)

    def stream() -> None:
        tokens = backend.stream(_request(max_tokens=5000, min_tokens=5000))
        try:
            next(tokens)
            started.wait()
            list(tokens)
            outcomes.append("finished")
        except EngineFailed as error:
            outcomes.append(error)

    def batch() -> None:
        started.wait()
        try:
            backend.generate_batch([_request(max_tokens=5000, min_tokens=5000)])
            outcomes.append("finished")
        except EngineFailed as error:
            outcomes.append(error)

    threads = [threading.Thread(target=stream, daemon=True) for _ in range(3)]
    threads.append(threading.Thread(target=batch, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    backend.close()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert len(outcomes) == 4 and all(isinstance(o, EngineFailed) for o in outcomes)
    assert len(backend._engine.aborted) == 4
    with pytest.raises(EngineFailed, match="closed"):
        list(backend.stream(_request()))


def test_a_failed_batch_request_stops_the_others(backend: VllmBackend) -> None:
    """Before the fix, gather() raised the error and left the other requests generating."""
    backend._engine.step_s = 0.005
    started = time.monotonic()
    with pytest.raises(EngineFailed, match="engine exploded"):
        backend.generate_batch([_request(5000, 5000), _request(5000, 5000),
                                _request(first=-1)])
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while len(backend._engine.aborted) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(backend._engine.aborted) == 2


def test_batch_results_are_in_order_and_end_like_streams(backend: VllmBackend) -> None:
    results = backend.generate_batch([_request(7, 7), _request(84, 28), _request(21, 21)])
    assert [len(ids) for ids in results[::2]] == [7, 21]
    assert 28 < len(results[1]) <= 84
    assert all(strict_frames(ids, TOKENS) is not None for ids in results)


def test_generation_errors_become_engine_failed(backend: VllmBackend) -> None:
    with pytest.raises(EngineFailed, match="engine exploded"):
        list(backend.stream(_request(first=-1)))


def test_the_vocabulary_must_hold_the_audio_ids(mrv2: bool, model_dir: Path, snac_dir: Path,
                                                tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    config = json.loads((model_dir / "config.json").read_text())
    (small / "config.json").write_text(json.dumps({**config, "vocab_size": 150000}))
    with pytest.raises(EngineLoadError, match="vocabulary of 150000"):
        VllmBackend.load(maya1_settings(model_dir, snac_dir, maya1_backend="vllm"), small,
                         TOKENS, torch.device("cuda"), None)


def test_the_model_runner_setting_is_followed(mrv2: bool, model_dir: Path, snac_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNNER, "0")
    loaded = _load(model_dir, snac_dir)
    assert loaded._engine.args.logits_processors == [MASK_V1]
    assert strict_frames(list(loaded.stream(_request())), TOKENS)
    loaded.close()
    monkeypatch.setenv(RUNNER, "1")
    if mrv2:
        loaded = _load(model_dir, snac_dir)
        assert loaded._engine.args.logits_processors == [MASK_V2]
        loaded.close()
    else:
        with pytest.raises(EngineLoadError, match="takes no custom logits processors"):
            _load(model_dir, snac_dir)
    monkeypatch.setenv(RUNNER, "yes")
    with pytest.raises(EngineLoadError, match="must be 0 or 1"):
        _load(model_dir, snac_dir)


def test_the_engine_speaks_through_vllm_without_stray_tokens(
    mrv2: bool, model_dir: Path, snac_dir: Path
) -> None:
    """The engine's streaming path on the vLLM backend: audio, EOS, no stray token."""
    from prometheus_client import REGISTRY

    engine = Maya1Engine(maya1_settings(model_dir, snac_dir, maya1_max_new_tokens=140,
                                        maya1_min_new_tokens=56), share=False)
    engine.load()
    engine.runtime.backend.close()
    engine.runtime.backend = _load(model_dir, snac_dir)

    def count(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    strays = count("voxserve_maya1_stray_tokens_total",
                   {"backend": "transformers", "action": "repaired"})
    eos = count("voxserve_maya1_segments_total", {"end": "eos"})
    chunks = list(engine.synthesize("Hello there.", "maya1-warm",
                                    SynthesisParams(options=Maya1Options(seed=3))))
    samples = np.concatenate([c.samples for c in chunks])
    assert samples.size >= 7 * 2048 and np.all(np.isfinite(samples))
    assert count("voxserve_maya1_segments_total", {"end": "eos"}) == eos + 1
    assert count("voxserve_maya1_stray_tokens_total",
                 {"backend": "transformers", "action": "repaired"}) == strays
    engine.close()
