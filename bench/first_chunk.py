"""First audio of a paragraph whose first sentence is long: cut at a clause or not.

Paragraphs are built from held-out Harvard sentences: two joined at a comma (a first
sentence of 12 words or more), then a third. For each, in the same interleaved rounds:

- raw: the Piper engine in this process, every core on one call, synthesizing the whole first
  sentence (what a server without the cut must do before its first audio);
- served cut: ``voxserve serve`` (cache off), interactive: time to the first audio bytes;
- served whole: the same request with ``X-Voxserve-Priority: batch`` (no cut).

Prints TTFA / raw first-sentence time (median, p95) for both, and with ``--asr`` the
word error rate of the served (cut) paragraphs against raw whole paragraphs (pocketsphinx,
the tests' decoder), as a ratio.

    PYTHONPATH=src python bench/first_chunk.py --paragraphs 60 --asr
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness import JSON_HEADERS, Server, load_sentences, percentile, timed_post

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.asr: the tests' decoder and language model
sys.path.insert(0, str(REPO / "src"))

from voxserve.engines.base import SynthesisParams  # noqa: E402
from voxserve.engines.piper import PiperEngine  # noqa: E402
from voxserve.settings import Settings  # noqa: E402

VOICE_ID = "en_US-joe-medium"


def paragraphs(count: int) -> list[tuple[str, str]]:
    """(first sentence, paragraph) from the end of the sentence list (held out)."""
    sentences = load_sentences()[::-1]
    found: list[tuple[str, str]] = []
    for a, b, c in zip(sentences[0::3], sentences[1::3], sentences[2::3], strict=False):
        first = f"{a.rstrip('.')}, {b[0].lower()}{b[1:]}"
        if len(first.split()) >= 12:
            found.append((first, f"{first} {c}"))
        if len(found) == count:
            break
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=24)
    parser.add_argument("--asr", action="store_true", help="WER of cut vs raw audio")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    texts = paragraphs(args.paragraphs)
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        engine = PiperEngine(Settings(data_dir=Path(tmp) / "raw", engine_replicas=1,
                                      piper_intra_op_threads=cpus))
        engine.load()
        server = Server(Path(tmp) / "served", {"VOXSERVE_CACHE_URL": "none"},
                        log_path=Path(tmp) / "server.log")
        with server:
            server.wait_ready()
            conn = server.connect()
            raw_s, cut_s, whole_s = [], [], []
            raw_audio: list[tuple[np.ndarray, int]] = []
            served_audio: list[bytes] = []
            for first, paragraph in texts:
                start = time.perf_counter()
                chunks = list(engine.synthesize(first, VOICE_ID, SynthesisParams()))
                raw_s.append(time.perf_counter() - start)
                body = json.dumps({"input": paragraph, "response_format": "wav"}).encode()
                cut = timed_post(conn, body, JSON_HEADERS)
                whole = timed_post(conn, body, {**JSON_HEADERS, "X-Voxserve-Priority": "batch"})
                cut_s.append(cut.ttfb_s)
                whole_s.append(whole.ttfb_s)
                if args.asr:
                    samples = np.concatenate([c.samples for c in engine.synthesize(
                        paragraph, VOICE_ID, SynthesisParams())])
                    raw_audio.append((samples, chunks[0].sample_rate_hz))
                    status, data = server.request(
                        "POST", "/v1/audio/speech", {"input": paragraph, "response_format": "wav"})
                    assert status == 200
                    served_audio.append(data)
            conn.close()
    cut_ratio = [c / r for c, r in zip(cut_s, raw_s, strict=True)]
    whole_ratio = [w / r for w, r in zip(whole_s, raw_s, strict=True)]
    report: dict[str, object] = {
        "paragraphs": len(texts),
        "raw_first_sentence_s_p50": statistics.median(raw_s),
        "ttfa_cut_over_raw_p50": statistics.median(cut_ratio),
        "ttfa_cut_over_raw_p95": percentile(cut_ratio, 95),
        "ttfa_whole_over_raw_p50": statistics.median(whole_ratio),
    }
    print(f"{len(texts)} paragraphs, first sentence raw p50 "
          f"{report['raw_first_sentence_s_p50']:.3f} s")
    print(f"TTFA cut / raw first sentence: p50 {report['ttfa_cut_over_raw_p50']:.2f}, "
          f"p95 {report['ttfa_cut_over_raw_p95']:.2f} (target <= 0.6)")
    print(f"TTFA whole (batch, no cut) / raw first sentence: p50 "
          f"{report['ttfa_whole_over_raw_p50']:.2f}")
    if args.asr:
        from tests.asr import transcribe, word_error_rate
        from tests.audio_tools import decode_audio

        with tempfile.TemporaryDirectory() as lm_dir:
            raw_pairs = [(p, transcribe(s, r, Path(lm_dir)))
                         for (_, p), (s, r) in zip(texts, raw_audio, strict=True)]
            served_pairs = [(p, transcribe(*decode_audio(d), Path(lm_dir)))
                            for (_, p), d in zip(texts, served_audio, strict=True)]
        raw_wer, served_wer = word_error_rate(raw_pairs), word_error_rate(served_pairs)
        report.update(raw_wer=raw_wer, served_wer=served_wer,
                      wer_ratio=served_wer / raw_wer if raw_wer else None)
        print(f"WER raw {raw_wer:.3f}, served (cut) {served_wer:.3f}, ratio "
              f"{served_wer / raw_wer if raw_wer else float('nan'):.2f} (target <= 1.1)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
