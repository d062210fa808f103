"""The Maya1 GPU check (run it through ``scripts/gpu-check``; see ``docs/maya1.md``).

Builds a tiny random Maya1-shaped Llama and SNACs from config with random weights (no
download, no network), then checks on one device what a GPU deployment relies on, and runs
``bench/maya1.py`` briefly. ``--device cpu`` runs every check that does not need CUDA (a
test does, so this script cannot rot); the CUDA-only thresholds are then measured and
reported, not asserted. Writes ``report.json`` (and ``bench.json``) to ``--out``; exits 1 if
any check failed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for entry in (ROOT / "src", ROOT, ROOT / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

VOICE = "maya1-warm"
#: hubertsiuzdak/snac_24khz's config (docs/maya1.md), built here with random weights.
SNAC_24KHZ = {
    "sampling_rate": 24000, "encoder_dim": 48, "encoder_rates": [2, 4, 8, 8],
    "decoder_dim": 1024, "decoder_rates": [8, 8, 4, 2], "attn_window_size": None,
    "codebook_size": 4096, "codebook_dim": 8, "vq_strides": [4, 2, 1], "noise": True,
    "depthwise": True,
}
SNAC_WINDOW_BUDGET_MS = 20.0
#: What a GPU host with torch and transformers lacks (fetched by --fetch-wheels).
WHEELS = ("snac", "pydantic", "pydantic-core", "pydantic-settings", "python-dotenv",
          "typing-inspection", "annotated-types", "torchao")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
             "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")


class Skip(Exception):
    """A check that cannot run here (a missing optional package, no CUDA)."""


@dataclass
class Outcome:
    name: str
    status: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class Context:
    """The device, the tiny model directories and the results so far."""

    def __init__(self, device: str, work: Path, out: Path) -> None:
        from tests.unit.maya1.tiny_models import build_all

        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.work, self.out = work, out
        self.model_dir, self.snac_dir = build_all(work / "tiny")
        self.outcomes: list[Outcome] = []
        self._engine: Any = None

    def settings(self, **overrides: Any) -> Any:
        from voxserve.settings import Settings

        values: dict[str, Any] = {
            "engines": ["maya1"], "data_dir": self.work / "data",
            "maya1_model_dir": self.model_dir, "maya1_snac_dir": self.snac_dir,
            "maya1_device": str(self.device), "maya1_max_new_tokens": 56,
            "maya1_min_new_tokens": 56,
        }
        return Settings(**{**values, **overrides})

    def engine(self) -> Any:
        """The engine of the checks (loaded once, private to them)."""
        if self._engine is None:
            from voxserve.engines.maya1 import Maya1Engine

            self._engine = Maya1Engine(self.settings(), share=False)
            self._engine.load()
        return self._engine

    def run(self, name: str, check: Callable[[Context], dict[str, Any] | None]) -> None:
        started = time.perf_counter()
        try:
            detail = check(self) or {}
            outcome = Outcome(name, "pass", 0.0, detail)
        except Skip as reason:
            outcome = Outcome(name, "skip", 0.0, error=str(reason))
        except Exception as error:
            outcome = Outcome(name, "fail", 0.0, error="".join(
                traceback.format_exception(error))[-2000:])
        outcome.seconds = round(time.perf_counter() - started, 3)
        self.outcomes.append(outcome)
        note = outcome.error.strip().splitlines()[-1] if outcome.error else json.dumps(
            outcome.detail)[:300]
        print(f"{outcome.status.upper():4} {name:28} {outcome.seconds:7.1f} s  {note}",
              flush=True)


def _params(seed: int, **options: Any) -> Any:
    from voxserve.engines.base import SynthesisParams
    from voxserve.engines.maya1 import Maya1Options

    return SynthesisParams(options=Maya1Options(seed=seed, **options))


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _check_audio(chunks: list[Any], sizes: list[int]) -> np.ndarray:
    _expect([len(c.samples) for c in chunks] == sizes,
            f"chunk sizes {[len(c.samples) for c in chunks]}, expected {sizes}")
    _expect(all(c.sample_rate_hz == 24000 for c in chunks), "not 24 kHz")
    samples = np.concatenate([c.samples for c in chunks])
    _expect(bool(np.all(np.isfinite(samples))), "non-finite samples")
    _expect(float(np.max(np.abs(samples))) <= 1.0, "samples outside [-1, 1]")
    return samples


STREAM_SIZES = [2048] * 5 + [4096]  # 8 frames: a chunk per frame from the 4th, then the tail


# --- the checks -----------------------------------------------------------------------------

def check_placement(ctx: Context) -> dict[str, Any]:
    """The LM in bf16 on CUDA (float32 on the CPU), SNAC in float32, both on the device."""
    runtime = ctx.engine().runtime
    lm = next(runtime.backend.model.parameters())
    snac = {p.dtype for p in runtime.codec.model.parameters()}
    expected = torch.bfloat16 if ctx.cuda else torch.float32
    _expect(lm.dtype == expected, f"LM dtype {lm.dtype}, expected {expected}")
    _expect(lm.device.type == ctx.device.type, f"LM on {lm.device}")
    _expect(snac == {torch.float32}, f"SNAC dtypes {snac}")
    _expect(next(runtime.codec.model.parameters()).device.type == ctx.device.type, "SNAC")
    return {"lm_dtype": str(lm.dtype), "snac_dtypes": sorted(map(str, snac))}


def check_streaming(ctx: Context) -> dict[str, Any]:
    chunks = list(ctx.engine().synthesize("Hello there.", VOICE, _params(1)))
    samples = _check_audio(chunks, STREAM_SIZES)
    return {"chunks": len(chunks), "samples": int(samples.size),
            "peak": round(float(np.max(np.abs(samples))), 3)}


def check_batched_slots(ctx: Context) -> dict[str, Any]:
    """A batch in the engine's dtype: full-length outputs, every token in its slot range."""
    from voxserve.engines.maya1.backends import GenerationRequest
    from voxserve.engines.maya1.frames import strict_frames
    from voxserve.engines.maya1.sampling import SamplingConfig
    from voxserve.engines.maya1.tokens import Maya1Tokens

    tokens = Maya1Tokens()
    lengths = [21, 56, 35, 70]
    requests = [GenerationRequest([tokens.soh, *range(5, 5 + i), tokens.sos],
                                  SamplingConfig(max_new_tokens=n, min_new_tokens=n, seed=i))
                for i, n in enumerate(lengths)]
    outputs = ctx.engine().runtime.backend.generate_batch(requests)
    _expect([len(o) for o in outputs] == lengths, f"lengths {[len(o) for o in outputs]}")
    frames = [len(strict_frames(o, tokens)) for o in outputs]  # FrameError on a stray
    _expect(frames == [n // 7 for n in lengths], f"frames {frames}")
    return {"lengths": lengths, "frames": frames}


def check_early_close(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    stream = engine.synthesize("Hello there.", VOICE, _params(2))
    first = next(stream)
    stream.close()
    _expect(len(first.samples) == 2048, "first chunk")
    _check_audio(list(engine.synthesize("Hi.", VOICE, _params(3))), STREAM_SIZES)
    return {"first_chunk": len(first.samples)}


def check_concurrent_streams(ctx: Context) -> dict[str, Any]:
    from prometheus_client import REGISTRY

    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    engine = ctx.engine()
    windows = value("voxserve_maya1_snac_batch_windows_sum")
    calls = value("voxserve_maya1_snac_batch_windows_count")
    results: dict[int, list[Any]] = {}
    barrier = threading.Barrier(4)

    def run(seed: int) -> None:
        barrier.wait()
        results[seed] = list(engine.synthesize("Hello there.", VOICE, _params(seed)))

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    _expect(len(results) == 4, "a stream did not finish")
    for chunks in results.values():
        _check_audio(chunks, STREAM_SIZES)
    calls = value("voxserve_maya1_snac_batch_windows_count") - calls
    windows = value("voxserve_maya1_snac_batch_windows_sum") - windows
    return {"snac_calls": calls, "snac_windows_per_call": round(windows / max(calls, 1), 2)}


def check_close_ends_streams(ctx: Context) -> dict[str, Any]:
    from voxserve.engines.maya1 import Maya1Engine
    from voxserve.errors import EngineFailed

    engine = Maya1Engine(ctx.settings(maya1_max_new_tokens=2048, maya1_min_new_tokens=2048),
                         share=False)
    engine.load()
    started, outcome = threading.Event(), []

    def run() -> None:
        try:
            for _ in engine.synthesize("Hello there.", VOICE, _params(4)):
                started.set()
            outcome.append("finished")
        except EngineFailed as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    _expect(started.wait(120), "no first chunk")
    closed_at = time.perf_counter()
    engine.close()
    thread.join(60)
    _expect(not thread.is_alive(), "the stream still runs after close()")
    _expect(bool(outcome) and isinstance(outcome[0], EngineFailed), f"ended with {outcome}")
    return {"stream_ended_s_after_close": round(time.perf_counter() - closed_at, 3)}


def check_snac_full_size(ctx: Context) -> dict[str, Any]:
    """snac_24khz-sized decoder: one 4-frame window in < 20 ms on CUDA; batched windows."""
    from snac import SNAC

    from voxserve.engines.maya1.codec import SnacCodec

    directory = ctx.work / "snac_24khz"
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(SNAC_24KHZ))
    torch.manual_seed(0)
    torch.save(SNAC(**SNAC_24KHZ).state_dict(), directory / "pytorch_model.bin")
    codec = SnacCodec.load(directory, SNAC_24KHZ, ctx.device)
    rng = np.random.default_rng(0)

    def windows(count: int) -> list[list[tuple[int, ...]]]:
        return [[tuple(int(c) for c in rng.integers(0, 4096, 7)) for _ in range(4)]
                for _ in range(count)]

    def timed_ms(count: int, repeats: int) -> float:
        batch = windows(count)
        for _ in range(3 if ctx.cuda else 1):
            codec.decode_many(batch)  # type: ignore[arg-type]
        times = []
        for _ in range(repeats):
            if ctx.cuda:
                torch.cuda.synchronize()
            started = time.perf_counter()
            codec.decode_many(batch)  # type: ignore[arg-type]
            if ctx.cuda:
                torch.cuda.synchronize()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    repeats = 20 if ctx.cuda else 2
    single = timed_ms(1, repeats)
    sizes = (8, 64) if ctx.cuda else (4,)
    batched = {n: timed_ms(n, repeats) for n in sizes}
    detail = {"window_ms_p50": round(single, 2),
              **{f"batch{n}_ms_p50": round(ms, 2) for n, ms in batched.items()},
              **{f"batch{n}_ms_per_window": round(ms / n, 3) for n, ms in batched.items()}}
    if ctx.cuda:
        _expect(single < SNAC_WINDOW_BUDGET_MS,
                f"a 4-frame decode took {single:.1f} ms (budget {SNAC_WINDOW_BUDGET_MS} ms)")
    else:
        detail["note"] = f"the {SNAC_WINDOW_BUDGET_MS:g} ms budget applies on CUDA only"
    return detail


def check_fp32_batch_equals_solo(ctx: Context) -> dict[str, Any]:
    """In float32, a left-padded batch draws the same tokens as each request alone."""
    from voxserve.engines.maya1.backends import GenerationRequest
    from voxserve.engines.maya1.backends.transformers_backend import TransformersBackend
    from voxserve.engines.maya1.sampling import SamplingConfig
    from voxserve.engines.maya1.tokens import Maya1Tokens

    tokens = Maya1Tokens()
    backend = TransformersBackend.load(ctx.model_dir, tokens, ctx.device, torch.float32)
    requests = [
        GenerationRequest([tokens.soh, 5, 6, 7, 8, 9, tokens.sos],
                          SamplingConfig(max_new_tokens=21, min_new_tokens=21, seed=11)),
        GenerationRequest([tokens.soh, 5, tokens.sos],
                          SamplingConfig(max_new_tokens=35, min_new_tokens=35, seed=12)),
        GenerationRequest([tokens.soh, 9, 9, 9, tokens.sos],
                          SamplingConfig(max_new_tokens=14, min_new_tokens=14, seed=13)),
    ]
    batched = backend.generate_batch(requests)
    solo = [list(backend.stream(request)) for request in requests]
    backend.close()
    _expect(batched == solo, "the padded batch differs from the solo runs")
    return {"lengths": [len(ids) for ids in batched]}


def check_int8_weights(ctx: Context) -> dict[str, Any]:
    if importlib.util.find_spec("torchao") is None:
        raise Skip("torchao is not installed (the maya1-int8 extra)")
    from voxserve.engines.maya1 import Maya1Engine

    engine = Maya1Engine(ctx.settings(maya1_quantization="int8"), share=False)
    engine.load()
    try:
        model = engine.runtime.backend.model
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        int8 = sum(type(m.weight).__module__.startswith("torchao") for m in linears)
        _expect(int8 == len(linears), f"{int8} of {len(linears)} linear layers are INT8")
        check_audio = list(engine.synthesize("Hello there.", VOICE, _params(5)))
        _check_audio(check_audio, STREAM_SIZES)
    finally:
        engine.close()
    return {"int8_linear_layers": int8}


def check_vllm(ctx: Context) -> dict[str, Any]:
    if not ctx.cuda:
        raise Skip("vLLM needs CUDA")
    if importlib.util.find_spec("vllm") is None:
        raise Skip("vllm is not installed (the maya1-vllm extra)")
    from tests.unit.maya1.tiny_models import build_model

    from voxserve.engines.maya1.backends import GenerationRequest
    from voxserve.engines.maya1.backends.vllm_backend import VllmBackend
    from voxserve.engines.maya1.frames import strict_frames
    from voxserve.engines.maya1.sampling import SamplingConfig
    from voxserve.engines.maya1.tokens import Maya1Tokens
    from voxserve.errors import EngineFailed

    model_dir = ctx.work / "tiny-vllm"  # head size 64: every attention kernel takes it
    build_model(model_dir, hidden_size=256, intermediate_size=512, num_attention_heads=4,
                num_key_value_heads=2)
    tokens = Maya1Tokens()
    backend = VllmBackend.load(
        ctx.settings(maya1_backend="vllm", maya1_vllm_gpu_memory_utilization=0.3,
                     maya1_vllm_max_model_len=2048),
        model_dir, tokens, ctx.device, None)
    try:
        outputs: dict[int, list[int]] = {}

        def run(index: int) -> None:
            outputs[index] = list(backend.stream(GenerationRequest(
                [tokens.soh, 5 + index, tokens.sos],
                SamplingConfig(max_new_tokens=140, min_new_tokens=28, seed=index))))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        frames = [len(strict_frames(ids, tokens)) for ids in outputs.values()]
        _expect(len(frames) == 8 and min(frames) >= 4, f"frames {frames}")
        stream = backend.stream(GenerationRequest([tokens.soh, tokens.sos], SamplingConfig(
            max_new_tokens=5000, min_new_tokens=5000, seed=1)))
        next(stream)
    finally:
        backend.close()
    try:
        list(stream)
        raise AssertionError("a stream survived close()")
    except EngineFailed:
        pass
    eos = sum(ids[-1] == tokens.eos_audio for ids in outputs.values())
    return {"streams": len(outputs), "frames": frames, "ended_on_eos": eos}


def check_bench(ctx: Context) -> dict[str, Any]:
    import importlib

    bench = importlib.import_module("maya1")
    reports = {}
    backends = ["transformers"]
    if ctx.cuda and importlib.util.find_spec("vllm") is not None:
        backends.append("vllm")
    for backend in backends:
        out = ctx.out / f"bench-{backend}.json"
        argv = ["--model-dir", str(ctx.work / ("tiny-vllm" if backend == "vllm" else
                                               "tiny/maya1")),
                "--snac-dir", str(ctx.snac_dir), "--backend", backend,
                "--device", str(ctx.device), "--no-sanity", "--requests", "3",
                "--max-streams", "4", "--rates", "4", "--poisson-streams", "4",
                "--max-new-tokens", "56", "--json", str(out)]
        if not ctx.cuda:
            argv.append("--allow-cpu")
        _expect(bench.main(argv) == 0, f"bench/maya1.py --backend {backend} failed")
        report = json.loads(out.read_text())
        reports[backend] = {"ttfa_p50_s": round(report["sequential"]["ttfa_p50_s"], 3),
                            "tokens_per_s_p50": round(
                                report["sequential"]["tokens_per_s_p50"], 1),
                            "real_time_streams": report["real_time_streams"]}
    return reports


CHECKS: list[tuple[str, Callable[[Context], dict[str, Any] | None]]] = [
    ("placement", check_placement),
    ("streaming", check_streaming),
    ("batched_slots", check_batched_slots),
    ("early_close", check_early_close),
    ("concurrent_streams", check_concurrent_streams),
    ("close_ends_streams", check_close_ends_streams),
    ("snac_full_size_decode", check_snac_full_size),
    ("fp32_batch_equals_solo", check_fp32_batch_equals_solo),
    ("int8_weights", check_int8_weights),
    ("vllm", check_vllm),
    ("bench", check_bench),
]


# --- entry point -------------------------------------------------------------------------------

def fetch_wheels(directory: Path) -> int:
    """Download (on a machine with network) the wheels a GPU host lacks, at the versions
    installed here, for CPython 3.12 on manylinux x86-64."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = [f"{name}=={importlib.metadata.version(name)}" for name in WHEELS]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp",
               *[arg for p in PLATFORMS for arg in ("--platform", p)], "-d", str(directory),
               *wanted]
    print(" ".join(command), flush=True)
    return subprocess.call(command)


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--out", type=Path, default=Path("gpu-check-out"))
    parser.add_argument("--only", help="comma-separated check names")
    parser.add_argument("--fetch-wheels", type=Path, metavar="DIR",
                        help="download the wheels a GPU host lacks into DIR, then exit")
    args = parser.parse_args(argv)
    if args.fetch_wheels:
        return fetch_wheels(args.fetch_wheels)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu-check: CUDA is not available (use --device cpu for the CPU checks)",
              file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    args.out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="maya1-gpu-check-") as work:
        ctx = Context(args.device, Path(work), args.out)
        print(f"gpu-check on {ctx.device}"
              + (f" ({torch.cuda.get_device_name(0)})" if ctx.cuda else "")
              + f", torch {torch.__version__}", flush=True)
        try:
            for name, check in CHECKS:
                if only is None or name in only:
                    ctx.run(name, check)
        finally:
            if ctx._engine is not None:
                ctx._engine.close()
    failed = [o.name for o in ctx.outcomes if o.status == "fail"]
    site = os.environ.get("GPU_CHECK_WHEEL_SITE")
    report = {
        "device": str(ctx.device), "gpu": torch.cuda.get_device_name(0) if ctx.cuda else None,
        "torch": torch.__version__, "machine": platform.platform(),
        "packages": {name: _version(name) for name in (*WHEELS, "transformers", "vllm")},
        "carried_wheels": sorted(d.metadata["Name"] for d in importlib.metadata.distributions(
            path=[site])) if site else [],
        "seconds": round(time.perf_counter() - started, 1), "failed": failed,
        "checks": [asdict(o) for o in ctx.outcomes],
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2), "utf-8")
    print(f"gpu-check: {len(ctx.outcomes) - len(failed)} of {len(ctx.outcomes)} checks "
          f"passed or skipped" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
