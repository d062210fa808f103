"""Weight-only INT8 (torchao) on the transformers backend: the tiny model's linear weights
become int8, its logits stay close, and it still speaks in-slot, finite audio."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.unit.maya1.conftest import maya1_settings
from voxserve.engines.base import SynthesisParams
from voxserve.engines.maya1 import Maya1Engine, Maya1Options
from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.backends.transformers_backend import TransformersBackend
from voxserve.engines.maya1.frames import strict_frames
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineLoadError

TOKENS = Maya1Tokens()
PROMPT = [TOKENS.soh, 5, 6, 7, TOKENS.sos]


def _int8_layers(model: torch.nn.Module) -> int:
    return sum(type(m.weight).__module__.startswith("torchao")
               for m in model.modules() if isinstance(m, torch.nn.Linear))


def test_int8_weights_keep_the_logits_close_and_the_audio_in_range(model_dir: Path,
                                                                   snac_dir: Path) -> None:
    pytest.importorskip("torchao")
    full = TransformersBackend.load(model_dir, TOKENS, torch.device("cpu"), torch.float32)
    int8 = TransformersBackend.load(model_dir, TOKENS, torch.device("cpu"), torch.float32,
                                    quantization="int8")
    linears = sum(isinstance(m, torch.nn.Linear) for m in int8.model.modules())
    assert _int8_layers(int8.model) == linears >= 15  # 2 layers × 7 projections + lm_head
    assert _int8_layers(full.model) == 0
    ids = torch.tensor([PROMPT])
    with torch.inference_mode():
        reference = full.model(input_ids=ids).logits
        quantized = int8.model(input_ids=ids).logits
    assert torch.isfinite(quantized).all()
    assert float((quantized - reference).abs().max()) < 0.02 * float(reference.abs().max())
    request = GenerationRequest(PROMPT, SamplingConfig(max_new_tokens=42, min_new_tokens=42,
                                                       seed=4))
    (tokens,) = int8.generate_batch([request])
    assert len(strict_frames(tokens, TOKENS)) == 6  # every token in its slot

    engine = Maya1Engine(maya1_settings(model_dir, snac_dir, maya1_quantization="int8"),
                         share=False)
    engine.load()
    chunks = list(engine.synthesize("Hello.", "maya1-warm",
                                    SynthesisParams(options=Maya1Options(seed=2))))
    engine.close()
    assert [len(c.samples) for c in chunks] == [2048] * 5 + [4096]
    samples = np.concatenate([c.samples for c in chunks])
    assert np.all(np.isfinite(samples)) and float(np.max(np.abs(samples))) <= 1.0


def test_int8_needs_torchao_and_is_not_for_vllm(model_dir: Path, snac_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchao.quantization", None)
    with pytest.raises(EngineLoadError, match="maya1-int8"):
        TransformersBackend.load(model_dir, TOKENS, torch.device("cpu"), torch.float32,
                                 quantization="int8")
    engine = Maya1Engine(maya1_settings(model_dir, snac_dir, maya1_backend="vllm",
                                        maya1_device="auto", maya1_quantization="int8"),
                         share=False)
    with pytest.raises(EngineLoadError, match="VOXSERVE_MAYA1_VLLM_QUANTIZATION"):
        engine.load()
