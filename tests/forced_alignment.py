"""Reference word times for tests: pocketsphinx's forced alignment of known words.

``set_align_text`` with the words, then the word segmentation (10 ms frames) of audio padded
with 0.5 s of silence each side (:func:`tests.asr.to_16k_pcm`); times are shifted back.
"""

from __future__ import annotations

import os
import re
from functools import cache

import numpy as np
import numpy.typing as npt

from tests.asr import to_16k_pcm

PAD_S = 0.5


@cache
def dictionary() -> frozenset[str]:
    from pocketsphinx import get_model_path

    path = os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")
    with open(path) as handle:
        return frozenset(line.split()[0] for line in handle if line.strip())


def reference_times(
    samples: npt.NDArray[np.float32], rate_hz: int, words: list[str]
) -> list[tuple[float, float]] | None:
    """Each of ``words``' (start_s, end_s) in the audio, or None when pocketsphinx could not
    align them all."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=16000)
    decoder.set_align_text(" ".join(words))
    decoder.start_utt()
    decoder.process_raw(to_16k_pcm(np.asarray(samples, np.float32), rate_hz), full_utt=True)
    decoder.end_utt()
    segments = [(re.sub(r"\(\d+\)$", "", s.word), s.start_frame / 100 - PAD_S,
                 (s.end_frame + 1) / 100 - PAD_S)
                for s in decoder.seg() if s.word not in ("<s>", "</s>", "<sil>")]
    if [word for word, _, _ in segments] != words:
        return None
    return [(start, end) for _, start, end in segments]
