"""Validate the Maya1 model directory and load its tokenizer (local files only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineLoadError

MODEL_CONFIG = "config.json"


def read_json_config(
    directory: Path, name: str, *, what: str, setting: str, source: str,
    required: tuple[str, ...] = (),
) -> tuple[Path, dict[str, Any]]:
    """``directory/name`` as a JSON object, after checking the directory and ``required``
    files exist; every problem is an ``EngineLoadError`` that says what to fix."""
    if not directory.is_dir():
        raise EngineLoadError(
            f"maya1: {what} {directory} does not exist (set {setting} to a local copy of "
            f"{source})"
        )
    config_path = directory / name
    for file_name in (name, *required):
        if not (directory / file_name).is_file():
            raise EngineLoadError(f"maya1: {what} {directory} has no {file_name}")
    try:
        config: Any = json.loads(config_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineLoadError(f"maya1: cannot read {config_path}: {exc}") from exc
    if not isinstance(config, dict):
        raise EngineLoadError(f"maya1: {config_path} is not a JSON object")
    return config_path, config


def read_model_config(model_dir: Path, tokens: Maya1Tokens) -> dict[str, Any]:
    """The model's ``config.json``, checked to cover every id Maya1 uses."""
    config_path, config = read_json_config(
        model_dir, MODEL_CONFIG, what="model directory", setting="VOXSERVE_MAYA1_MODEL_DIR",
        source="maya-research/maya1",
    )
    vocab_size = config.get("vocab_size")
    if not isinstance(vocab_size, int):
        raise EngineLoadError(f"maya1: {config_path} has no integer vocab_size")
    if vocab_size < tokens.code_end:
        raise EngineLoadError(
            f"maya1: vocab_size {vocab_size} in {config_path} is too small for the SNAC code "
            f"range (ids up to {tokens.code_end - 1}): not a Maya1 checkpoint"
        )
    return config


def load_tokenizer(model_dir: Path) -> Any:
    """The Hugging Face tokenizer saved in ``model_dir``, never downloaded."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except Exception as exc:  # transformers raises OSError, ValueError, …
        raise EngineLoadError(f"maya1: cannot load the tokenizer from {model_dir}: {exc}") from exc
