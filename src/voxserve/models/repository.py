"""The model repository on a local (or shared, mounted) filesystem.

Layout::

    <root>/<model>/<version>/manifest.json    the version's manifest (engine, checksums …)
    <root>/<model>/<version>/<files>          the engine's files
    <root>/<model>/active.json                {"active": "2", "history": ["1"]}
    <root>/.staging/                          imports being checked (never a model)

Anything else under the root (Piper voices in the old flat layout, ``lexicons/``, the Maya1
directory) is not a repository model and is left alone. A version is copied into
``.staging`` and checked there, then renamed into place in one step, so a failed import
leaves nothing behind and a reader never sees half a version.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from voxserve.errors import InvalidModel, ModelConflict, ModelVersionNotFound
from voxserve.models.manifest import (
    MANIFEST_NAME,
    ModelManifest,
    build_manifest,
    check_name,
    read_manifest,
    verify_files,
)

logger = logging.getLogger(__name__)

POINTER_NAME = "active.json"
STAGING_DIR = ".staging"
#: Folders under the root that other features own (issue 18's lexicons): never models.
RESERVED_NAMES = frozenset({"lexicons", STAGING_DIR})
#: Versions the repository never stores: the engines' own voices use them (read-only).
READ_ONLY_VERSIONS = frozenset({"bundled", "local"})

#: Checks a staged version before it is registered (an engine's trial load); raises.
VersionCheck = Callable[[Path, ModelManifest], None]


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version in the repository."""

    model: str
    version: str
    #: Where the files are: a local directory, or (S3) where they are downloaded to.
    path: Path
    manifest: ModelManifest
    created_at_s: float
    #: The files' total size.
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class Pointer:
    """A model's active version and the versions active before it (latest last)."""

    active: str | None = None
    history: tuple[str, ...] = ()
    #: A registry alias the model follows (``mlflow:models:/NAME@champion``), or None.
    follow: str | None = None


def pointer_from_json(text: str) -> Pointer:
    raw = json.loads(text)
    follow = raw.get("follow")
    return Pointer(active=raw.get("active"), history=tuple(raw.get("history", ())),
                   follow=follow if isinstance(follow, str) else None)


def pointer_to_json(pointer: Pointer) -> str:
    return json.dumps({"active": pointer.active, "history": list(pointer.history),
                       "follow": pointer.follow})


def guess_engine(directory: Path) -> str | None:
    """``piper`` for a directory with a ``.onnx`` + ``.onnx.json`` pair and no manifest."""
    if (directory / MANIFEST_NAME).is_file():
        return None
    return "piper" if any(directory.glob("*.onnx.json")) else None


def version_sort_key(version: str) -> tuple[int, int, str]:
    """Numbers in numeric order, before names (``2`` < ``10`` < ``beta``)."""
    match = re.fullmatch(r"\d+", version)
    return (0, int(version), "") if match else (1, 0, version)


def find_version(versions: list[StoredVersion], model: str, version: str) -> StoredVersion:
    """``version`` among a model's ``versions``; ``ModelVersionNotFound`` if absent."""
    for stored in versions:
        if stored.version == version:
            return stored
    raise ModelVersionNotFound(f"model '{model}' has no version '{version}' in the "
                               f"repository", param="version")


class ModelRepository(Protocol):
    """What the hosted-version table needs of a repository (local directory or S3)."""

    def describe(self) -> str: ...
    def models(self) -> list[str]: ...
    def versions(self, model: str) -> list[StoredVersion]: ...
    def version(self, model: str, version: str) -> StoredVersion: ...
    def pointer(self, model: str) -> Pointer: ...
    def set_pointer(self, model: str, pointer: Pointer) -> None: ...
    def materialize(self, stored: StoredVersion) -> Path: ...
    def next_version(self, model: str) -> str: ...
    def add(
        self, source: Path, model: str, version: str | None = None, *,
        manifest: ModelManifest | None = None, engine: str | None = None,
        check: VersionCheck | None = None, source_label: str = "",
    ) -> StoredVersion: ...
    def remove(self, model: str, version: str) -> None: ...


class LocalModelRepository:
    """Model versions as directories under ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    # --- reading ------------------------------------------------------------------------

    def models(self) -> list[str]:
        """Names of the models with at least one version."""
        if not self.root.is_dir():
            return []
        return sorted(
            child.name for child in self.root.iterdir()
            if child.is_dir() and child.name not in RESERVED_NAMES
            and not child.name.startswith(".") and self._version_dirs(child)
        )

    def versions(self, model: str) -> list[StoredVersion]:
        """The model's versions, oldest number first; a version with a broken manifest is
        skipped (logged), never fatal."""
        found = []
        for directory in self._version_dirs(self.root / model):
            try:
                manifest = read_manifest(directory)
            except InvalidModel as exc:
                logger.warning("ignoring model version %s: %s", directory, exc.message)
                continue
            created = (directory / MANIFEST_NAME).stat().st_mtime
            size = sum((directory / name).stat().st_size for name in manifest.files
                       if (directory / name).is_file())
            found.append(StoredVersion(model, directory.name, directory, manifest, created,
                                       size))
        return sorted(found, key=lambda stored: version_sort_key(stored.version))

    def version(self, model: str, version: str) -> StoredVersion:
        return find_version(self.versions(model), model, version)

    def pointer(self, model: str) -> Pointer:
        path = self.root / model / POINTER_NAME
        try:
            return pointer_from_json(path.read_text("utf-8"))
        except FileNotFoundError:
            return Pointer()
        except (OSError, ValueError, AttributeError) as exc:
            logger.warning("ignoring unreadable %s: %s", path, exc)
            return Pointer()

    def materialize(self, stored: StoredVersion) -> Path:
        """A local directory with the version's files (here: where they are)."""
        return stored.path

    def next_version(self, model: str) -> str:
        numbers = [int(v.version) for v in self.versions(model) if v.version.isdigit()]
        return str(max(numbers, default=0) + 1)

    # --- writing ------------------------------------------------------------------------

    def set_pointer(self, model: str, pointer: Pointer) -> None:
        directory = self.root / model
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(directory / POINTER_NAME, pointer_to_json(pointer))

    def add(
        self, source: Path, model: str, version: str | None = None, *,
        manifest: ModelManifest | None = None, engine: str | None = None,
        check: VersionCheck | None = None, source_label: str = "",
    ) -> StoredVersion:
        """Copy ``source`` (a directory, or one model file) in as ``model``/``version``.

        The manifest is ``manifest``, else ``source``'s ``manifest.json``, else built for
        ``engine`` with computed checksums. Checksums are verified and ``check`` runs on the
        staged copy; any failure removes the copy (``InvalidModel``). ``ModelConflict`` when
        the version exists.
        """
        version = check_names(model, version or self.next_version(model))
        target = self.root / model / version
        if target.exists():
            raise ModelConflict(f"model '{model}' already has a version '{version}'",
                                param="version")
        if not source.exists():
            raise InvalidModel(f"{source}: no such file or directory", param="path")
        staged = Path(tempfile.mkdtemp(prefix=f"{model}-{version}-", dir=self._staging()))
        try:
            stage_version(source, staged, manifest=manifest, engine=engine, check=check,
                          source_label=source_label)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staged, target)  # atomic; fails if another import won the race
            except OSError:
                raise ModelConflict(f"model '{model}' already has a version '{version}'",
                                    param="version") from None
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return self.version(model, version)

    def remove(self, model: str, version: str) -> None:
        stored = self.version(model, version)
        pointer = self.pointer(model)
        if pointer.active == version:
            raise ModelConflict(f"version '{version}' is the active version of '{model}'; "
                                "activate another first", param="version")
        trash = self._staging() / f"removed-{model}-{version}-{time.time_ns()}"
        os.rename(stored.path, trash)  # gone from listings at once
        shutil.rmtree(trash, ignore_errors=True)
        if version in pointer.history:
            self.set_pointer(model, replace(
                pointer, history=tuple(v for v in pointer.history if v != version)))

    # --- internals ----------------------------------------------------------------------

    def _staging(self) -> Path:
        staging = self.root / STAGING_DIR
        staging.mkdir(parents=True, exist_ok=True)
        return staging

    @staticmethod
    def _version_dirs(model_dir: Path) -> list[Path]:
        if not model_dir.is_dir():
            return []
        return [child for child in model_dir.iterdir()
                if child.is_dir() and (child / MANIFEST_NAME).is_file()]


def check_names(model: str, version: str) -> str:
    """``InvalidModel`` for a bad or reserved model or version name; the version."""
    check_name(model, "model")
    if model in RESERVED_NAMES:
        raise InvalidModel(f"'{model}' is a reserved name", param="model")
    check_name(version, "version")
    if version in READ_ONLY_VERSIONS:
        raise InvalidModel(f"version '{version}' is reserved for engines' own voices",
                           param="version")
    return version


def stage_version(
    source: Path, staged: Path, *, manifest: ModelManifest | None, engine: str | None,
    check: VersionCheck | None, source_label: str,
) -> ModelManifest:
    """Copy ``source`` into the empty directory ``staged``, settle and verify its manifest
    (written there), run ``check``; raises ``InvalidModel``."""
    if not source.exists():
        raise InvalidModel(f"{source}: no such file or directory", param="path")
    _copy_source(source, staged)
    if manifest is None and (staged / MANIFEST_NAME).is_file():
        manifest = read_manifest(staged)
    elif manifest is None:
        if not engine:
            raise InvalidModel(f"{source}: no {MANIFEST_NAME}; name the engine",
                               param="engine")
        manifest = build_manifest(staged, engine=engine, source=source_label)
    if source_label and not manifest.source:
        manifest = manifest.model_copy(update={"source": source_label})
    verify_files(staged, manifest)
    _write_atomic(staged / MANIFEST_NAME, manifest.dump())
    if check is not None:
        check(staged, manifest)
    return manifest


def _copy_source(source: Path, staged: Path) -> None:
    """A directory's regular files (not hidden, not nested), or one file and its Piper
    ``.json`` companion, into ``staged``."""
    if source.is_dir():
        files = [p for p in sorted(source.iterdir()) if p.is_file() and not p.name.startswith(".")]
    else:
        companion = source.with_name(source.name + ".json")
        files = [source] + ([companion] if companion.is_file() else [])
    if not files:
        raise InvalidModel(f"{source}: no model files", param="path")
    for path in files:
        shutil.copyfile(path, staged / path.name)


def _write_atomic(path: Path, data: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(data, "utf-8")
    os.replace(temporary, path)
