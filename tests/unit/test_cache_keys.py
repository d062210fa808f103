"""Segment cache keys change with every input of synthesis; voice versions track model files."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from voxserve import fingerprint
from voxserve.cache import keys as cache_keys
from voxserve.cache import segment_cache_key
from voxserve.engines.base import EngineOptions, SynthesisParams
from voxserve.fingerprint import file_fingerprint, files_fingerprint


class LoudOptions(EngineOptions):
    level: float = 1.0
    speaker: str | None = None


BASE: dict[str, Any] = {
    "engine": "piper",
    "voice_id": "en_US-joe-medium",
    "voice_version": "0123abcd",
    "text": "The birch canoe slid on the smooth planks.",
    "params": SynthesisParams(speed=1.0, options=LoudOptions(), instructions=None),
    "sample_rate_hz": 22050,
}


def key(**changes: Any) -> str:
    return segment_cache_key(**{**BASE, **changes})


def test_same_inputs_give_the_same_hex_key() -> None:
    assert key() == key(params=SynthesisParams(options=LoudOptions()))
    assert re.fullmatch(r"[0-9a-f]{64}", key())


@pytest.mark.parametrize(
    "changes",
    [
        {"engine": "fake"},
        {"voice_id": "en_US-amy-medium"},
        {"voice_version": "0123abce"},
        {"text": "The birch canoe slid on the smooth planks!"},
        {"text": "The birch canoe slid on the smooth planks. "},
        {"params": replace(BASE["params"], speed=1.25)},
        {"params": replace(BASE["params"], options=LoudOptions(level=0.5))},
        {"params": replace(BASE["params"], options=LoudOptions(speaker="1"))},
        {"params": replace(BASE["params"], instructions="whisper")},
        {"params": replace(BASE["params"], instructions="")},
        {"sample_rate_hz": 24000},
        {"lexicon_version": "3f2a9c0d1e2b4a5c"},
    ],
    ids=lambda changes: ",".join(changes),
)
def test_every_field_changes_the_key(changes: dict[str, Any]) -> None:
    assert key(**changes) != key()


def test_equal_values_spelled_differently_share_a_key() -> None:
    assert key(params=replace(BASE["params"], speed=1)) == key()
    assert key(params=replace(BASE["params"], options=LoudOptions(level=1.0))) == key()


def test_key_format_version_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = key()
    monkeypatch.setattr(cache_keys, "KEY_FORMAT_VERSION", cache_keys.KEY_FORMAT_VERSION + 1)
    assert key() != before


# --- voice versions ----------------------------------------------------------------------

MIB = 1024 * 1024


def write(path: Path, data: bytes, mtime_ns: int = 1_700_000_000_000_000_000) -> Path:
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def test_fingerprint_is_stable_and_independent_of_the_path(tmp_path: Path) -> None:
    model = write(tmp_path / "a.onnx", os.urandom(3 * MIB))
    copy = tmp_path / "elsewhere.onnx"
    shutil.copy2(model, copy)
    assert file_fingerprint(model) == file_fingerprint(model) == file_fingerprint(copy)


def test_fingerprint_changes_with_size_mtime_head_and_tail(tmp_path: Path) -> None:
    data = os.urandom(3 * MIB)
    reference = file_fingerprint(write(tmp_path / "ref", data))
    changed_tail = data[:-1] + bytes([data[-1] ^ 1])
    changed_head = bytes([data[0] ^ 1]) + data[1:]
    assert file_fingerprint(write(tmp_path / "tail", changed_tail)) != reference
    assert file_fingerprint(write(tmp_path / "head", changed_head)) != reference
    assert file_fingerprint(write(tmp_path / "longer", data + b"x")) != reference
    assert file_fingerprint(write(tmp_path / "touched", data, mtime_ns=1)) != reference


def test_fingerprint_sees_a_rewritten_file(tmp_path: Path) -> None:
    path = write(tmp_path / "voice.onnx", b"first version")
    first = file_fingerprint(path)
    write(path, b"other version", mtime_ns=1_800_000_000_000_000_000)
    assert file_fingerprint(path) != first


def test_fingerprint_reads_a_file_once_per_version(tmp_path: Path) -> None:
    path = write(tmp_path / "voice.onnx", os.urandom(2 * MIB + 5))
    file_fingerprint(path)
    misses = fingerprint._fingerprint.cache_info().misses
    for _ in range(5):
        file_fingerprint(path)
    assert fingerprint._fingerprint.cache_info().misses == misses


def test_files_fingerprint_combines_in_order(tmp_path: Path) -> None:
    model = write(tmp_path / "v.onnx", b"model")
    config = write(tmp_path / "v.onnx.json", b"{}")
    both = files_fingerprint([model, config])
    assert both == files_fingerprint([model, config])
    assert both != files_fingerprint([config, model])
    assert both != files_fingerprint([model])
