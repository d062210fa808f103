"""``scripts/gpu-check --device cpu``: every check that needs no CUDA runs and passes on the
tiny models, wheels in ``--wheels`` are installed and importable, and a failing check makes
the command fail (so the GPU check cannot rot between GPU sessions)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "gpu-check"


def _wheel(directory: Path) -> Path:
    """A minimal wheel of a probe package (pip installs it like any other)."""
    name, version = "voxserve_gpu_check_probe", "1.0"
    path = directory / f"{name}-{version}-py3-none-any.whl"
    files = {
        f"{name}/__init__.py": b"PROBE = 42\n",
        f"{name}-{version}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for file_name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{file_name},sha256={digest},{len(data)}")
    files[f"{name}-{version}.dist-info/RECORD"] = (
        "\n".join([*record, f"{name}-{version}.dist-info/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name_in_zip, data in files.items():
            archive.writestr(name_in_zip, data)
    return path


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run([str(SCRIPT), "--device", "cpu", "--out", str(out), *args],
                          env=env, capture_output=True, text=True, timeout=1500, check=False)
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() \
        else {}
    return done, report


@pytest.mark.e2e
def test_the_cpu_checks_all_pass(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    done, report = _run(tmp_path, "--wheels", str(wheels))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    status = {check["name"]: check["status"] for check in report["checks"]}
    expected = {name: "pass" for name in (
        "placement", "streaming", "batched_slots", "early_close", "concurrent_streams",
        "close_ends_streams", "snac_full_size_decode", "fp32_batch_equals_solo", "bench")}
    expected["vllm"] = "skip"  # needs CUDA
    expected["int8_weights"] = "pass" if report["packages"]["torchao"] else "skip"
    assert status == expected
    details = {check["name"]: check["detail"] for check in report["checks"]}
    assert details["placement"]["lm_dtype"] == "torch.float32"
    assert details["snac_full_size_decode"]["window_ms_p50"] > 0
    assert details["bench"]["transformers"]["tokens_per_s_p50"] > 0
    assert report["carried_wheels"] == ["voxserve_gpu_check_probe"]
    assert (tmp_path / "out" / "bench-transformers.json").exists()


def test_a_failing_check_fails_the_command(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    gpu_check = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", gpu_check)  # dataclasses look it up
    spec.loader.exec_module(gpu_check)

    def planted(ctx: object) -> None:
        raise AssertionError("a planted failure")

    monkeypatch.setattr(gpu_check, "CHECKS", [("placement", gpu_check.check_placement),
                                              ("planted", planted)])
    out = tmp_path / "out"
    assert gpu_check.main(["--device", "cpu", "--out", str(out)]) == 1
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == ["planted"]
    assert "a planted failure" in report["checks"][1]["error"]
    if not gpu_check.torch.cuda.is_available():
        assert gpu_check.main(["--device", "cuda", "--out", str(out)]) == 2
