#!/usr/bin/env python3
"""Regenerate voxserve's gRPC code from its proto (needs grpcio-tools: the ``dev`` extra).

    python scripts/gen_protos.py            # rewrite src/voxserve/rpc/v1/*_pb2*.py(i)
    python scripts/gen_protos.py --out DIR  # write into DIR instead (the drift test does)

The generated files are committed; ``tests/unit/test_rpc_protos.py`` fails when they do not
match the proto, so a changed proto needs this script run and its output committed.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PROTOS = ("voxserve/rpc/v1/speech.proto",)


def generate(out_dir: Path) -> list[Path]:
    """Run protoc (grpcio-tools) on the protos into ``out_dir``; the files it wrote."""
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    include = str(resources.files("grpc_tools") / "_proto")  # google/protobuf/*.proto
    for proto in PROTOS:
        status = protoc.main([
            "grpc_tools.protoc", f"-I{SRC}", f"-I{include}",
            f"--python_out={out_dir}", f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}",
            str(SRC / proto),
        ])
        if status != 0:
            raise RuntimeError(f"protoc failed on {proto} (exit status {status})")
    return sorted(path for path in out_dir.rglob("*_pb2*.py*"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SRC, help="root of the generated tree")
    args = parser.parse_args()
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
