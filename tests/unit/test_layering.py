"""The HTTP layer must not pull model libraries in (DESIGN: api never imports onnxruntime)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

from voxserve import security


def test_api_imports_no_model_library() -> None:
    code = (
        "import sys, voxserve.api.app, voxserve.cli;"
        "bad = [m for m in ('onnxruntime', 'piper', 'torch') if m in sys.modules];"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


def test_security_imports_no_http_framework() -> None:
    """``voxserve.security`` is the domain; its HTTP glue lives in ``voxserve.api``."""
    modules = [m.name for m in pkgutil.iter_modules(security.__path__, "voxserve.security.")]
    assert "voxserve.security.limits" in modules
    code = (f"import sys, {', '.join(modules)}; "
            "print(sorted({'starlette', 'fastapi'} & set(sys.modules)))")
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"
