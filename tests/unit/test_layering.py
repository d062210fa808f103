"""The layers of docs/architecture.md are import-linter contracts (pyproject.toml), checked
by ``lint-imports`` in ./scripts/test. This shows the check has teeth: the same contracts
refuse a copy of the package with one import going the wrong way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(src: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tmp_path / "pyproject.toml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "src" / "voxserve", src / "voxserve",
                    ignore=shutil.ignore_patterns("__pycache__", "web"))
    return src


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
def test_the_contracts_hold_for_the_package(package_copy: Path, tmp_path: Path) -> None:
    result = _lint(package_copy, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
@pytest.mark.parametrize(
    ("module", "import_line", "broken"),
    [
        # an engine reaching up into the cache (a back-import across layers)
        ("engines/base.py", "import voxserve.cache.keys", "Layers"),
        # the HTTP layer loading a model library
        ("api/schemas.py", "import onnxruntime", "never import a model library"),
        # security depending on the web framework
        ("security/principal.py", "import starlette.requests", "no web framework"),
    ],
)
def test_a_wrong_import_breaks_a_contract(
    package_copy: Path, tmp_path: Path, module: str, import_line: str, broken: str
) -> None:
    path = package_copy / "voxserve" / module
    path.write_text(path.read_text() + f"\n{import_line}  # noqa\n")
    result = _lint(package_copy, tmp_path)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout
