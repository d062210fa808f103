"""The HTTP layer must not pull model libraries in (DESIGN: api never imports onnxruntime)."""

from __future__ import annotations

import subprocess
import sys


def test_api_imports_no_model_library() -> None:
    code = (
        "import sys, voxserve.api.app, voxserve.cli;"
        "bad = [m for m in ('onnxruntime', 'piper', 'torch') if m in sys.modules];"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
