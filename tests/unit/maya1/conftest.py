"""Maya1 tests need torch, transformers and snac (the ``maya1`` extra); else they are skipped.

The models are tiny random ones built into a temporary directory once per session; nothing
touches the network.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("snac")

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch

from tests.unit.maya1.tiny_models import build_all
from voxserve.settings import Settings

# The models are tiny: one intra-op thread is fastest, and it does not stall (OpenMP spin
# waits) when the test machine is busy with other work.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model_dir, snac_dir) of the tiny random Maya1 and SNAC."""
    return build_all(tmp_path_factory.mktemp("maya1-tiny"))


@pytest.fixture(scope="session")
def model_dir(tiny_dirs: tuple[Path, Path]) -> Path:
    return tiny_dirs[0]


@pytest.fixture(scope="session")
def snac_dir(tiny_dirs: tuple[Path, Path]) -> Path:
    return tiny_dirs[1]


def maya1_settings(model_dir: Path, snac_dir: Path, **overrides: object) -> Settings:
    """Settings for the tiny models on CPU; 8 frames exactly unless overridden.

    Each gets a data directory of its own (never the user's: its database may belong to
    another checkout's migrations).
    """
    values: dict[str, object] = {
        "engines": ["maya1"], "maya1_model_dir": model_dir, "maya1_snac_dir": snac_dir,
        "maya1_device": "cpu", "maya1_max_new_tokens": 56, "maya1_min_new_tokens": 56,
        "data_dir": Path(tempfile.mkdtemp(prefix="voxserve-maya1-")),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def quiet_snac_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny SNAC without its decoder noise: decodes are exactly reproducible."""
    from tests.unit.maya1.tiny_models import build_snac

    directory = tmp_path_factory.mktemp("maya1-quiet-snac")
    build_snac(directory, noise=False)
    return directory
