"""A model version's manifest (``manifest.json`` beside its files) and its checks.

The manifest says which engine runs the files, what the voice is (language, sample rate,
OpenAI-style aliases, a description), and the sha256 of every file, so a copy that lost or
changed a byte is refused before anything loads it.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voxserve.errors import InvalidModel

MANIFEST_NAME = "manifest.json"
#: Model and version names: a path segment, nothing that could climb out of the repository.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_CHUNK_BYTES = 1024 * 1024


class ModelManifest(BaseModel):
    """What ``<model>/<version>/manifest.json`` holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = Field(min_length=1, max_length=64)
    language: str = Field(default="", max_length=32)
    sample_rate_hz: int | None = Field(default=None, ge=1000, le=384_000)
    #: Client-facing names (OpenAI's ``alloy`` …) that should reach this model.
    aliases: tuple[str, ...] = ()
    description: str = Field(default="", max_length=2000)
    #: File name (relative to the version directory) -> sha256 hex digest.
    files: dict[str, str] = Field(min_length=1)
    #: Where the version came from (``path:…``, ``mlflow:models:/NAME/3``), for people.
    source: str = ""

    def dump(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def check_name(value: str, what: str) -> str:
    """``InvalidModel`` unless ``value`` is a safe model or version name."""
    if not NAME_PATTERN.match(value) or value in {".", ".."}:
        raise InvalidModel(
            f"invalid {what} name {value!r}: letters, digits and . _ + - (at most 128, "
            "not starting with a symbol)", param=what,
        )
    return value


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> ModelManifest:
    """The manifest in ``directory``; ``InvalidModel`` when missing or malformed."""
    path = directory / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InvalidModel(f"{directory}: no {MANIFEST_NAME}", param="path") from None
    except (OSError, ValueError) as exc:
        raise InvalidModel(f"{path}: not readable JSON: {exc}", param="path") from None
    try:
        return ModelManifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "manifest"
        raise InvalidModel(f"{path}: {where}: {first['msg']}", param="path") from None


def verify_files(directory: Path, manifest: ModelManifest) -> int:
    """Check every listed file exists inside ``directory`` with its checksum; the total bytes.

    Raises ``InvalidModel`` naming the first missing, escaping or mismatching file.
    """
    root = directory.resolve()
    total = 0
    for name, expected in sorted(manifest.files.items()):
        path = (directory / name).resolve()
        if not path.is_relative_to(root) or name == MANIFEST_NAME:
            raise InvalidModel(f"manifest lists {name!r}, which is not a model file", param="path")
        if not path.is_file():
            raise InvalidModel(f"{directory}: file {name!r} is missing", param="path")
        actual = sha256_file(path)
        if actual != expected.lower():
            raise InvalidModel(
                f"{directory}: checksum mismatch for {name!r} (manifest {expected[:12]}…, "
                f"file {actual[:12]}…)", param="path",
            )
        total += path.stat().st_size
    return total


def build_manifest(
    directory: Path, *, engine: str, language: str = "", sample_rate_hz: int | None = None,
    aliases: tuple[str, ...] = (), description: str = "", source: str = "",
) -> ModelManifest:
    """A manifest for every regular file directly in ``directory`` (checksums computed)."""
    files = {
        path.name: sha256_file(path)
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST_NAME and not path.name.startswith(".")
    }
    if not files:
        raise InvalidModel(f"{directory}: no model files", param="path")
    return ModelManifest(
        engine=engine, language=language, sample_rate_hz=sample_rate_hz, aliases=aliases,
        description=description, files=files, source=source,
    )
