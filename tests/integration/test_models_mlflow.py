"""The MLflow Model Registry as a source: a real ``mlflow server`` started here on loopback
(SQLite backend store, local artifact root) with the joe voice registered as model versions;
import by alias and by number, the alias followed by ``sync``, errors (unknown model,
unreachable server) through the admin API."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api_tools import ready_client
from tests.integration.services import free_port
from tests.models_tools import joe_version_dir
from voxserve.api.app import create_app
from voxserve.settings import Settings

mlflow = pytest.importorskip("mlflow", reason="the MLflow tests need the mlflow extra")

pytestmark = pytest.mark.integration

REGISTERED = "joe-voice"


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = (root / "server.log").open("wb")
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1",
               "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
               "--artifacts-destination", str(root / "artifacts")]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (root / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _register(tracking_uri: str, source: Path) -> str:
    """Log the voice as a run's artifacts and register them as a new version; its number."""
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name("voices") or None
    experiment_id = (experiment.experiment_id if experiment
                     else client.create_experiment("voices"))
    run = client.create_run(experiment_id)
    client.log_artifacts(run.info.run_id, str(source), artifact_path="voice")
    client.set_terminated(run.info.run_id)
    if not client.search_registered_models(filter_string=f"name='{REGISTERED}'"):
        client.create_registered_model(REGISTERED)
    version = client.create_model_version(
        REGISTERED, source=f"{run.info.artifact_uri}/voice", run_id=run.info.run_id)
    deadline = time.monotonic() + 30
    while client.get_model_version(REGISTERED, version.version).status != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return str(version.version)


def _set_alias(tracking_uri: str, alias: str, version: str) -> None:
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.set_registered_model_alias(REGISTERED, alias, version)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, tracking_uri: str) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), engines=["piper"],
                        engine_replicas=1, mlflow_tracking_uri=tracking_uri)
    with TestClient(create_app(settings)) as test_client:
        deadline = time.monotonic() + 60
        while test_client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield test_client


def _model(client: TestClient, name: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/admin/models/{name}").json()
    return body


def test_import_by_alias_then_follow_the_alias(client: TestClient, tracking_uri: str,
                                               tmp_path: Path) -> None:
    source = joe_version_dir(tmp_path)
    (source / "README.txt").write_text("joe, registered")  # any artifact file is kept
    first = _register(tracking_uri, source)
    second = _register(tracking_uri, source)
    _set_alias(tracking_uri, "champion", first)
    imported = client.post("/v1/admin/models/import", json={
        "path": f"mlflow:models:/{REGISTERED}@champion", "model": "joe-ml"})
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["imported_version"] == first and body["active_version"] == first
    assert body["versions"][0]["source"] == f"mlflow:models:/{REGISTERED}/{first}"
    speech = client.post("/v1/audio/speech", json={"input": "Hello.", "voice": "joe-ml",
                                                   "response_format": "wav"})
    assert speech.status_code == 200
    assert speech.headers["x-voxserve-voice"] == f"joe-ml@{first}"
    # Importing the same MLflow version again is a no-op, not a duplicate.
    again = client.post("/v1/admin/models/import", json={
        "path": f"mlflow:models:/{REGISTERED}/{first}", "model": "joe-ml"})
    assert again.status_code == 201 and again.json()["imported_version"] == first
    assert client.post("/v1/admin/models/sync").json() == {"changed": []}
    # The champion moves: sync imports the new version and activates it.
    _set_alias(tracking_uri, "champion", second)
    assert client.post("/v1/admin/models/sync").json() == {"changed": ["joe-ml"]}
    model = _model(client, "joe-ml")
    assert model["active_version"] == second
    assert [row["version"] for row in model["versions"]] == [first, second]
    speech = client.post("/v1/audio/speech", json={"input": "Hello.", "voice": "joe-ml",
                                                   "response_format": "wav"})
    assert speech.headers["x-voxserve-voice"] == f"joe-ml@{second}"


def test_registry_errors_are_clear(client: TestClient, tmp_path: Path) -> None:
    unknown = client.post("/v1/admin/models/import",
                          json={"path": "mlflow:models:/no-such-model@champion"})
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["code"] == "invalid_model"
    bad = client.post("/v1/admin/models/import", json={"path": "mlflow:runs:/abc/x"})
    assert bad.status_code == 422 and "mlflow:models:/NAME@ALIAS" in bad.json()["error"][
        "message"]


def test_unreachable_mlflow_is_a_502_and_nothing_changes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, engines=["piper"], engine_replicas=1,
                        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}")
    with ready_client(settings) as client:
        started = time.monotonic()
        response = client.post("/v1/admin/models/import",
                               json={"path": f"mlflow:models:/{REGISTERED}@champion"})
        assert response.status_code == 502, response.text
        assert response.json()["error"]["code"] == "model_source_unavailable"
        assert "unreachable" in response.json()["error"]["message"]
        assert time.monotonic() - started < 60
        models = client.get("/v1/admin/models").json()["data"]
        assert [m["id"] for m in models] == ["en_US-joe-medium"]  # nothing registered
