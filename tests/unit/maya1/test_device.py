"""Device and dtype resolution: bf16 by default on CUDA, and nothing touches CUDA before
vLLM has started (its worker processes cannot be forked from a process that has)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.unit.maya1.conftest import maya1_settings
from voxserve.engines.maya1 import Maya1Engine
from voxserve.engines.maya1.device import resolve_device
from voxserve.errors import EngineLoadError


@pytest.fixture
def cuda_untouchable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call that would initialize CUDA (or query it) fails the test."""
    def touched(*args: object, **kwargs: object) -> None:
        raise AssertionError("CUDA was touched before vLLM started")

    for name in ("is_available", "device_count", "init", "is_bf16_supported",
                 "get_device_capability"):
        monkeypatch.setattr(torch.cuda, name, touched)
    monkeypatch.setattr(torch._C, "_cuda_getDeviceCount", touched, raising=False)


def test_vllm_placement_never_touches_cuda(cuda_untouchable: None) -> None:
    assert resolve_device("auto", "auto", backend="vllm") == (torch.device("cuda", 0), None)
    assert resolve_device("cuda", "bfloat16", backend="vllm") == (
        torch.device("cuda", 0), torch.bfloat16)
    for device in ("cpu", "cuda:1"):
        with pytest.raises(EngineLoadError, match="first visible CUDA device"):
            resolve_device(device, "auto", backend="vllm")


def test_loading_the_vllm_backend_reaches_vllm_before_cuda(
    cuda_untouchable: None, model_dir: Path, snac_dir: Path
) -> None:
    engine = Maya1Engine(maya1_settings(model_dir, snac_dir, maya1_backend="vllm",
                                        maya1_device="auto"), share=False)
    with pytest.raises(EngineLoadError, match="vllm is not installed"):
        engine.load()


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_dtype_on_cuda_is_bf16_where_the_gpu_has_it(
    monkeypatch: pytest.MonkeyPatch, bf16: bool, expected: torch.dtype
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: bf16 and not including_emulation)
    assert resolve_device("auto", "auto") == (torch.device("cuda"), expected)
    assert resolve_device("cuda:0", "float32") == (torch.device("cuda:0"), torch.float32)
    with pytest.raises(EngineLoadError, match="only 1 CUDA device"):
        resolve_device("cuda:1", "auto")


def test_cpu_placement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto", "auto") == (torch.device("cpu"), torch.float32)
    assert resolve_device("cpu", "bfloat16") == (torch.device("cpu"), torch.bfloat16)
    with pytest.raises(EngineLoadError, match="CUDA is not available"):
        resolve_device("cuda", "auto")
    with pytest.raises(EngineLoadError, match="not supported"):
        resolve_device("mps", "auto")
