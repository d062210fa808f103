"""The audio-token sampler: slot mask, EOS gating, top-p, repetition penalty, seeds."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from voxserve.engines.maya1.sampling import AudioTokenSampler, SamplingConfig, _top_p_filter
from voxserve.engines.maya1.tokens import CODEBOOK_SIZE, Maya1Tokens

TOKENS = Maya1Tokens()
VOCAB = 156940
CPU = torch.device("cpu")


def _sampler(*configs: SamplingConfig) -> AudioTokenSampler:
    return AudioTokenSampler(TOKENS, list(configs), CPU)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.integers(0, 60), st.integers(0, 40))
def test_only_the_slot_codes_or_eos_are_sampled(seed: int, step: int, min_new: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn((2, VOCAB), generator=generator) * 5
    logits[:, :TOKENS.first_code] += 20.0  # text ids are the model's favourites: still masked
    sampler = _sampler(SamplingConfig(min_new_tokens=min_new, seed=seed),
                       SamplingConfig(min_new_tokens=min_new, temperature=1.5, top_p=1.0))
    start = TOKENS.slot_start(step % 7)
    for token in sampler.sample(logits, step).tolist():
        assert start <= token < start + CODEBOOK_SIZE or (
            token == TOKENS.eos_audio and step >= min_new
        )


def test_eos_waits_for_min_new_tokens() -> None:
    logits = torch.zeros((1, VOCAB))
    logits[0, TOKENS.eos_audio] = 100.0
    sampler = _sampler(SamplingConfig(min_new_tokens=28, seed=0))
    assert sampler.sample(logits, 27).item() != TOKENS.eos_audio
    assert sampler.sample(logits, 28).item() == TOKENS.eos_audio


def test_same_seed_same_tokens_and_rows_are_independent() -> None:
    logits = torch.randn((1, VOCAB), generator=torch.Generator().manual_seed(1))
    alone = _sampler(SamplingConfig(seed=7, top_p=1.0, temperature=2.0))
    batch = _sampler(SamplingConfig(seed=3, top_p=1.0, temperature=2.0),
                     SamplingConfig(seed=7, top_p=1.0, temperature=2.0))
    for step in range(14):
        single = alone.sample(logits, step).item()
        assert batch.sample(logits.expand(2, -1), step)[1].item() == single


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = _top_p_filter(probs.log(), torch.tensor([[0.8]])).isfinite()
    assert kept.tolist() == [[True, True, False, False]]
    kept = _top_p_filter(probs.log(), torch.tensor([[0.81]])).isfinite()
    assert kept.tolist() == [[True, True, True, False]]
    kept = _top_p_filter(probs.log(), torch.tensor([[0.1]])).isfinite()
    assert kept.tolist() == [[True, False, False, False]]


def test_repetition_penalty_discourages_a_repeated_code() -> None:
    start = TOKENS.slot_start(0)
    logits = torch.zeros((1, VOCAB))
    logits[0, start + 5] = 3.0
    logits[0, start + 6] = 2.9
    sampler = _sampler(SamplingConfig(seed=0, temperature=0.01, repetition_penalty=1.5,
                                      min_new_tokens=99))
    assert sampler.sample(logits, 0).item() == start + 5
    assert sampler.sample(logits, 7).item() == start + 6  # 3.0 / 1.5 < 2.9
