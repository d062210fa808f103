"""Importing the scripts of ``bench/`` in tests.

``bench/`` is not a package: its scripts import the shared ``harness`` module the way Python
finds it when it runs ``python bench/<script>.py``, from ``bench/`` first on ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


@contextmanager
def bench_module(name: str) -> Iterator[ModuleType]:
    """``bench/<name>.py`` imported as module ``bench_<name>``, with ``bench/`` on ``sys.path``
    while it is in use (``harness`` is imported afresh, and forgotten afterwards)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH_DIR))
        patch.delitem(sys.modules, "harness", raising=False)
        patch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
        spec.loader.exec_module(module)
        try:
            yield module
        finally:
            sys.modules.pop("harness", None)
