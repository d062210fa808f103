"""Optimized variants of a Piper voice: INT8 (dynamic quantization) and FP16 weights.

``voxserve models optimize VOICE --int8`` writes ``<models_dir>/<voice>@int8.onnx`` with a
copy of the voice's ``.onnx.json``; the Piper engine discovers it like any other voice, as
the voice id ``<voice>@int8`` (short alias ``joe@int8``), listed by ``/v1/voices``. Nothing
changes for the FP32 voice: a variant is a voice of its own that a request asks for.

- INT8: onnxruntime's dynamic quantization (weights 8-bit ahead of time, activations
  quantized per call), convolutions included, with *unsigned* 8-bit weights: measured on
  the joe voice (one thread, AVX-512 VNNI), QUInt8 weights run 1.24 x faster than FP32
  while QInt8 weights run 2.6 x slower (onnxruntime's ConvInteger has no fast path for
  signed weights), and quantizing only MatMul/Gemm gains nothing (VITS is convolutions).
  Static quantization would need calibration audio per voice; dynamic needs none.
- FP16: onnxruntime's float16 conversion with FP32 inputs and outputs. On CPU
  onnxruntime computes most FP16 operators by casting back to FP32, so it only saves disk
  and memory; it is for GPU execution (``VOXSERVE_PIPER_USE_CUDA``).

Needs the ``optimize`` extra (``onnx``); model libraries are
imported only when a variant is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from voxserve.engines.piper import (
    PiperVoiceFiles,
    bundled_voice_files,
    discover_voice_files,
    short_name,
)
from voxserve.errors import ConfigurationError, VoiceNotFound
from voxserve.settings import Settings

Variant = Literal["int8", "fp16"]
VARIANTS: tuple[Variant, ...] = ("int8", "fp16")
SEPARATOR = "@"


def variant_id(voice_id: str, variant: Variant) -> str:
    """``en_US-joe-medium`` + ``int8`` -> ``en_US-joe-medium@int8``."""
    return f"{base_voice_id(voice_id)}{SEPARATOR}{variant}"


def base_voice_id(voice_id: str) -> str:
    """The voice a variant was made from (the id itself for an original voice)."""
    return voice_id.partition(SEPARATOR)[0]


def find_voice(settings: Settings, voice: str) -> PiperVoiceFiles:
    """An installed original voice by id or short name (``joe``); ``VoiceNotFound`` else."""
    bundled = bundled_voice_files()
    candidates = ([bundled] if bundled else []) + discover_voice_files(
        settings.resolved_models_dir
    )
    originals = [files for files in candidates if SEPARATOR not in files.voice_id]
    for files in originals:
        if voice in (files.voice_id, short_name(files.voice_id)):
            return files
    known = ", ".join(files.voice_id for files in originals) or "none"
    raise VoiceNotFound(f"no Piper voice '{voice}' to optimize (voices: {known})",
                        param="voice")


def write_variant(
    files: PiperVoiceFiles, variant: Variant, out_dir: Path, *, overwrite: bool = False
) -> PiperVoiceFiles:
    """Write ``variant`` of the voice into ``out_dir`` (atomically) and return its files."""
    voice_id = variant_id(files.voice_id, variant)
    model_path = out_dir / f"{voice_id}.onnx"
    config_path = model_path.with_name(model_path.name + ".json")
    if model_path.exists() and not overwrite:
        raise ConfigurationError(f"{model_path} exists (use --force to write it again)")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".optimize-") as scratch:
        temporary = Path(scratch) / "model.onnx"
        with _quiet():
            if variant == "int8":
                _quantize_int8(files.model_path, temporary)
            else:
                _convert_fp16(files.model_path, temporary)
        shutil.copyfile(files.config_path, Path(scratch) / "config.json")
        os.replace(Path(scratch) / "config.json", config_path)
        os.replace(temporary, model_path)
    return PiperVoiceFiles(voice_id, model_path, config_path)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The converters warn per tensor on the root logger (shape inference of integer
    tensors, FP16 underflow of tiny weights): expected here, and hundreds of lines."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _missing_extra(exc: ImportError) -> ConfigurationError:
    return ConfigurationError(
        f"optimizing voices needs the 'optimize' extra (pip install 'voxserve[optimize]'): {exc}"
    )


def _quantize_int8(source: Path, target: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise _missing_extra(exc) from exc
    quantize_dynamic(source, target, weight_type=QuantType.QUInt8)


def _convert_fp16(source: Path, target: Path) -> None:
    try:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise _missing_extra(exc) from exc
    # onnxruntime's converter (not onnxconverter-common's, whose output of this graph fails
    # to load: a Cast node keeps its FP32 'to' with an FP16 output type)
    model = onnx.load(str(source))
    onnx.save(convert_float_to_float16(model, keep_io_types=True), str(target))
