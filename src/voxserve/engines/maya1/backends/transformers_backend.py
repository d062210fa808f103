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
"""

from __future__ import annotations

import inspect
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import torch

from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.sampling import AudioTokenSampler
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineLoadError


class TransformersBackend:
    """Maya1 through ``transformers``; thread-safe (every generation owns its cache)."""

    def __init__(self, model: Any, tokens: Maya1Tokens, device: torch.device) -> None:
        self._model = model
        self._tokens = tokens
        self._device = device

    @classmethod
    def load(
        cls, model_dir: Path, tokens: Maya1Tokens, device: torch.device, dtype: torch.dtype
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
        return cls(model, tokens, device)

    def stream(self, request: GenerationRequest) -> Generator[int, None, None]:
        generation = _LockstepGeneration(self._model, self._tokens, self._device, [request])
        while not generation.done:
            (token,) = generation.advance()
            if token is None or token == self._tokens.eos_audio:
                return
            yield token

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        generation = _LockstepGeneration(self._model, self._tokens, self._device, requests)
        outputs: list[list[int]] = [[] for _ in requests]
        while not generation.done:
            for output, token in zip(outputs, generation.advance(), strict=True):
                if token is not None and token != self._tokens.eos_audio:
                    output.append(token)
        return outputs

    def close(self) -> None:
        self._model = None


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
