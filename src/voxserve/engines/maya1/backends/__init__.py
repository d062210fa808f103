"""LLM backends: turn prompt ids into generated audio-token ids.

``transformers`` (CPU or GPU, one request or a padded batch) is always available; ``vllm``
(continuous batching of many concurrent streams on a GPU) is imported only when configured,
so neither importing this package nor using the transformers backend imports vLLM.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineLoadError

if TYPE_CHECKING:
    import torch

    from voxserve.settings import Settings


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One prompt and how to sample its continuation."""

    prompt_ids: Sequence[int]
    sampling: SamplingConfig


class Backend(Protocol):
    """What the engine needs from an LLM runtime. Implementations are thread-safe."""

    def stream(self, request: GenerationRequest) -> Generator[int, None, None]:
        """Generated ids one by one; EOS_AUDIO is the last one when the model ended the
        speech, and there is none when ``max_new_tokens`` cut it.

        Closing the generator early stops the generation. Raises ``EngineFailed`` when the
        generation fails or the backend is closed meanwhile.
        """

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        """Generated ids of several requests, in request order, each as :meth:`stream`
        yields them. If one request fails, the others are stopped and ``EngineFailed`` is
        raised."""

    def close(self) -> None:
        """Release the model; streams and batches still running end with ``EngineFailed``."""


def load_backend(
    settings: Settings, model_dir: Path, tokens: Maya1Tokens,
    device: torch.device, dtype: torch.dtype | None,
) -> Backend:
    """Load the configured backend (``EngineLoadError`` when it cannot be).

    ``dtype`` ``None`` lets vLLM choose (the transformers backend always gets one).
    """
    if settings.maya1_backend == "vllm":
        from voxserve.engines.maya1.backends.vllm_backend import VllmBackend

        if settings.maya1_quantization != "none":
            raise EngineLoadError(
                "maya1: VOXSERVE_MAYA1_QUANTIZATION is for the transformers backend; vLLM "
                "quantizes with VOXSERVE_MAYA1_VLLM_QUANTIZATION (e.g. fp8)"
            )
        return VllmBackend.load(settings, model_dir, tokens, device, dtype)
    from voxserve.engines.maya1.backends.transformers_backend import TransformersBackend

    if dtype is None:
        raise EngineLoadError("maya1: the transformers backend needs a resolved dtype")
    return TransformersBackend.load(
        model_dir, tokens, device, dtype, quantization=settings.maya1_quantization
    )
