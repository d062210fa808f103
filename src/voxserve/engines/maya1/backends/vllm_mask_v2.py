"""The slot mask as a logits processor of vLLM's Model Runner V2 (vLLM 0.31 – 0.32).

Interface: ``vllm.v1.worker.gpu.sample.logits_processor.LogitsProcessor`` —
``__init__(vllm_config, req_states)``, ``add_request(req_idx, sampling_params) -> bool`` when
a request takes a persistent slot (slots are recycled: all per-slot state is rewritten
there), ``apply_staged_writes()`` once per step before the forward pass, and
``apply(logits, ctx)`` on the ``(rows, vocab)`` float32 logits, where a row is not a request:
``ctx.expanded_idx_mapping`` maps each row to its slot and ``ctx.pos`` is the position of
the token the row was computed from (rows are reordered every step; with speculative
decoding a request owns several). The number of tokens a row's request has generated before
the token being sampled is ``pos + 1 - prompt_len[slot]``; ``req_states.prompt_len`` is
read-only vLLM state (``.np`` on the host, ``.gpu`` on the device). MRv2 applies custom
processors after logit bias/min-tokens, penalties and bad words, before temperature, min-p
and top-k/top-p.

Loaded by vLLM from :data:`FQCN` (in the engine-core process).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from vllm.v1.worker.gpu.sample.logits_processor import LogitsContext, LogitsProcessor

from voxserve.engines.maya1.slot_mask import mask_to_slots, parse_layout

FQCN = "voxserve.engines.maya1.backends.vllm_mask_v2:SlotMaskProcessor"


class SlotMaskProcessor(LogitsProcessor):  # type: ignore[misc]  # vLLM is untyped here
    """Masks the rows of requests that carry a slot layout in ``extra_args``."""

    def __init__(self, vllm_config: Any, req_states: Any) -> None:
        slots = int(req_states.max_num_reqs)
        self._device = req_states.device
        self._prompt_len = req_states.prompt_len
        self._vocab_ids = torch.arange(req_states.vocab_size, device=self._device)
        # Host copies are written by add_request, the device ones in apply_staged_writes.
        self._enabled_np = np.zeros(slots, dtype=np.bool_)
        self._layout_np = np.zeros((slots, 2), dtype=np.int64)  # first code, EOS
        self._enabled = torch.zeros(slots, dtype=torch.bool, device=self._device)
        self._layout = torch.zeros((slots, 2), dtype=torch.int64, device=self._device)
        self._staged = False

    @classmethod
    def validate_params(cls, sampling_params: Any) -> None:
        parse_layout(sampling_params.extra_args)

    def add_request(self, req_idx: int, sampling_params: Any) -> bool:
        layout = parse_layout(sampling_params.extra_args)
        self._enabled_np[req_idx] = layout is not None
        self._layout_np[req_idx] = (layout.first_code, layout.eos) if layout else (0, 0)
        self._staged = True
        return layout is not None

    def apply_staged_writes(self) -> None:
        if self._staged:
            self._enabled.copy_(torch.from_numpy(self._enabled_np))
            self._layout.copy_(torch.from_numpy(self._layout_np))
            self._staged = False

    def apply(self, logits: torch.Tensor, ctx: LogitsContext) -> torch.Tensor:
        if not self._enabled_np[ctx.idx_mapping_np].any():
            return logits  # no row of this step asks for the mask: no device work
        if self._vocab_ids.numel() != logits.shape[-1]:
            self._vocab_ids = torch.arange(logits.shape[-1], device=logits.device)
        slots = ctx.expanded_idx_mapping.long()
        steps = ctx.pos.long() + 1 - self._prompt_len.gpu[slots].long()
        layout = self._layout[slots]
        return mask_to_slots(logits, steps, layout[:, 0], layout[:, 1],
                             enabled=self._enabled[slots], vocab_ids=self._vocab_ids)
