"""The slot mask as a logits processor of vLLM's V1 model runner (vLLM 0.27 – 0.32).

Interface: ``vllm.v1.sample.logits_processor.LogitsProcessor`` — ``__init__(vllm_config,
device, is_pin_memory)``, ``update_state(batch_update)`` before each step, ``apply(logits)``
on the ``(batch, vocab)`` float32 logits, ``is_argmax_invariant()``, and the classmethod
``validate_params(sampling_params)`` run when a request is admitted. A ``BatchUpdate`` lists
rows ``removed``, ``added`` as ``(index, params, prompt_ids, output_ids)`` and ``moved`` as
``(a, b, UNIDIRECTIONAL | SWAP)``, to be applied in that order; ``output_ids`` is the
request's live list of generated tokens (placeholders included under async scheduling), so
its length is the step being sampled. vLLM runs this processor with the other
non-argmax-invariant ones (min-tokens, logit bias), before penalties and temperature.

Loaded by vLLM from :data:`FQCN` (in the engine-core process).
"""

from __future__ import annotations

from typing import Any

import torch
from vllm.v1.sample.logits_processor import (
    BatchUpdate,
    LogitsProcessor,
    MoveDirectionality,
)

from voxserve.engines.maya1.slot_mask import SlotLayout, mask_to_slots, parse_layout

FQCN = "voxserve.engines.maya1.backends.vllm_mask_v1:SlotMaskProcessor"


class SlotMaskProcessor(LogitsProcessor):  # type: ignore[misc]  # vLLM is untyped here
    """Masks the rows of requests that carry a slot layout in ``extra_args``."""

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        self._device = device
        self._pin_memory = is_pin_memory
        self._vocab_ids = torch.arange(vllm_config.model_config.get_vocab_size(), device=device)
        #: batch row → (layout, the request's live output token list)
        self._rows: dict[int, tuple[SlotLayout, list[int]]] = {}

    @classmethod
    def validate_params(cls, sampling_params: Any) -> None:
        parse_layout(sampling_params.extra_args)

    def is_argmax_invariant(self) -> bool:
        return False  # it changes which token is most likely

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is None:
            return
        for index in batch_update.removed:
            self._rows.pop(index, None)
        for index, params, _prompt_ids, output_ids in batch_update.added:
            layout = parse_layout(params.extra_args)
            if layout is None:
                self._rows.pop(index, None)
            else:
                self._rows[index] = (layout, output_ids)
        for a, b, direction in batch_update.moved:
            a_row, b_row = self._rows.pop(a, None), self._rows.pop(b, None)
            if a_row is not None:
                self._rows[b] = a_row
            if b_row is not None and direction == MoveDirectionality.SWAP:
                self._rows[a] = b_row

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self._rows:
            return logits
        rows = sorted(self._rows)
        table = torch.tensor(
            [[row, len(self._rows[row][1]), self._rows[row][0].first_code,
              self._rows[row][0].eos] for row in rows],
            dtype=torch.int64, pin_memory=self._pin_memory,
        ).to(self._device, non_blocking=True)
        if self._vocab_ids.numel() != logits.shape[-1]:
            self._vocab_ids = torch.arange(logits.shape[-1], device=logits.device)
        index = table[:, 0]
        logits[index] = mask_to_slots(logits[index], table[:, 1], table[:, 2], table[:, 3],
                                      vocab_ids=self._vocab_ids)
        return logits
