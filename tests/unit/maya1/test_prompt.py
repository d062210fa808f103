"""Prompt ids: the exact layout, the leading-BOS choice, and the emotion-tag check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from tests.unit.maya1.tiny_models import build_tokenizer
from voxserve.engines.maya1.prompt import PromptBuilder, check_emotion_tags, text_part
from voxserve.engines.maya1.tokens import Maya1Tokens
from voxserve.errors import EngineLoadError

BOS, EOT, SOS, SOH, EOH, SOA = 128000, 128009, 128257, 128259, 128260, 128261


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path) -> Any:
    return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)


def test_text_part_format() -> None:
    expected = '<description="warm, low"> Hi <laugh> there'
    assert text_part("warm, low", "Hi <laugh> there") == expected
    assert text_part('a "quoted"\nvoice', "x") == "<description=\"a 'quoted' voice\"> x"


def test_prompt_layout_exact_ids(tokenizer: Any) -> None:
    builder = PromptBuilder(tokenizer, Maya1Tokens())
    body = tokenizer.encode('<description="warm"> Hi <laugh>', add_special_tokens=False)
    # The tiny tokenizer adds BOS by default, like Llama-3's: the reference prompt string then
    # starts with BOS before SOH.
    assert builder.leading_bos is True
    assert builder.build("warm", "Hi <laugh>") == [BOS, SOH, BOS, *body, EOT, EOH, SOA, SOS]
    assert body[-1] == 1000 + 11  # "<laugh>" is one token, not characters
    assert builder.build("warm", "Hi <laugh>")[-1] == SOS


def test_leading_bos_is_configurable(tokenizer: Any) -> None:
    builder = PromptBuilder(tokenizer, Maya1Tokens(leading_bos=False))
    ids = builder.build("warm", "Hi")
    assert ids[:2] == [SOH, BOS]
    assert ids[-4:] == [EOT, EOH, SOA, SOS]


def test_leading_bos_follows_a_tokenizer_without_default_bos(tmp_path: Path) -> None:
    build_tokenizer(tmp_path, adds_bos=False)
    plain = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    builder = PromptBuilder(plain, Maya1Tokens())
    assert builder.leading_bos is False
    assert builder.build("d", "t")[:2] == [SOH, BOS]


def test_emotion_tags_must_be_single_tokens(tokenizer: Any, tmp_path: Path) -> None:
    check_emotion_tags(tokenizer)
    build_tokenizer(tmp_path, tags=("<laugh>",))
    missing = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    with pytest.raises(EngineLoadError, match="emotion tag <angry>"):
        check_emotion_tags(missing)
