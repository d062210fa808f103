"""Validate the Maya1 model directory and load its tokenizer (local files only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineLoadError

MODEL_CONFIG = "config.json"


def read_model_config(model_dir: Path, tokens: Maya1Tokens) -> dict[str, Any]:
    """The model's ``config.json``, checked to cover every id Maya1 uses."""
    if not model_dir.is_dir():
        raise EngineLoadError(
            f"maya1: model directory {model_dir} does not exist (set VOXSERVE_MAYA1_MODEL_DIR "
            "to a local copy of maya-research/maya1)"
        )
    config_path = model_dir / MODEL_CONFIG
    if not config_path.is_file():
        raise EngineLoadError(f"maya1: model directory {model_dir} has no {MODEL_CONFIG}")
    try:
        config: Any = json.loads(config_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineLoadError(f"maya1: cannot read {config_path}: {exc}") from exc
    if not isinstance(config, dict):
        raise EngineLoadError(f"maya1: {config_path} is not a JSON object")
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
