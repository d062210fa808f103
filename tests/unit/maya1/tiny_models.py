"""Tiny random Maya1-shaped models, built offline in seconds (tests and the bench smoke run).

* A 2-layer ``LlamaForCausalLM`` (hidden size 32) with Maya1's vocabulary size, so every
  special id and the whole SNAC code range exist.
* A character-level tokenizer (``tokenizers`` WordLevel in ``PreTrainedTokenizerFast``) that
  has the Llama-3 special tokens at their real ids, adds BOS by default like Llama-3's
  tokenizer, and knows every emotion tag as one token. It is not Llama-3's vocabulary: the
  engine relies only on what a real Maya1 tokenizer also provides.
* A small SNAC (decoder_dim 64) with snac_24khz's rates and codebook size 4096, saved as
  ``config.json`` + ``pytorch_model.bin``.

    python -m tests.unit.maya1.tiny_models OUT_DIR   # writes OUT_DIR/maya1 and OUT_DIR/snac
"""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

from voxserve.engines.maya1.tokens import EMOTION_TAGS, Maya1Tokens

#: Maya1's published vocabulary size (the code range ends at 156938).
VOCAB_SIZE = 156940
TOKENS = Maya1Tokens()
SNAC_CONFIG = {
    "sampling_rate": 24000, "encoder_dim": 8, "encoder_rates": [2, 4, 8, 8],
    "decoder_dim": 64, "decoder_rates": [8, 8, 4, 2], "attn_window_size": None,
    "codebook_size": 4096, "codebook_dim": 8, "vq_strides": [4, 2, 1],
    "noise": True, "depthwise": True,
}
_BOS = "<|begin_of_text|>"
_EOT = "<|eot_id|>"


def build_tokenizer(out_dir: Path, *, tags: tuple[str, ...] = EMOTION_TAGS,
                    adds_bos: bool = True) -> None:
    """Save a character-level tokenizer with Maya1's special ids into ``out_dir``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0}
    for char in sorted(set(string.printable) - set("\t\n\r\x0b\x0c")):
        vocab[char] = len(vocab)
    for index, tag in enumerate(tags):
        vocab[tag] = 1000 + index
    specials = {_BOS: TOKENS.bos, _EOT: TOKENS.eot}
    specials.update({f"<custom_token_{i}>": 128256 + i for i in range(10)})
    vocab.update(specials)
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    if adds_bos:
        backend.post_processor = processors.TemplateProcessing(
            single=f"{_BOS} $A", special_tokens=[(_BOS, TOKENS.bos)]
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=_BOS, eos_token=_EOT, unk_token="[UNK]",
        pad_token=f"<custom_token_{TOKENS.pad - 128256}>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(specials)})
    tokenizer.add_tokens(list(tags))
    tokenizer.save_pretrained(str(out_dir))


def build_model(out_dir: Path, *, vocab_size: int = VOCAB_SIZE, seed: int = 0,
                **overrides: object) -> None:
    """Save a tiny random Llama LM with the tokenizer into ``out_dir`` (``overrides``:
    ``LlamaConfig`` fields, e.g. a head size vLLM's attention kernels take)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    fields: dict[str, object] = {
        "vocab_size": vocab_size, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 4096, "tie_word_embeddings": True,
        "bos_token_id": TOKENS.bos, "eos_token_id": TOKENS.eos_audio, "pad_token_id": TOKENS.pad,
    }
    config = LlamaConfig(**{**fields, **overrides})
    LlamaForCausalLM(config).save_pretrained(str(out_dir))
    build_tokenizer(out_dir)


def build_snac(out_dir: Path, *, seed: int = 0, **overrides: object) -> None:
    """Save a small random SNAC (config.json + pytorch_model.bin) into ``out_dir``."""
    import torch
    from snac import SNAC

    config = {**SNAC_CONFIG, **overrides}
    torch.manual_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(config), "utf-8")
    torch.save(SNAC(**config).state_dict(), out_dir / "pytorch_model.bin")


def build_all(root: Path) -> tuple[Path, Path]:
    """``root/maya1`` and ``root/snac``."""
    model_dir, snac_dir = root / "maya1", root / "snac"
    build_model(model_dir)
    build_snac(snac_dir)
    return model_dir, snac_dir


if __name__ == "__main__":
    print(*build_all(Path(sys.argv[1])), sep="\n")
