"""The slot-aware audio mask of the vLLM backend, as plain tensor code.

At generation step ``t`` (``t`` tokens generated so far) Maya1 may only write a code of frame
slot ``t % 7`` or end the speech: every other logit is set to ``-inf``. That is what the
transformers backend's sampler does (:mod:`.sampling`), so with either backend a code can
never land in the wrong slot and a text token can never slip in. It also keeps out the
tokenizer's own EOS (``<|eot_id|>``), which vLLM would otherwise stop on. EOS_AUDIO stays
allowed: vLLM's ``min_tokens`` holds it back for the first frames.

The vLLM logits-processor classes (:mod:`.backends.vllm_mask_v1`, ``…_v2``) only keep track
of which batch row is which request and at which step; the masking is :func:`mask_to_slots`.
A request opts in with :meth:`SlotLayout.extra_args` in ``SamplingParams.extra_args``, which
also carries its token layout (so a checkpoint with other ids is a setting, not a code
change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from voxserve.engines.maya1.tokens import CODEBOOK_SIZE, FRAME_TOKENS, Maya1Tokens

#: Key of the layout in ``SamplingParams.extra_args``.
EXTRA_ARGS_KEY = "voxserve_maya1_slots"


@dataclass(frozen=True, slots=True)
class SlotLayout:
    """Where the 7 × 4096 codes start, and the end-of-speech id."""

    first_code: int
    eos: int

    @classmethod
    def of(cls, tokens: Maya1Tokens) -> SlotLayout:
        return cls(first_code=tokens.first_code, eos=tokens.eos_audio)

    @property
    def code_end(self) -> int:
        return self.first_code + FRAME_TOKENS * CODEBOOK_SIZE

    def extra_args(self) -> dict[str, Any]:
        """What a request puts in ``SamplingParams.extra_args`` to be masked."""
        return {EXTRA_ARGS_KEY: {"first_code": self.first_code, "eos": self.eos}}

    def check_vocabulary(self, vocab_size: int) -> None:
        """``ValueError`` unless every id of the layout is in a vocabulary of this size."""
        if self.code_end > vocab_size or self.eos >= vocab_size:
            raise ValueError(
                f"the Maya1 audio ids (codes {self.first_code}…{self.code_end - 1}, EOS "
                f"{self.eos}) do not fit the model's vocabulary of {vocab_size} ids"
            )


def parse_layout(extra_args: Mapping[str, Any] | None) -> SlotLayout | None:
    """The layout a request asks to be masked with; ``None``: no mask for it.

    Raises ``ValueError`` for a malformed value (vLLM turns that into a request error).
    """
    if not extra_args or EXTRA_ARGS_KEY not in extra_args:
        return None
    value = extra_args[EXTRA_ARGS_KEY]
    if not isinstance(value, Mapping) or set(value) != {"first_code", "eos"}:
        raise ValueError(f"extra_args[{EXTRA_ARGS_KEY!r}] must be {{'first_code', 'eos'}}")
    first_code, eos = value["first_code"], value["eos"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
               for v in (first_code, eos)):
        raise ValueError(f"extra_args[{EXTRA_ARGS_KEY!r}] ids must be non-negative integers")
    return SlotLayout(first_code=first_code, eos=eos)


def mask_to_slots(
    logits: torch.Tensor, steps: torch.Tensor, first_codes: torch.Tensor, eos_ids: torch.Tensor,
    enabled: torch.Tensor | None = None, vocab_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mask ``logits`` (rows × vocab) in place and return it.

    Row ``r`` keeps only the codes of slot ``steps[r] % 7`` (ids ``first_codes[r] + slot ×
    4096`` onwards) and ``eos_ids[r]``; rows where ``enabled`` is false are left alone. All
    row tensors are 1-D with one entry per row, on the logits' device.
    """
    if vocab_ids is None:
        vocab_ids = torch.arange(logits.shape[-1], device=logits.device)
    start = (first_codes.long() + (steps.long() % FRAME_TOKENS) * CODEBOOK_SIZE).unsqueeze(1)
    keep = (vocab_ids >= start) & (vocab_ids < start + CODEBOOK_SIZE)
    keep |= vocab_ids == eos_ids.long().unsqueeze(1)
    if enabled is not None:
        keep |= ~enabled.unsqueeze(1)
    return logits.masked_fill_(~keep, float("-inf"))
