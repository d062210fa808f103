"""Resolve the configured device and dtype (``auto``: CUDA + bfloat16 when available).

The LM runs in bfloat16 on CUDA by default (float16 on a GPU without bfloat16, e.g. before
Ampere), float32 on the CPU; SNAC always decodes in float32.

vLLM must be the first to touch CUDA: its engine starts worker processes, and a parent
process that has initialized CUDA can no longer fork them. ``torch.cuda.is_available()``
initializes the driver (``cuInit``), so for the vLLM backend nothing here calls it: the
device is CUDA by definition, and a dtype left on ``auto`` is decided by vLLM (the
checkpoint's bfloat16 where the GPU supports it), which queries the GPU through NVML.
"""

from __future__ import annotations

import torch

from voxserve.errors import EngineLoadError

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(
    device: str, dtype: str, *, backend: str = "transformers"
) -> tuple[torch.device, torch.dtype | None]:
    """``maya1_device`` and ``maya1_dtype`` as torch objects, checked against this machine.

    The dtype is ``None`` only for vLLM with ``auto`` (vLLM decides).
    """
    if backend == "vllm":
        return _vllm_device(device), (None if dtype == "auto" else _named_dtype(dtype))
    name = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    try:
        resolved = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise EngineLoadError(f"maya1: invalid device {device!r}: {exc}") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise EngineLoadError(f"maya1: device {device!r} asked for but CUDA is not available")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise EngineLoadError(
                f"maya1: device {device!r} asked for but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist"
            )
    elif resolved.type != "cpu":
        raise EngineLoadError(f"maya1: device {device!r} is not supported (cpu or cuda)")
    if dtype == "auto":
        if resolved.type == "cpu":
            return resolved, torch.float32
        bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
        return resolved, torch.bfloat16 if bf16 else torch.float16
    return resolved, _named_dtype(dtype)


def _vllm_device(device: str) -> torch.device:
    """The first visible CUDA device, without initializing CUDA (constructing a
    ``torch.device`` does not)."""
    if device not in ("auto", "cuda", "cuda:0"):
        raise EngineLoadError(
            f"maya1: the vllm backend runs on the first visible CUDA device, not {device!r} "
            "(pick the GPU with CUDA_VISIBLE_DEVICES and set VOXSERVE_MAYA1_DEVICE=cuda)"
        )
    return torch.device("cuda", 0)


def _named_dtype(dtype: str) -> torch.dtype:
    if dtype not in _DTYPES:
        raise EngineLoadError(f"maya1: unknown dtype {dtype!r}")
    return _DTYPES[dtype]
