"""The MLflow Model Registry as a source of model versions (the ``mlflow`` extra).

``mlflow:models:/NAME@ALIAS`` or ``mlflow:models:/NAME/VERSION`` is resolved against the
registry at ``VOXSERVE_MLFLOW_TRACKING_URI`` to one registered version, whose artifacts are
downloaded into a directory the repository then imports (checked like any other import).
The repository version is named after the MLflow version, and its manifest's ``source``
records it (``mlflow:models:/NAME/3``), so following an alias imports each version once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxserve.errors import ConfigurationError, InvalidModel, ModelSourceUnavailable

SCHEME = "mlflow:"
_URI = re.compile(r"^mlflow:models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")
#: The MLflow client retries for minutes by default; an admin call should fail in seconds.
_CLIENT_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """A parsed ``mlflow:models:/…`` URI."""

    name: str
    alias: str | None = None
    version: str | None = None

    @property
    def uri(self) -> str:
        tail = f"@{self.alias}" if self.alias else f"/{self.version}"
        return f"{SCHEME}models:/{self.name}{tail}"


@dataclass(frozen=True, slots=True)
class RegistryVersion:
    """One registered model version, resolved."""

    name: str
    version: str
    run_id: str | None

    @property
    def source(self) -> str:
        """What the repository's manifest records: ``mlflow:models:/NAME/3``."""
        return f"{SCHEME}models:/{self.name}/{self.version}"


def is_mlflow_uri(value: str) -> bool:
    return value.startswith(SCHEME)


def parse(uri: str) -> RegistryRef:
    match = _URI.match(uri)
    if match is None:
        raise InvalidModel(
            f"not an MLflow model URI: {uri!r} (mlflow:models:/NAME@ALIAS or "
            "mlflow:models:/NAME/VERSION)", param="path")
    return RegistryRef(match["name"], match["alias"], match["version"])


class MlflowRegistry:
    """Resolve registered versions and download their artifacts."""

    def __init__(self, tracking_uri: str | None) -> None:
        if not tracking_uri:
            raise ConfigurationError("importing from MLflow needs VOXSERVE_MLFLOW_TRACKING_URI")
        self.tracking_uri = tracking_uri
        for name, value in _CLIENT_DEFAULTS.items():
            os.environ.setdefault(name, value)
        try:
            from mlflow import MlflowClient
        except ImportError as exc:
            raise ConfigurationError(
                "importing from MLflow needs the mlflow package: install voxserve[mlflow]"
            ) from exc
        self._client: Any = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def resolve(self, ref: RegistryRef) -> RegistryVersion:
        """The registered version ``ref`` names (an alias: the version it points at now)."""
        try:
            if ref.alias is not None:
                found = self._client.get_model_version_by_alias(ref.name, ref.alias)
            else:
                found = self._client.get_model_version(ref.name, ref.version)
        except Exception as exc:  # MlflowException, requests' errors …
            raise self._error(ref.uri, exc) from exc
        return RegistryVersion(ref.name, str(found.version), found.run_id)

    def download(self, version: RegistryVersion, destination: Path) -> Path:
        """The version's artifacts into ``destination``; the directory holding the files."""
        from mlflow.artifacts import download_artifacts

        try:
            uri = self._client.get_model_version_download_uri(version.name, version.version)
            local = download_artifacts(artifact_uri=uri, dst_path=str(destination),
                                       tracking_uri=self.tracking_uri)
        except Exception as exc:
            raise self._error(version.source, exc) from exc
        path = Path(local)
        return path if path.is_dir() else path.parent

    def _error(self, uri: str, exc: Exception) -> Exception:
        text = str(exc)
        if "RESOURCE_DOES_NOT_EXIST" in text or "INVALID_PARAMETER_VALUE" in text or (
            "not found" in text.lower()
        ):
            return InvalidModel(f"{uri}: not in the MLflow registry at {self.tracking_uri}: "
                                f"{text.splitlines()[0][:300]}", param="path")
        return ModelSourceUnavailable(
            f"MLflow at {self.tracking_uri} is unreachable or failed for {uri}: "
            f"{text.splitlines()[0][:300] if text else type(exc).__name__}")
