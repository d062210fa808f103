"""Sampling settings and the audio-token sampler of the transformers backend.

After SOS only audio may follow, so at generation step ``t`` the sampler looks at 4097
candidates: EOS_AUDIO (masked until ``min_new_tokens`` tokens exist) and the 4096 codes of
frame slot ``t % 7``. That is a tighter form of the recommended "SNAC range + EOS" mask: a
well-trained model puts its mass in the right slot anyway, and the mask makes a text token or
a misaligned (wrong-slot) code impossible instead of something to detect afterwards. The
processors then run in Hugging Face's order with its semantics: repetition penalty (over the
tokens generated so far; the prompt has no ids in the audio range), temperature, top-p.
Each row samples with its own ``torch.Generator``, so a seeded request draws the same tokens
alone or in a batch (up to the batch's floating-point differences).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from voxserve.engines.maya1.tokens import CODEBOOK_SIZE, FRAME_TOKENS, Maya1Tokens


@dataclass(frozen=True, slots=True)
class SamplingConfig:
    """Resolved generation settings of one request."""

    temperature: float = 0.4
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    max_new_tokens: int = 2048
    #: EOS_AUDIO is masked until this many tokens were generated.
    min_new_tokens: int = 28
    #: Fixes the sampled tokens (not SNAC's decoder noise); ``None``: fresh randomness.
    seed: int | None = None


class AudioTokenSampler:
    """Samples one token per row and step for a batch generated in lockstep."""

    def __init__(
        self, tokens: Maya1Tokens, configs: Sequence[SamplingConfig], device: torch.device
    ) -> None:
        self._tokens = tokens
        self._low = tokens.eos_audio
        self._high = tokens.code_end
        rows = len(configs)
        self._temperature = torch.tensor([[c.temperature] for c in configs], device=device)
        self._top_p = torch.tensor([[c.top_p] for c in configs], device=device)
        self._penalty = torch.tensor([[c.repetition_penalty] for c in configs], device=device)
        self._min_new = torch.tensor([c.min_new_tokens for c in configs], device=device)
        self._seen = torch.zeros((rows, self._high - self._low), dtype=torch.bool, device=device)
        self._generators = []
        for config in configs:
            generator = torch.Generator(device=device)
            seed = config.seed if config.seed is not None else secrets.randbits(63)
            generator.manual_seed(seed)
            self._generators.append(generator)
        self._rows = torch.arange(rows, device=device)

    def sample(self, logits: torch.Tensor, step: int) -> torch.Tensor:
        """Next token id per row from ``(rows, vocab)`` logits of generation step ``step``."""
        eos = self._tokens.eos_audio
        start = self._tokens.slot_start(step % FRAME_TOKENS)
        # Candidates: column 0 is EOS_AUDIO, columns 1… are the codes of this step's slot.
        scores = torch.cat(
            [logits[:, eos:eos + 1], logits[:, start:start + CODEBOOK_SIZE]], dim=1
        ).float()
        offset = start - self._low
        seen = torch.cat(
            [self._seen[:, :1], self._seen[:, offset:offset + CODEBOOK_SIZE]], dim=1
        )
        penalized = torch.where(scores > 0, scores / self._penalty, scores * self._penalty)
        scores = torch.where(seen, penalized, scores)
        eos_allowed = step >= self._min_new
        scores[:, 0] = scores[:, 0].masked_fill(~eos_allowed, float("-inf"))
        scores = _top_p_filter(scores / self._temperature, self._top_p)
        probs = torch.softmax(scores, dim=-1)
        picks = torch.cat([
            torch.multinomial(probs[row], 1, generator=generator)
            for row, generator in enumerate(self._generators)
        ])
        ids = torch.where(picks == 0, eos, start + picks - 1)
        self._seen[self._rows, ids - self._low] = True
        return ids


def _top_p_filter(scores: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Keep each row's smallest set of top tokens whose probability reaches ``top_p``."""
    sorted_scores, order = torch.sort(scores, dim=-1, descending=True)
    probs = torch.softmax(sorted_scores, dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs
    remove_sorted = mass_before >= top_p
    remove_sorted[:, 0] = False
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return scores.masked_fill(remove, float("-inf"))
