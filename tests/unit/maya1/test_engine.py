"""The Maya1 engine end to end on the tiny random models (CPU)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tests.unit.maya1.conftest import maya1_settings
from tests.unit.maya1.tiny_models import build_tokenizer
from voxserve.engines.base import (
    BatchingEngine,
    Engine,
    SegmentRequest,
    SynthesisParams,
    create_engine,
    parse_options,
)
from voxserve.engines.maya1 import Maya1Engine, Maya1Options
from voxserve.engines.maya1.backends import GenerationRequest
from voxserve.engines.maya1.backends.transformers_backend import TransformersBackend
from voxserve.engines.maya1.frames import Frame, frames_to_tokens
from voxserve.engines.maya1.sampling import SamplingConfig
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineFailed, EngineLoadError, InvalidOption, VoiceNotFound
from voxserve.types import AudioChunk

TOKENS = Maya1Tokens()
VOICE = "maya1-warm"


@pytest.fixture(scope="module")
def engine(model_dir: Path, snac_dir: Path) -> Iterator[Maya1Engine]:
    loaded = Maya1Engine(maya1_settings(model_dir, snac_dir))
    loaded.load()
    yield loaded
    loaded.close()


def _params(**options: object) -> SynthesisParams:
    return SynthesisParams(options=Maya1Options(**options))  # type: ignore[arg-type]


def _samples(chunks: Sequence[AudioChunk]) -> np.ndarray:
    return np.concatenate([chunk.samples for chunk in chunks])


def test_engine_satisfies_protocols(engine: Maya1Engine) -> None:
    assert isinstance(engine, Engine) and isinstance(engine, BatchingEngine)
    caps = engine.capabilities
    assert caps.batching_gain and caps.streams_within_segment and not caps.deterministic
    assert caps.max_batch_size == 16


def test_registry_creates_the_engine(model_dir: Path, snac_dir: Path) -> None:
    engine = create_engine("maya1", maya1_settings(model_dir, snac_dir))
    assert isinstance(engine, Maya1Engine)
    assert engine.model_dir == model_dir and engine.snac_dir == snac_dir


def test_voices_are_the_named_descriptions(engine: Maya1Engine) -> None:
    voices = {voice.id: voice for voice in engine.voices()}
    assert set(voices) == {"maya1-warm", "maya1-bright"}
    assert voices[VOICE].sample_rate_hz == 24000
    assert voices[VOICE].description == "40-year-old, warm, low pitch, conversational"


def test_synthesize_streams_float32_24khz_audio(engine: Maya1Engine) -> None:
    chunks = list(engine.synthesize("Hello <laugh> there.", VOICE, _params(seed=1)))
    # 56 tokens = 8 frames: a chunk per frame from the 4th, then the 2-frame tail.
    assert [len(c.samples) for c in chunks] == [2048] * 5 + [4096]
    assert all(c.samples.dtype == np.float32 and c.sample_rate_hz == 24000 for c in chunks)
    samples = _samples(chunks)
    assert np.all(np.isfinite(samples)) and float(np.max(np.abs(samples))) <= 1.0


def test_shorter_requests_and_closing_early(engine: Maya1Engine) -> None:
    chunks = list(engine.synthesize("Hi.", VOICE, _params(max_new_tokens=21, seed=2)))
    assert [len(c.samples) for c in chunks] == [2 * 2048]  # 3 frames: decoded whole at flush
    stream = engine.synthesize("Hi.", VOICE, _params(seed=2))
    first = next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert len(first.samples) == 2048


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_speed_stretches_the_audio_while_it_streams(engine: Maya1Engine, speed: float) -> None:
    normal = _samples(list(engine.synthesize("Hello there.", VOICE, _params(seed=1))))
    params = SynthesisParams(speed=speed, options=Maya1Options(seed=1))
    chunks = list(engine.synthesize("Hello there.", VOICE, params))
    stretched = _samples(chunks)
    assert len(chunks) > 2  # still streaming, chunk by chunk
    assert all(c.sample_rate_hz == 24000 and c.samples.dtype == np.float32 for c in chunks)
    assert stretched.size / 24000 == pytest.approx(normal.size / 24000 / speed, abs=0.03)


def test_speed_in_a_batch_and_closing_a_stretched_stream(engine: Maya1Engine) -> None:
    requests = [
        SegmentRequest("One.", VOICE, _params(max_new_tokens=42, seed=1)),
        SegmentRequest("Two.", VOICE, SynthesisParams(speed=2.0, options=Maya1Options(
            max_new_tokens=42, seed=1))),
    ]
    normal, fast = engine.synthesize_batch(requests)
    assert _samples(fast).size / 24000 == pytest.approx(_samples(normal).size / 24000 / 2,
                                                       abs=0.03)
    stream = engine.synthesize("Hi.", VOICE, SynthesisParams(speed=0.5, options=Maya1Options(
        seed=2)))
    first = next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert first.samples.size > 0


def test_batch_of_three_is_routed_in_order(engine: Maya1Engine) -> None:
    requests = [
        SegmentRequest("One.", VOICE, _params(max_new_tokens=42, seed=1)),
        SegmentRequest("Two.", "maya1-bright", _params(max_new_tokens=28, seed=2)),
        SegmentRequest("Three.", VOICE, _params(max_new_tokens=56, seed=3)),
    ]
    results = engine.synthesize_batch(requests)
    assert [[len(c.samples) for c in r] for r in results] == [[5 * 2048], [3 * 2048], [7 * 2048]]
    assert all(c.samples.dtype == np.float32 for r in results for c in r)


def test_batched_tokens_equal_single_runs_with_the_same_seeds(model_dir: Path) -> None:
    import torch

    backend = TransformersBackend.load(model_dir, TOKENS, torch.device("cpu"), torch.float32)
    requests = [
        GenerationRequest([TOKENS.soh, 5, 6, 7, 8, 9, TOKENS.sos], SamplingConfig(
            max_new_tokens=21, min_new_tokens=21, seed=11)),
        GenerationRequest([TOKENS.soh, 5, TOKENS.sos], SamplingConfig(
            max_new_tokens=35, min_new_tokens=35, seed=12)),
        GenerationRequest([TOKENS.soh, 9, 9, 9, TOKENS.sos], SamplingConfig(
            max_new_tokens=14, min_new_tokens=14, seed=13)),
    ]
    batched = backend.generate_batch(requests)
    assert [len(ids) for ids in batched] == [21, 35, 14]
    assert batched == [list(backend.stream(request)) for request in requests]


def test_batch_key_groups_identical_sampling(engine: Maya1Engine) -> None:
    assert engine.batch_key(VOICE, _params()) == engine.batch_key("maya1-bright", _params(seed=4))
    assert engine.batch_key(VOICE, _params()) != engine.batch_key(VOICE, _params(top_p=0.5))


def test_instructions_replace_the_description(engine: Maya1Engine) -> None:
    instructed = engine._request("Hi.", VOICE, SynthesisParams(instructions="a robot"))
    default = engine._request("Hi.", VOICE, SynthesisParams())
    description = "40-year-old, warm, low pitch, conversational"
    # The tiny tokenizer is character-level: the prompts differ by the descriptions' lengths.
    assert len(instructed.prompt_ids) == len(default.prompt_ids) - len(description) + 7
    assert instructed.prompt_ids != default.prompt_ids


def test_request_errors_are_raised_before_generation(engine: Maya1Engine) -> None:
    with pytest.raises(VoiceNotFound):
        engine.synthesize("Hi.", "nobody", SynthesisParams())
    with pytest.raises(InvalidOption, match="max_new_tokens"):
        engine.synthesize("Hi.", VOICE, _params(max_new_tokens=999))
    with pytest.raises(InvalidOption, match="temperature"):
        parse_options(engine, {"temperature": 0})
    with pytest.raises(InvalidOption):
        parse_options(engine, {"top_k": 5})
    assert parse_options(engine, {"seed": 3, "top_p": 0.5}) == Maya1Options(seed=3, top_p=0.5)


class _ScriptedBackend:
    """Replays fixed token ids (to reach the no-audio and stray-token paths)."""

    def __init__(self, token_ids: list[int]) -> None:
        self.token_ids = token_ids

    def stream(self, request: GenerationRequest) -> Generator[int, None, None]:
        yield from self.token_ids

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[list[int]]:
        return [list(self.token_ids) for _ in requests]

    def close(self) -> None:
        return None


def _scripted(model_dir: Path, snac_dir: Path, token_ids: list[int], *, policy: str,
              monkeypatch: pytest.MonkeyPatch) -> Maya1Engine:
    engine = Maya1Engine(maya1_settings(model_dir, snac_dir, maya1_stray_tokens=policy),
                         share=False)
    engine.load()
    monkeypatch.setattr(engine.runtime, "backend", _ScriptedBackend(token_ids))
    return engine


GOOD: list[Frame] = [(i, i, i, i, i, i, i) for i in range(1, 6)]


def _stray_count(action: str) -> float:
    return REGISTRY.get_sample_value("voxserve_maya1_stray_tokens_total",
                                     {"backend": "transformers", "action": action}) or 0.0


def test_no_audio_is_an_error(
    model_dir: Path, snac_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = [*frames_to_tokens(GOOD, TOKENS)[:6], TOKENS.eos_audio]
    engine = _scripted(model_dir, snac_dir, short, policy="repair", monkeypatch=monkeypatch)
    with pytest.raises(EngineFailed, match="no audio"):
        list(engine.synthesize("Hi.", VOICE, SynthesisParams()))
    with pytest.raises(EngineFailed, match="batch item 0"):
        engine.synthesize_batch([SegmentRequest("Hi.", VOICE, SynthesisParams())])
    engine.close()


def test_stray_tokens_never_end_a_stream_and_are_counted(
    model_dir: Path, snac_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the fix, strict frames (the default) failed the whole segment here."""
    wrong_slot = frames_to_tokens(GOOD, TOKENS)
    wrong_slot[7 + 3] = TOKENS.slot_start(0) + 9  # frame 1, slot 3 holds a slot-0 code
    not_a_code = frames_to_tokens(GOOD, TOKENS)
    not_a_code[7 * 2 + 5] = 42  # frame 2, slot 5 holds a text token
    cases = [  # (policy, tokens, frames played, repaired, dropped)
        ("repair", wrong_slot, 5, 1, 0), ("skip", wrong_slot, 4, 0, 1),
        ("repair", not_a_code, 4, 0, 1), ("skip", not_a_code, 4, 0, 1),
    ]
    for policy, token_ids, frames, repaired, dropped in cases:
        engine = _scripted(model_dir, snac_dir, token_ids, policy=policy,
                           monkeypatch=monkeypatch)
        before = _stray_count("repaired"), _stray_count("frame_skipped")
        chunks = list(engine.synthesize("Hi.", VOICE, SynthesisParams()))
        assert len(_samples(chunks)) == (frames - 1) * 2048  # the first frame is warm-up
        (batch,) = engine.synthesize_batch([SegmentRequest("Hi.", VOICE, SynthesisParams())])
        assert len(batch[0].samples) == (frames - 1) * 2048
        after = _stray_count("repaired"), _stray_count("frame_skipped")
        assert (after[0] - before[0], after[1] - before[1]) == (2 * repaired, 2 * dropped)
        engine.close()


def test_segments_are_counted_by_how_they_ended(engine: Maya1Engine) -> None:
    def ended(end: str) -> float:
        return REGISTRY.get_sample_value("voxserve_maya1_segments_total", {"end": end}) or 0.0

    before = {end: ended(end) for end in ("eos", "max_tokens", "closed")}
    frames_before = REGISTRY.get_sample_value("voxserve_maya1_frames_sum") or 0.0
    list(engine.synthesize("Hi.", VOICE, _params(seed=1)))  # the tiny model never ends itself
    stream = engine.synthesize("Hi.", VOICE, _params(seed=1))
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert ended("max_tokens") - before["max_tokens"] == 1
    assert ended("closed") - before["closed"] == 1
    assert ended("eos") == before["eos"]
    frames = (REGISTRY.get_sample_value("voxserve_maya1_frames_sum") or 0.0) - frames_before
    assert frames == 8 + 4  # 8 frames, then 4 before the close


def test_vllm_backend_is_not_imported_for_transformers(
    model_dir: Path, snac_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "voxserve.engines.maya1.backends.vllm_backend"
    monkeypatch.delitem(sys.modules, name, raising=False)
    engine = Maya1Engine(maya1_settings(model_dir, snac_dir))
    engine.load()
    list(engine.synthesize("Hi.", VOICE, _params(max_new_tokens=28)))
    assert name not in sys.modules
    assert "vllm" not in sys.modules


def test_vllm_backend_without_vllm_is_a_clear_load_error(
    model_dir: Path, snac_dir: Path
) -> None:
    # device auto: the vLLM backend assumes CUDA without asking torch (see test_device.py)
    engine = Maya1Engine(maya1_settings(model_dir, snac_dir, maya1_backend="vllm",
                                        maya1_device="auto"))
    with pytest.raises(EngineLoadError, match="vllm is not installed"):
        engine.load()


def _copy_light(model_dir: Path, target: Path) -> Path:
    """The model directory without weights (checks that run before loading them)."""
    target.mkdir()
    for path in model_dir.iterdir():
        if not path.name.endswith(".safetensors"):
            shutil.copy(path, target)
    return target


def test_bad_model_directories(model_dir: Path, snac_dir: Path, tmp_path: Path) -> None:
    def load(directory: Path, snac: Path = snac_dir) -> None:
        Maya1Engine(maya1_settings(directory, snac)).load()

    with pytest.raises(EngineLoadError, match="does not exist"):
        load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineLoadError, match=r"no config\.json"):
        load(tmp_path / "empty")
    small = _copy_light(model_dir, tmp_path / "small-vocab")
    config = json.loads((small / "config.json").read_text())
    (small / "config.json").write_text(json.dumps({**config, "vocab_size": 128256}))
    with pytest.raises(EngineLoadError, match="too small for the SNAC code range"):
        load(small)
    tags = _copy_light(model_dir, tmp_path / "no-tags")
    for path in tags.glob("tokenizer*"):
        path.unlink()
    build_tokenizer(tags, tags=())
    with pytest.raises(EngineLoadError, match="emotion tag"):
        load(tags)
    with pytest.raises(EngineLoadError, match="cannot load the model"):
        load(_copy_light(model_dir, tmp_path / "no-weights"))
    with pytest.raises(EngineLoadError, match="SNAC directory"):
        load(model_dir, tmp_path / "no-snac")


def test_the_kv_cache_goes_by_the_name_the_model_forward_takes() -> None:
    from voxserve.engines.maya1.backends.transformers_backend import _cache_name

    def older(input_ids: object = None, past_key_values: object = None) -> None: ...
    def newer(input_ids: object = None, cache: object = None, **kwargs: object) -> None: ...

    assert _cache_name(older) == "past_key_values"
    assert _cache_name(newer) == "cache"
