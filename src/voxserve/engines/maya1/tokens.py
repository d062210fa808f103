"""Maya1's special token ids and the SNAC code range (see ``docs/maya1.md``).

The defaults are the ids of the published model; every one is a field so that a checkpoint
with a different layout (or a finding that contradicts an *unverified* fact) is a
configuration change, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Codes per SNAC codebook; each of the 7 frame slots owns one block of this many ids.
CODEBOOK_SIZE = 4096
#: Tokens per audio frame (1 + 2 + 4 codes of SNAC's three levels).
FRAME_TOKENS = 7

#: Inline emotion tags; each must be a single token of the model's tokenizer.
EMOTION_TAGS: tuple[str, ...] = (
    "<angry>", "<appalled>", "<chuckle>", "<cry>", "<curious>", "<disappointed>",
    "<excited>", "<exhale>", "<gasp>", "<giggle>", "<gulp>", "<laugh>", "<laugh_harder>",
    "<mischievous>", "<sarcastic>", "<scream>", "<sigh>", "<sing>", "<snort>", "<whisper>",
)


@dataclass(frozen=True, slots=True)
class Maya1Tokens:
    """Token ids of the prompt layout and of the audio codes."""

    bos: int = 128000
    #: Ends the text part of the prompt; never a stop token.
    eot: int = 128009
    #: Start of speech: the last prompt token.
    sos: int = 128257
    #: End of speech: the only stop token.
    eos_audio: int = 128258
    soh: int = 128259
    eoh: int = 128260
    soa: int = 128261
    #: Left padding of batched prompts (masked out, never attended to).
    pad: int = 128263
    #: Id of code 0 of frame slot 0; slot ``j`` holds ``code + first_code + j * 4096``.
    first_code: int = 128266
    #: Put a BOS before SOH, as a tokenizer that adds BOS by default does to the reference
    #: prompt string (*unverified*). ``None``: follow the tokenizer's default.
    leading_bos: bool | None = None

    @property
    def code_end(self) -> int:
        """One past the last audio code id; the model's vocabulary must reach it."""
        return self.first_code + FRAME_TOKENS * CODEBOOK_SIZE

    def slot_start(self, slot: int) -> int:
        """Id of code 0 in frame slot ``slot`` (0 … 6)."""
        return self.first_code + slot * CODEBOOK_SIZE
