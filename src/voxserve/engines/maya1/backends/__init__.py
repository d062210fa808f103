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
        """Generated ids one by one, until EOS_AUDIO (not yielded) or ``max_new_tokens``.

        Closing the generator early stops the generation.
        """

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        """Generated ids (without EOS_AUDIO) of several requests, in request order."""

    def close(self) -> None:
        """Release the model."""


def load_backend(
    settings: Settings, model_dir: Path, tokens: Maya1Tokens,
    device: torch.device, dtype: torch.dtype,
) -> Backend:
    """Load the configured backend (``EngineLoadError`` when it cannot be)."""
    if settings.maya1_backend == "vllm":
        from voxserve.engines.maya1.backends.vllm_backend import VllmBackend

        return VllmBackend.load(settings, model_dir, tokens, device, dtype)
    from voxserve.engines.maya1.backends.transformers_backend import TransformersBackend

    return TransformersBackend.load(model_dir, tokens, device, dtype)
