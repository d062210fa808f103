"""The text step: normalization cost per sentence, and SSML break accuracy per format.

    python bench/text.py [--repeat 3] [--json]

Normalization: the Harvard workload plus sentences full of numbers, money, dates and
abbreviations (English, German, Spanish, Persian), through ``prepare_segments`` (normalize +
split, the API every version has) and, where it exists, ``text.prepare`` (the same with
source spans and words). Run it with another checkout's ``src`` on ``PYTHONPATH`` to measure
that version: only ``prepare_segments`` is timed there.

Breaks (with ``text.prepare``): ``<break time="T"/>`` between two sentences, spoken by the
bundled Piper voice in-process, decoded, and the longest quiet run measured (|x| <= 0.002 for
lossless formats, 0.01 for mp3/opus; wav at 0.01 too, the reference for the lossy ones: at
that threshold the quiet ends of the words count as silence as well).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import time

from harness import load_sentences

MIXED = [
    ("en", "Dr. Smith paid $25.50 on Jan. 5, 2024 at 6:45 PM for 3.5 kg of apples."),
    ("en", "The 2nd edition (pp. 10-12) costs 15% more, i.e. about €1,234.56."),
    ("de", "Am 3. Mai um 14:30 Uhr kostete es 25,50 € bei Dr. Müller, ca. 3,5 km weiter."),
    ("es", "El 1 de mayo a las 14:30 el Sr. García pagó 25,50 € por 15 km."),
    ("fa", "ساعت ۱۴:۳۰ قیمت ۲۵٫۵ دلار بود و ۱۲٬۵۰۰ نفر آمدند."),
]


def _time_per_call(function, texts: list[tuple[str, str]], repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for language, text in texts:
            function(text, language)
        best = min(best, time.perf_counter() - started)
    return best / len(texts) * 1e6


def normalization(repeat: int) -> dict[str, float]:
    from voxserve.text import prepare_segments

    workload = [("en", s) for s in load_sentences()] + MIXED * 20
    results = {"prepare_segments_us_per_sentence": _time_per_call(
        lambda text, language: prepare_segments(text, 400, language), workload, repeat)}
    if importlib.util.find_spec("voxserve.text.prepare") is not None:
        from voxserve.text.prepare import TextOptions, prepare

        results["prepare_us_per_sentence"] = _time_per_call(
            lambda text, language: prepare(text, TextOptions(language=language)), workload,
            repeat)
    return results


def breaks() -> list[dict[str, object]]:
    import av
    import numpy as np
    from fastapi.testclient import TestClient

    from voxserve.api.app import create_app
    from voxserve.settings import Settings

    def decode(data: bytes) -> tuple[np.ndarray, int]:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            to_float = av.AudioResampler(format="flt", layout="mono", rate=rate)
            frames = [f.to_ndarray().reshape(-1) for frame in container.decode(stream)
                      for f in to_float.resample(frame)]
        return np.concatenate(frames), rate

    def longest_quiet_s(samples: np.ndarray, rate: int, threshold: float) -> float:
        loud = np.flatnonzero(np.abs(samples) > threshold)
        return float(np.max(np.diff(loud)) - 1) / rate

    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as data_dir, \
            TestClient(create_app(Settings(data_dir=data_dir, engines=["piper"]))) as client:
        while client.get("/readyz").status_code != 200:
            time.sleep(0.05)
        for audio_format, threshold in (("wav", 0.002), ("flac", 0.002), ("wav", 0.01),
                                        ("mp3", 0.01), ("opus", 0.01)):
            for break_ms in (400, 1500):
                text = (f'<speak>The birch canoe slid on the smooth planks. <break time='
                        f'"{break_ms}ms"/> Hoist the load to your left shoulder.</speak>')
                response = client.post("/v1/audio/speech", json={
                    "input": text, "voice": "joe", "response_format": audio_format})
                samples, rate = decode(response.content)
                measured = longest_quiet_s(samples, rate, threshold) * 1000
                rows.append({"format": audio_format, "threshold": threshold,
                             "break_ms": break_ms,
                             "measured_ms": round(measured, 1),
                             "error_ms": round(measured - break_ms, 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-breaks", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"normalization": normalization(args.repeat)}
    has_prepare = importlib.util.find_spec("voxserve.text.prepare") is not None
    if has_prepare and not args.no_breaks:
        result["breaks"] = breaks()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, value in result["normalization"].items():  # type: ignore[union-attr]
        print(f"{name}: {value:.1f}")
    for row in result.get("breaks", []):  # type: ignore[union-attr]
        print(f"break {row['break_ms']} ms as {row['format']} (quiet <= {row['threshold']}): "
              f"{row['measured_ms']} ms (error {row['error_ms']} ms)")


if __name__ == "__main__":
    main()
