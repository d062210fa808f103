"""Resolve the configured device and dtype (``auto``: CUDA + bfloat16 when available)."""

from __future__ import annotations

import torch

from voxserve.errors import EngineLoadError

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str, dtype: str) -> tuple[torch.device, torch.dtype]:
    """``maya1_device`` and ``maya1_dtype`` as torch objects, checked against this machine."""
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
        return resolved, torch.bfloat16 if resolved.type == "cuda" else torch.float32
    if dtype not in _DTYPES:
        raise EngineLoadError(f"maya1: unknown dtype {dtype!r}")
    return resolved, _DTYPES[dtype]
