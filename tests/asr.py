"""Speech recognition for intelligibility tests: pocketsphinx with a Harvard-domain LM.

pocketsphinx's general English language model is weak on isolated Harvard sentences (WER
around 0.3 even on clean speech), so the tests decode with its acoustic model and a bigram
language model of the Harvard sentence list (``data/harvard-dev.txt``), built here. Because
such a model narrows the vocabulary, every test that relies on it also checks controls that
must fail: the transcript scored against other sentences, and time-reversed audio.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections import Counter
from functools import cache
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

DATA_DIR = Path(__file__).parent / "data"
_DISCOUNT = 0.7


def harvard_sentences() -> list[str]:
    text = (DATA_DIR / "harvard-dev.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word-level Levenshtein distance, number of reference words)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        previous, row = row, [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
    return row[-1], len(ref)


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs."""
    errors = total = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        errors, total = errors + e, total + n
    return errors / total


def _write_bigram_lm(sentences: list[str], dictionary: set[str], path: Path) -> None:
    """ARPA bigram LM with absolute discounting, interpolated with add-one unigrams."""
    unigrams: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    for sentence in sentences:
        tokens = ["<s>", *(w for w in words(sentence) if w in dictionary), "</s>"]
        unigrams.update(tokens[1:])
        bigrams.update(itertools.pairwise(tokens))
    vocabulary = sorted(unigrams)
    total = sum(unigrams[w] + 1 for w in vocabulary)
    p_uni = {w: (unigrams[w] + 1) / total for w in vocabulary}
    followers: dict[str, dict[str, int]] = {}
    for (left, right), count in bigrams.items():
        followers.setdefault(left, {})[right] = count
    bigram_lines, backoff = [], {}
    for left, counts in followers.items():
        context = sum(counts.values())
        weight = _DISCOUNT * len(counts) / context
        probs = {w: max(c - _DISCOUNT, 0) / context + weight * p_uni[w] for w, c in counts.items()}
        backoff[left] = (1 - sum(probs.values())) / (1 - sum(p_uni[w] for w in probs))
        bigram_lines += [f"{math.log10(p):.5f} {left} {w}" for w, p in probs.items()]
    lines = ["\\data\\", f"ngram 1={len(vocabulary) + 1}", f"ngram 2={len(bigram_lines)}", "",
             "\\1-grams:", f"-99 <s> {math.log10(backoff['<s>']):.5f}"]
    lines += [f"{math.log10(p_uni[w]):.5f} {w} {math.log10(backoff.get(w, 1.0)):.5f}"
              for w in vocabulary]
    lines += ["", "\\2-grams:", *bigram_lines, "", "\\end\\", ""]
    path.write_text("\n".join(lines))


@cache
def _decoder(lm_dir: str):  # type: ignore[no-untyped-def]
    from pocketsphinx import Decoder, get_model_path

    dictionary_path = os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")
    with open(dictionary_path) as handle:
        dictionary = {line.split()[0] for line in handle if line.strip()}
    lm_path = Path(lm_dir) / "harvard.arpa"
    _write_bigram_lm(harvard_sentences(), dictionary, lm_path)
    return Decoder(samprate=16000, lm=str(lm_path))


def to_16k_pcm(samples: npt.NDArray[np.float32], rate_hz: int) -> bytes:
    """Mono float samples -> 16 kHz s16le with 0.5 s of silence each side (helps the decoder)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt",
        layout="mono",
    )
    frame.sample_rate = rate_hz
    pcm = b"".join(
        bytes(f.planes[0])[: f.samples * 2]
        for f in resampler.resample(frame) + resampler.resample(None)
    )
    padding = b"\x00\x00" * 8000
    return padding + pcm + padding


def transcribe(samples: npt.NDArray[np.float32], rate_hz: int, lm_dir: Path) -> str:
    decoder = _decoder(str(lm_dir))
    decoder.start_utt()
    decoder.process_raw(to_16k_pcm(samples, rate_hz), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""
