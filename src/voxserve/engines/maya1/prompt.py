"""Build Maya1 prompt token ids explicitly (never by re-tokenizing special-token strings).

Layout (``docs/maya1.md``)::

    [BOS?] SOH BOS tokens('<description="DESCRIPTION"> TEXT') EOT EOH SOA SOS

The reference joins the decoded special tokens into one string and tokenizes it with the
tokenizer's default special-token handling, so a tokenizer that adds BOS by default puts one
more BOS in front of SOH. Whether the model was trained that way is unverified:
``Maya1Tokens.leading_bos`` decides, and by default follows the tokenizer like the reference.
"""

from __future__ import annotations

from typing import Protocol

from voxserve.engines.maya1.tokens import EMOTION_TAGS, Maya1Tokens
from voxserve.errors import EngineLoadError


class TextTokenizer(Protocol):
    """The part of a Hugging Face tokenizer the prompt needs."""

    def encode(self, text: str, *, add_special_tokens: bool = ...) -> list[int]: ...


def text_part(description: str, text: str) -> str:
    """``<description="…"> TEXT``; quotes and line breaks in the description are neutralized."""
    clean = " ".join(description.replace('"', "'").split())
    return f'<description="{clean}"> {text}'


def tokenizer_adds_bos(tokenizer: TextTokenizer, tokens: Maya1Tokens) -> bool:
    """Whether plain ``tokenizer(text)`` starts with BOS (as Llama-3's tokenizer does)."""
    encoded = tokenizer.encode("a", add_special_tokens=True)
    return bool(encoded) and encoded[0] == tokens.bos


def check_emotion_tags(tokenizer: TextTokenizer) -> None:
    """Raise ``EngineLoadError`` unless every emotion tag is exactly one token."""
    for tag in EMOTION_TAGS:
        ids = tokenizer.encode(tag, add_special_tokens=False)
        if len(ids) != 1:
            raise EngineLoadError(
                f"maya1 tokenizer encodes emotion tag {tag} as {len(ids)} tokens {ids}, "
                "expected exactly one: is this the Maya1 tokenizer?"
            )


class PromptBuilder:
    """Turns (description, text) into the prompt ids the model continues with audio codes."""

    def __init__(self, tokenizer: TextTokenizer, tokens: Maya1Tokens) -> None:
        self._tokenizer = tokenizer
        self._tokens = tokens
        leading = tokens.leading_bos
        self.leading_bos = tokenizer_adds_bos(tokenizer, tokens) if leading is None else leading

    def build(self, description: str, text: str) -> list[int]:
        t = self._tokens
        body = self._tokenizer.encode(text_part(description, text), add_special_tokens=False)
        prefix = [t.bos] if self.leading_bos else []
        return [*prefix, t.soh, t.bos, *body, t.eot, t.eoh, t.soa, t.sos]
