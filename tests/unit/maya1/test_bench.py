"""``bench/maya1.py`` runs end to end on the tiny CPU models (a smoke test, not a benchmark)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from tests.bench_tools import bench_module


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """``bench/maya1.py`` imported as a module (bench/ is not a package)."""
    with bench_module("maya1") as module:
        yield module


def test_bench_smoke_run_on_cpu(bench: ModuleType, model_dir: Path, snac_dir: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "maya1.json"
    code = bench.main([
        "--model-dir", str(model_dir), "--snac-dir", str(snac_dir), "--device", "cpu",
        "--allow-cpu", "--requests", "2", "--max-streams", "2", "--max-new-tokens", "28",
        "--json", str(out),
    ])
    assert code == 0
    report = json.loads(out.read_text())
    assert len(report["sequential"]) == 2 and report["ttfa_p50_s"] > 0
    assert report["levels"][0]["streams"] == 1
    assert "real-time concurrent streams" in capsys.readouterr().out


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
