"""SNAC: loading from a local directory, decoding frames, and the streaming window decoder.

Streaming (``docs/maya1.md``): after every completed frame, once 4 frames exist, the last 4
frames are decoded and the second frame's samples are emitted. Frame 0 is never emitted (the
non-streaming path also drops it as decoder warm-up). Two things go beyond the reference:

* **Tail flush.** The last window decoded already holds the final two frames, right after the
  samples emitted from it, so :meth:`StreamingDecoder.flush` returns them: no audio is lost
  and there is no extra decode. A segment shorter than a window is decoded whole at flush.
* **Click-free seams.** Consecutive chunks come from different decodes. The previous window
  also decoded the frame emitted now (as its third frame) and that version is continuous with
  the previous chunk, so each chunk starts with a short raised-cosine crossfade from it to the
  new decode. With a decoder whose frames do not depend on their neighbours, both versions
  are equal and streaming output equals the non-streaming output sample for sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.utils import parametrize

from voxserve.engines.maya1.frames import Frame, frames_to_levels
from voxserve.engines.maya1.model_dir import read_json_config
from voxserve.engines.maya1.tokens import CODEBOOK_SIZE
from voxserve.errors import EngineLoadError
from voxserve.types import FloatSamples

#: Frames decoded together when streaming; the chunk emitted is the window's second frame.
WINDOW_FRAMES = 4
#: Length of the crossfade at the start of every streamed chunk but the first (~10.7 ms).
SEAM_CROSSFADE_SAMPLES = 256
SNAC_CONFIG = "config.json"
SNAC_WEIGHTS = "pytorch_model.bin"

#: Decodes whole frames to mono float32 samples (``samples_per_frame`` per frame).
FrameDecoder = Callable[[Sequence[Frame]], FloatSamples]


def read_snac_config(snac_dir: Path) -> dict[str, Any]:
    """Validate a SNAC directory and return its config (``EngineLoadError`` when unusable)."""
    config_path, config = read_json_config(
        snac_dir, SNAC_CONFIG, what="SNAC directory", setting="VOXSERVE_MAYA1_SNAC_DIR",
        source="hubertsiuzdak/snac_24khz", required=(SNAC_WEIGHTS,),
    )
    if config.get("codebook_size") != CODEBOOK_SIZE:
        raise EngineLoadError(
            f"maya1: SNAC codebook_size is {config.get('codebook_size')!r} in {config_path}, "
            f"Maya1's codes need {CODEBOOK_SIZE}"
        )
    strides = config.get("vq_strides")
    if not (isinstance(strides, list) and len(strides) == 3
            and strides[0] == 2 * strides[1] == 4 * strides[2] > 0):
        raise EngineLoadError(
            f"maya1: SNAC vq_strides is {strides!r} in {config_path}; the 7-token frame needs "
            "three levels with 1, 2 and 4 codes per frame, e.g. [4, 2, 1]"
        )
    return config


def samples_per_frame(config: dict[str, Any]) -> int:
    """``vq_strides[0] × prod(decoder_rates)``: 2048 for ``snac_24khz``."""
    return int(config["vq_strides"][0]) * math.prod(int(r) for r in config["decoder_rates"])


class SnacCodec:
    """A loaded SNAC decoder on one device (float32); thread-safe for concurrent decodes."""

    def __init__(self, model: Any, config: dict[str, Any], device: torch.device) -> None:
        self._model = model
        self._device = device
        self.sample_rate_hz = int(config.get("sampling_rate", 24000))
        self.samples_per_frame = samples_per_frame(config)

    @classmethod
    def load(cls, snac_dir: Path, config: dict[str, Any], device: torch.device) -> SnacCodec:
        """Build SNAC from ``config`` and load ``pytorch_model.bin`` (no network access)."""
        from snac import SNAC

        weights = snac_dir / SNAC_WEIGHTS
        try:
            model = SNAC(**config)
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except Exception as exc:  # bad config keys, corrupt file, shape mismatch
            raise EngineLoadError(f"maya1: cannot load SNAC from {snac_dir}: {exc}") from exc
        _fold_weight_norm(model)
        model.eval().to(device)
        return cls(model, config, device)

    @property
    def model(self) -> Any:
        """The SNAC module (checks read its dtype and device)."""
        return self._model

    def decode(self, frames: Sequence[Frame]) -> FloatSamples:
        """Samples of ``frames`` (``len(frames) × samples_per_frame``), float32 in [-1, 1]."""
        return self.decode_many([frames])[0]

    def decode_many(self, windows: Sequence[Sequence[Frame]]) -> list[FloatSamples]:
        """:meth:`decode` of several equally long frame sequences in one batched call."""
        if len({len(frames) for frames in windows}) != 1:
            raise ValueError("decode_many needs one or more windows of the same length")
        levels = [frames_to_levels(frames) for frames in windows]
        with torch.inference_mode():
            codes = [
                torch.from_numpy(np.stack([window[level] for window in levels])).to(self._device)
                for level in range(3)
            ]
            audio = self._model.decode(codes)
            samples = audio[:, 0].float().cpu().numpy()
        return [np.ascontiguousarray(row, dtype=np.float32) for row in samples]


def _fold_weight_norm(model: torch.nn.Module) -> None:
    """Compute weight-normed weights once instead of on every forward (inference only)."""
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)


def decode_whole(decode: FrameDecoder, frames: Sequence[Frame], frame_samples: int) -> FloatSamples:
    """Non-streaming: decode all frames, drop the first frame (decoder warm-up) when longer."""
    samples = decode(frames)
    return samples[frame_samples:] if len(frames) > 1 else samples


class StreamingDecoder:
    """Feeds frames one at a time and returns audio as soon as a window allows."""

    def __init__(self, decode: FrameDecoder, frame_samples: int) -> None:
        self._decode = decode
        self._frame_samples = frame_samples
        self._window: list[Frame] = []
        self._last_decoded: FloatSamples | None = None
        self._fade_in = _raised_cosine(min(SEAM_CROSSFADE_SAMPLES, frame_samples))
        #: Frames pushed so far.
        self.frames = 0

    def push(self, frame: Frame) -> FloatSamples | None:
        """Add a frame; from the 4th on, returns the second of the last four (2 before this one)."""
        self.frames += 1
        self._window = [*self._window[1 - WINDOW_FRAMES:], frame]
        if len(self._window) < WINDOW_FRAMES:
            return None
        n = self._frame_samples
        decoded = self._decode(self._window)
        chunk = decoded[n:2 * n].copy()
        if self._last_decoded is not None:
            fade = len(self._fade_in)
            previous = self._last_decoded[2 * n:2 * n + fade]
            chunk[:fade] = previous + (chunk[:fade] - previous) * self._fade_in
        self._last_decoded = decoded
        return chunk

    def flush(self) -> FloatSamples | None:
        """The audio not yet returned (the final two frames, or a short segment whole)."""
        last_decoded, window = self._last_decoded, self._window
        self._last_decoded, self._window = None, []
        if last_decoded is not None:
            return last_decoded[2 * self._frame_samples:].copy()
        if not window:
            return None
        return decode_whole(self._decode, window, self._frame_samples)


def _raised_cosine(length: int) -> FloatSamples:
    """Weights rising from ~0 to ~1 over ``length`` samples."""
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(length) + 0.5) / length)
    return ramp.astype(np.float32)
