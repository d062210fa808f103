"""The portable backend: a Hugging Face causal LM on CPU or one GPU.

Generation is our own incremental decode loop over the model's KV cache rather than
``model.generate`` with a streamer thread, because the loop

* streams without a helper thread: the caller pulls tokens, and closing the iterator (a
  client that went away) simply stops generating — no orphaned thread keeps the GPU busy;
* serves single requests and left-padded batches with the same code, where each row stops
  on its own EOS_AUDIO or ``max_new_tokens`` and samples with its own seeded generator;
* applies the slot-aware audio mask of :mod:`..sampling` at every step.

Each step runs the model on one new token per row, reusing the cache, with explicit
position ids so that left padding does not shift the rotary positions of shorter prompts.
``close`` makes every generation still running stop at its next step with ``EngineFailed``.

``quantization="int8"`` stores the LM's linear weights as int8 with a scale per output
channel (torchao's weight-only ``Int8WeightOnlyConfig``); activations keep the dtype.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.sampling import AudioTokenSampler
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineFailed, EngineLoadError


class TransformersBackend:
    """Maya1 through ``transformers``; thread-safe (every generation owns its cache)."""

    def __init__(self, model: Any, tokens: Maya1Tokens, device: torch.device) -> None:
        self._model = model
        self._tokens = tokens
        self._device = device
        self._closed = threading.Event()

    @property
    def model(self) -> Any:
        """The loaded causal LM (checks and benchmarks read its dtype and device)."""
        return self._model

    @classmethod
    def load(
        cls, model_dir: Path, tokens: Maya1Tokens, device: torch.device, dtype: torch.dtype,
        *, quantization: Literal["none", "int8"] = "none",
    ) -> TransformersBackend:
        from transformers import AutoModelForCausalLM

        try:
            model: Any = AutoModelForCausalLM.from_pretrained(
                str(model_dir), dtype=dtype, local_files_only=True
            )
        except Exception as exc:  # OSError for missing weights, ValueError, …
            raise EngineLoadError(f"maya1: cannot load the model from {model_dir}: {exc}") from exc
        model.to(device)
        model.eval()
        if quantization == "int8":
            quantize_int8_weights(model)
        return cls(model, tokens, device)

    def stream(self, request: GenerationRequest) -> Generator[int, None, None]:
        generation = _LockstepGeneration(self._live_model(), self._tokens, self._device,
                                         [request])
        while not generation.done:
            self._check_open()
            (token,) = generation.advance()
            if token is None:
                return
            yield token

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        generation = _LockstepGeneration(self._live_model(), self._tokens, self._device,
                                         requests)
        outputs: list[list[int]] = [[] for _ in requests]
        while not generation.done:
            self._check_open()
            for output, token in zip(outputs, generation.advance(), strict=True):
                if token is not None:
                    output.append(token)
        return outputs

    def close(self) -> None:
        self._closed.set()
        self._model = None

    def _live_model(self) -> Any:
        self._check_open()
        return self._model

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise EngineFailed("maya1: the transformers backend was closed")


def quantize_int8_weights(model: torch.nn.Module) -> None:
    """Weight-only INT8 for every linear layer of ``model`` (in place; torchao)."""
    try:
        from torchao.quantization import Int8WeightOnlyConfig, quantize_
    except ImportError as exc:
        raise EngineLoadError(
            "maya1: VOXSERVE_MAYA1_QUANTIZATION=int8 needs torchao (the 'maya1-int8' extra): "
            f"{exc}"
        ) from exc
    try:
        quantize_(model, Int8WeightOnlyConfig())
    except Exception as exc:  # an unsupported device or dtype
        raise EngineLoadError(f"maya1: INT8 weight quantization failed: {exc}") from exc


class _LockstepGeneration:
    """Rows generated together, one token per row and step; rows finish independently."""

    @torch.inference_mode()
    def __init__(
        self, model: Any, tokens: Maya1Tokens, device: torch.device,
        requests: Sequence[GenerationRequest],
    ) -> None:
        self._model = model
        self._eos = tokens.eos_audio
        self._limits = [request.sampling.max_new_tokens for request in requests]
        self._finished = [limit <= 0 for limit in self._limits]
        self._sampler = AudioTokenSampler(tokens, [r.sampling for r in requests], device)
        self._step = 0
        width = max(len(request.prompt_ids) for request in requests)
        ids = torch.full((len(requests), width), tokens.pad, dtype=torch.long)
        mask = torch.zeros((len(requests), width), dtype=torch.long)
        for row, request in enumerate(requests):
            length = len(request.prompt_ids)
            ids[row, width - length:] = torch.tensor(list(request.prompt_ids), dtype=torch.long)
            mask[row, width - length:] = 1
        self._mask = mask.to(device)
        self._positions = (self._mask.cumsum(-1) - 1).clamp(min=0)
        self._cache: Any = None
        self._cache_name = _cache_name(model.forward)
        self._logits = self._forward(ids.to(device))

    @property
    def done(self) -> bool:
        return all(self._finished)

    @torch.inference_mode()
    def advance(self) -> list[int | None]:
        """Sample the next token of every row (``None`` for rows already finished)."""
        picks = self._sampler.sample(self._logits, self._step)
        self._step += 1
        result: list[int | None] = []
        for row, token in enumerate(picks.tolist()):
            if self._finished[row]:
                result.append(None)
                continue
            result.append(token)
            self._finished[row] = token == self._eos or self._step >= self._limits[row]
        if not self.done:
            self._mask = torch.cat([self._mask, torch.ones_like(self._mask[:, :1])], dim=1)
            self._positions = self._positions[:, -1:] + 1
            self._logits = self._forward(picks[:, None])
        return result

    @torch.inference_mode()
    def _forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Run the model on new tokens; returns the last position's logits per row."""
        output = self._model(
            input_ids=input_ids, attention_mask=self._mask, position_ids=self._positions,
            use_cache=True, logits_to_keep=1, **{self._cache_name: self._cache},
        )
        self._cache = getattr(output, self._cache_name)
        logits: torch.Tensor = output.logits[:, -1, :]
        return logits


def _cache_name(forward: Any) -> str:
    """What the model's ``forward`` calls its KV cache (argument and output field):
    ``cache`` in newer transformers 5 releases, which deprecate ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"
