"""deploy/compose.yaml, deploy/.env.example, Prometheus and Grafana provisioning files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from voxserve.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SETTING_NAMES = {f"VOXSERVE_{name.upper()}" for name in Settings.model_fields}


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def test_services_and_images_are_pinned() -> None:
    services = _compose()["services"]
    assert {"api", "worker", "api-gpu", "postgres", "redis", "rabbitmq", "minio",
            "minio-init", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned {image}"
    assert services["worker"]["command"] == ["worker"]
    assert services["api"]["command"] == ["serve"]
    for name in ("api", "worker", "api-gpu"):
        assert services[name]["build"]["context"] == ".."
        assert (REPO / services[name]["build"]["dockerfile"]).is_file()


def test_healthchecks_and_dependency_conditions() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        if name in ("minio-init", "worker"):  # one-shot; no HTTP in `voxserve worker`
            continue
        test = service["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), name
    assert services["api"]["healthcheck"]["test"][-1] == "/readyz"
    conditions = {"service_healthy", "service_completed_successfully", "service_started"}
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec["condition"] in conditions
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep] and not services[dep]["healthcheck"].get(
                    "disable"), f"{name} waits for {dep}, which has no healthcheck"
            if spec["condition"] == "service_completed_successfully":
                assert services[dep].get("restart") == "no"
    for name in ("api", "worker"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["rabbitmq"]["condition"] == "service_healthy"
        assert deps["minio-init"]["condition"] == "service_completed_successfully"
    # graceful shutdown outlasts the drain time
    drain = float(services["api"]["environment"]["VOXSERVE_SHUTDOWN_DRAIN_S"])
    assert float(services["api"]["stop_grace_period"].rstrip("s")) > drain


def test_cuda_profile_reserves_a_gpu() -> None:
    gpu = _compose()["services"]["api-gpu"]
    assert gpu["profiles"] == ["cuda"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert gpu["environment"]["VOXSERVE_ENGINES"] == "piper,maya1"
    assert gpu["build"]["dockerfile"].endswith("Dockerfile.cuda")
    for name, service in _compose()["services"].items():
        if name != "api-gpu":
            assert "profiles" not in service, name


def test_voxserve_env_names_are_real_settings() -> None:
    services = _compose()["services"]
    seen = set()
    for service in services.values():
        for key in service.get("environment", {}):
            if key.startswith("VOXSERVE_"):
                assert key in SETTING_NAMES, f"not a voxserve setting: {key}"
                seen.add(key)
    assert {"VOXSERVE_DATABASE_URL", "VOXSERVE_QUEUE_URL", "VOXSERVE_STORAGE_URL",
            "VOXSERVE_CACHE_URL"} <= seen
    env_example = (DEPLOY / ".env.example").read_text()
    for line in env_example.splitlines():
        match = re.match(r"#?\s*(VOXSERVE_[A-Z0-9_]+)=", line)
        if match:
            assert match.group(1) in SETTING_NAMES, match.group(1)


def test_env_example_has_no_real_secrets_and_feeds_every_variable() -> None:
    values = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    for key, value in values.items():
        if re.search(r"PASS|SECRET|PASSWORD", key):
            assert value.startswith("CHANGE_ME"), key
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (DEPLOY / "compose.yaml").read_text()))
    assert required and required <= set(values), required - set(values)
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()


def test_prometheus_config() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["voxserve-api"]
    assert api["metrics_path"] == "/metrics"
    assert set(api["dns_sd_configs"][0]["names"]) == {"api", "api-gpu"}
    # issue 23: the API servers' /metrics is on VOXSERVE_METRICS_PORT, not the API port
    assert api["dns_sd_configs"][0]["port"] == 9464
    assert _compose()["services"]["api"]["environment"]["VOXSERVE_METRICS_PORT"] == "9464"
    assert "voxserve-workers-rabbitmq" in jobs and "rabbitmq" in jobs
    mounts = _compose()["services"]["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts


def test_grafana_provisioning() -> None:
    grafana = DEPLOY / "grafana"
    datasource = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yml").read_text())
    [source] = datasource["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((grafana / "provisioning/dashboards/voxserve.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads((grafana / "dashboards/voxserve.json").read_text())
    assert dashboard["uid"] and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == source["uid"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("request rate", "p95", "first audio", "queue depth", "rejected",
                  "cache hit", "real-time factor", "gpu", "project"):
        assert topic in titles, topic
