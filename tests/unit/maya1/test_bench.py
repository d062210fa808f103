"""``bench/maya1.py``: its checks cannot be fooled, and it runs end to end on the tiny CPU
models, in-process and through a ``voxserve serve`` process (a smoke test, not a benchmark)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from tests.bench_tools import bench_module

SMOKE = ["--device", "cpu", "--allow-cpu", "--requests", "2", "--max-streams", "2",
         "--rates", "2", "--poisson-streams", "2", "--max-new-tokens", "56"]


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """``bench/maya1.py`` imported as a module (bench/ is not a package)."""
    with bench_module("maya1") as module:
        yield module


def test_an_underrun_anywhere_fails_the_stream(bench: ModuleType) -> None:
    frame = 2048
    on_time = [(0.0, 0), (0.05, frame), (0.25, 2 * frame), (0.33, 3 * frame)]
    assert bench.playback_check(on_time, prebuffer_s=0.1) == (
        0, pytest.approx(0.1 + 2 * frame / 24000 - 0.25))
    late = [(0.0, 0), (0.05, frame), (0.6, 2 * frame), (0.62, 3 * frame)]
    underruns, slack = bench.playback_check(late, prebuffer_s=0.1)
    assert underruns == 2 and slack == pytest.approx(0.1 + 2 * frame / 24000 - 0.6)
    assert bench.playback_check([(1.0, 0)], prebuffer_s=0.2) == (0, 0.2)


def test_noise_that_never_ends_does_not_count(bench: ModuleType) -> None:
    sanity = bench.Sanity(max_new_tokens=2048, min_frames_per_char=0.25,
                          max_frames_per_char=2.0)
    sentence = "The birch canoe slid on the smooth planks."  # 42 characters
    good = bench.StreamResult(len(sentence), 0.2, 2.8, 2.6, 31, 0, 0.05)
    noise = bench.StreamResult(len(sentence), 0.2, 2.8, 24.8, 292, 0, 0.05)
    assert sanity.problems([good, good], {"eos": 2}) == []
    problems = sanity.problems([good, noise], {"eos": 1})
    assert problems[0] == "EOS reached by 1 of 2 streams"
    assert problems[1].startswith("292 frames for 42 characters")
    level = bench.LevelReport("burst", 2, [good, good], {"eos": 2, "snac_calls": 4,
                                                        "snac_windows": 10}, wall_s=2.8)
    assert level.passed and level.snac_windows_per_call == 2.5
    late = bench.StreamResult(len(sentence), 0.2, 2.8, 2.6, 31, 3, -0.4)
    assert not bench.LevelReport("burst", 2, [good, late], {"eos": 2}, wall_s=2.8).passed


def test_poisson_arrivals_have_the_asked_rate(bench: ModuleType) -> None:
    starts = bench.poisson_starts(4.0, 4001, random.Random(1))
    assert starts[0] == 0.0 and starts == sorted(starts)
    assert 4000 / starts[-1] == pytest.approx(4.0, rel=0.05)


def test_smoke_run_in_process(bench: ModuleType, model_dir: Path, snac_dir: Path,
                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "maya1.json"
    assert bench.main(["--model-dir", str(model_dir), "--snac-dir", str(snac_dir), *SMOKE,
                       "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    # Random weights never end their speech: no level may count as real-time.
    assert report["sanity_enforced"] and report["real_time_streams"] == 0
    sequential = report["sequential"]
    assert sequential["streams"] == 2 and not sequential["passed"]
    assert "EOS reached by 0 of 2 streams" in sequential["problems"]
    assert sequential["max_token_segments"] == 2 and sequential["eos_segments"] == 0
    assert sequential["frames_p50"] == 8 and sequential["ttfa_p50_s"] > 0
    assert sequential["tokens_per_s_p50"] > 0 and sequential["snac_windows_per_call"] >= 1
    assert len(report["bursts"]) == 1 and len(report["poisson"]) == 1
    assert "real-time concurrent streams (burst): 0" in capsys.readouterr().out

    assert bench.main(["--model-dir", str(model_dir), "--snac-dir", str(snac_dir), *SMOKE,
                       "--no-sanity", "--prebuffer-ms", "60000", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert not report["sanity_enforced"] and report["real_time_streams"] == 2
    assert [level["streams"] for level in report["bursts"]] == [1, 2]
    assert report["poisson"][0]["streams"] == 2 and report["sustained_rate_per_s"] == 2


@pytest.mark.e2e
def test_smoke_run_through_the_server(bench: ModuleType, model_dir: Path, snac_dir: Path,
                                      tmp_path: Path) -> None:
    out = tmp_path / "maya1-server.json"
    assert bench.main(["--model-dir", str(model_dir), "--snac-dir", str(snac_dir), *SMOKE,
                       "--through-server", "--no-sanity", "--prebuffer-ms", "60000",
                       "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["through_server"]
    bursts = report["bursts"]
    assert [level["streams"] for level in bursts] == [1, 2]
    # Counted by the server's own /metrics: both segments ended, at the token limit (8 frames)
    # or earlier where the random weights sampled EOS (the server does not seed sampling).
    level = bursts[1]
    assert level["max_token_segments"] + level["eos_segments"] == 2
    assert 0 < level["frames_p50"] <= 8
    assert all(0 < r["audio_s"] <= 7 * 2048 / 24000 + 0.01 for r in level["results"])
    if level["eos_segments"] == 0:
        assert level["frames_p50"] == 8 and level["mean_concurrency"] > 1.2
        assert all(r["audio_s"] == pytest.approx(7 * 2048 / 24000, abs=0.01)
                   for r in level["results"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU refusal")
def test_bench_refuses_the_cpu_unless_allowed(
    bench: ModuleType, model_dir: Path, snac_dir: Path
) -> None:
    assert bench.main(["--model-dir", str(model_dir), "--snac-dir", str(snac_dir)]) == 2


def test_percentile_is_nearest_rank(bench: ModuleType) -> None:
    percentile = bench.percentile
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    assert percentile([7.0], 95) == 7.0
