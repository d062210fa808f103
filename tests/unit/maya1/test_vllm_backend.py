"""The vLLM backend's glue, against a stand-in ``vllm`` module (vLLM needs a CUDA host).

These tests check how the backend drives the API it is written against (an
``AsyncLLMEngine`` whose ``generate`` yields cumulative ``outputs[0].token_ids``, cancelled
to abort): threading, ordering, EOS handling, abort on close, errors. They cannot show that
a real vLLM release behaves like the stand-in.
"""

from __future__ import annotations

import asyncio
import sys
import time
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.unit.maya1.conftest import maya1_settings
from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineFailed

TOKENS = Maya1Tokens()
SCRIPT = [TOKENS.slot_start(i % 7) + i for i in range(14)] + [TOKENS.eos_audio]


class _FakeEngine:
    def __init__(self, args: Any) -> None:
        self.args = args
        self.params: list[Any] = []
        self.aborted: list[str] = []
        self.shut_down = False

    async def generate(self, prompt: dict[str, Any], params: Any, request_id: str
                       ) -> AsyncIterator[Any]:
        self.params.append(params)
        if prompt["prompt_token_ids"][0] == -1:
            raise RuntimeError("engine exploded")
        script = SCRIPT[: params.kwargs["max_tokens"]]
        try:
            for end in range(1, len(script) + 1):
                await asyncio.sleep(0.001)
                output = types.SimpleNamespace(token_ids=script[:end])
                yield types.SimpleNamespace(outputs=[output], finished=end == len(script))
        except (asyncio.CancelledError, GeneratorExit):
            self.aborted.append(request_id)
            raise

    def shutdown(self) -> None:
        self.shut_down = True


class _Recorder:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


@pytest.fixture
def backend(model_dir: Path, snac_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake = types.ModuleType("vllm")
    fake.AsyncEngineArgs = _Recorder  # type: ignore[attr-defined]
    fake.SamplingParams = _Recorder  # type: ignore[attr-defined]
    fake.AsyncLLMEngine = types.SimpleNamespace(from_engine_args=_FakeEngine)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from voxserve.engines.maya1.backends.vllm_backend import VllmBackend

    settings = maya1_settings(model_dir, snac_dir, maya1_backend="vllm")
    loaded = VllmBackend.load(settings, model_dir, TOKENS, torch.device("cuda"), torch.bfloat16)
    yield loaded
    loaded.close()
    assert loaded._engine.shut_down


def _request(max_tokens: int = 100, first: int = TOKENS.soh) -> GenerationRequest:
    return GenerationRequest([first, TOKENS.sos], SamplingConfig(max_new_tokens=max_tokens,
                                                                 min_new_tokens=28, seed=5))


def test_engine_arguments(backend: Any, model_dir: Path) -> None:
    args = backend._engine.args.kwargs
    assert args["model"] == str(model_dir) and args["dtype"] == "bfloat16"
    assert args["gpu_memory_utilization"] == 0.85 and args["max_model_len"] == 8192


def test_stream_yields_tokens_until_eos(backend: Any) -> None:
    assert list(backend.stream(_request())) == SCRIPT[:-1]
    params = backend._engine.params[-1].kwargs
    assert params["stop_token_ids"] == [TOKENS.eos_audio] and params["seed"] == 5
    assert params["min_tokens"] == 28 and params["max_tokens"] == 100
    allowed = set(params["allowed_token_ids"])
    assert TOKENS.eos_audio in allowed and len(allowed) == 7 * 4096 + 1
    assert min(allowed - {TOKENS.eos_audio}) == TOKENS.first_code
    assert max(allowed) == TOKENS.code_end - 1
    assert backend._engine.aborted == []


def test_min_tokens_never_exceeds_max_tokens(backend: Any) -> None:
    assert list(backend.stream(_request(max_tokens=10))) == SCRIPT[:10]
    assert backend._engine.params[-1].kwargs["min_tokens"] == 10


def test_closing_a_stream_aborts_the_request(backend: Any) -> None:
    stream = backend.stream(_request())
    assert next(stream) == SCRIPT[0]
    stream.close()
    deadline = time.monotonic() + 5
    while not backend._engine.aborted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(backend._engine.aborted) == 1


def test_batch_results_are_in_order_without_eos(backend: Any) -> None:
    results = backend.generate_batch([_request(7), _request(), _request(3)])
    assert results == [SCRIPT[:7], SCRIPT[:-1], SCRIPT[:3]]


def test_generation_errors_become_engine_failed(backend: Any) -> None:
    with pytest.raises(EngineFailed, match="engine exploded"):
        list(backend.stream(_request(first=-1)))
    with pytest.raises(EngineFailed, match="engine exploded"):
        backend.generate_batch([_request(), _request(first=-1)])
