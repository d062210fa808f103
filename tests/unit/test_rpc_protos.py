"""The committed generated code matches the proto: regenerate into a temporary directory
with scripts/gen_protos.py (grpcio-tools) and compare byte for byte."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytest.importorskip("grpc_tools", reason="grpcio-tools (the dev extra) regenerates the code")

COMMITTED = REPO_ROOT / "src" / "voxserve" / "rpc" / "v1"


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("gen_protos",
                                                  REPO_ROOT / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    generated = _generator().generate(tmp_path)  # type: ignore[attr-defined]
    names = sorted(path.name for path in generated)
    assert names == ["speech_pb2.py", "speech_pb2.pyi", "speech_pb2_grpc.py"]
    stale = [path.name for path in generated
             if path.read_bytes() != (COMMITTED / path.name).read_bytes()]
    assert not stale, f"run scripts/gen_protos.py and commit: {stale} differ from the proto"


def test_the_check_notices_a_changed_proto(tmp_path: Path) -> None:
    """A proto edited without regenerating is caught (the check can fail)."""
    module = _generator()
    source = tmp_path / "src"
    proto = source / "voxserve" / "rpc" / "v1" / "speech.proto"
    proto.parent.mkdir(parents=True)
    proto.write_text((COMMITTED / "speech.proto").read_text().replace(
        "string instructions = 9;", "string instructions = 9;\n  string extra = 11;"))
    module.SRC = source  # type: ignore[attr-defined]
    generated = module.generate(tmp_path / "out")  # type: ignore[attr-defined]
    pb2 = next(path for path in generated if path.name == "speech_pb2.py")
    assert pb2.read_bytes() != (COMMITTED / "speech_pb2.py").read_bytes()
