"""deploy/k8s: every core object validates against the Kubernetes OpenAPI schemas shipped
by kubernetes-validate (offline); overlays are rendered with a small strategic-merge subset
and validated again; KEDA objects are checked structurally; probes, drain and policies."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from voxserve.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
K8S_VERSION = "1.33.0"
CRD_GROUPS = ("keda.sh/",)

Obj = dict[str, Any]


def _load(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kustomization(directory: Path) -> Obj:
    return dict(yaml.safe_load((directory / "kustomization.yaml").read_text()))


def _base() -> list[Obj]:
    kustomization = _kustomization(K8S / "base")
    objects = [obj for name in kustomization["resources"] for obj in _load(K8S / "base" / name)]
    return _apply_images(objects, kustomization.get("images", []))


def _find(objects: list[Obj], kind: str, name: str) -> Obj:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _merge(base: Any, patch: Any, key: str | None = None) -> Any:
    """Strategic merge for what the overlays use: maps merge, lists of named items
    (containers, env, volumes) merge by name, volumeMounts by mountPath, other lists replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for k, v in patch.items():
            merged[k] = _merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return merged
    if isinstance(base, list) and isinstance(patch, list):
        merge_key = "mountPath" if key == "volumeMounts" else "name"
        if all(isinstance(i, dict) and merge_key in i for i in base + patch):
            merged_list = [copy.deepcopy(i) for i in base]
            for item in patch:
                for index, existing in enumerate(merged_list):
                    if existing[merge_key] == item[merge_key]:
                        merged_list[index] = _merge(existing, item, key)
                        break
                else:
                    merged_list.append(copy.deepcopy(item))
            return merged_list
    return copy.deepcopy(patch)


def _apply_images(objects: list[Obj], images: list[Obj]) -> list[Obj]:
    for obj in objects:
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            for image in images:
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
    return objects


def _render(overlay: str) -> list[Obj]:
    directory = K8S / "overlays" / overlay
    kustomization = _kustomization(directory)
    objects: list[Obj] = []
    for resource in kustomization["resources"]:
        if resource == "../../base":
            objects += _base()
        else:
            objects += _load(directory / resource)
    for patch_ref in kustomization.get("patches", []):
        for patch in _load(directory / patch_ref["path"]):
            target = _find(objects, patch["kind"], patch["metadata"]["name"])
            objects[objects.index(target)] = _merge(target, patch)
    # images are matched by the base's original name "voxserve"
    for obj in objects:
        for container in obj.get("spec", {}).get("template", {}).get("spec", {}).get(
                "containers", []):
            container["image"] = "voxserve"
    return _apply_images(objects, kustomization["images"])


def _core(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if not o["apiVersion"].startswith(CRD_GROUPS)]


@pytest.mark.parametrize("variant", ["base", "cpu", "gpu"])
def test_core_objects_validate_against_kubernetes_schemas(variant: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    objects = _base() if variant == "base" else _render(variant)
    for obj in _core(objects):
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": "voxserve"}}
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{variant} {obj['kind']}/{obj['metadata']['name']}: {exc.message}")


def test_every_file_is_referenced_by_a_kustomization() -> None:
    for directory in [K8S / "base", *(K8S / "overlays").iterdir()]:
        kustomization = _kustomization(directory)
        referenced = set(kustomization["resources"]) | {
            p["path"] for p in kustomization.get("patches", [])}
        on_disk = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
        assert on_disk <= referenced, f"{directory.name}: unreferenced {on_disk - referenced}"
        for name in referenced - {"../../base"}:
            assert (directory / name).is_file(), name


def _container(objects: list[Obj], deployment: str) -> Obj:
    spec = _find(objects, "Deployment", deployment)["spec"]["template"]["spec"]
    [container] = spec["containers"]
    return dict(container)


def test_api_probes_drain_and_resources() -> None:
    objects = _base()
    config = _find(objects, "ConfigMap", "voxserve-config")["data"]
    api = _find(objects, "Deployment", "voxserve-api")["spec"]["template"]["spec"]
    container = _container(objects, "voxserve-api")
    # native gRPC probes on the gRPC port (issue 20): liveness as /healthz, readiness as
    # /readyz (voxserve.rpc.health)
    env = {e["name"]: e.get("value") for e in container["env"]}
    grpc_port = int(env["VOXSERVE_GRPC_PORT"])
    assert {"name": "grpc", "containerPort": grpc_port, "protocol": "TCP"} in container["ports"]
    assert container["livenessProbe"]["grpc"] == {"port": grpc_port, "service": "liveness"}
    assert container["readinessProbe"]["grpc"] == {"port": grpc_port}
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = float(config["VOXSERVE_SHUTDOWN_DRAIN_S"])
    assert api["terminationGracePeriodSeconds"] > drain + pre_stop
    assert api["securityContext"]["runAsNonRoot"] is True
    for name in ("voxserve-api", "voxserve-worker"):
        resources = _container(objects, name)["resources"]
        assert resources["requests"]["cpu"] and resources["limits"]["memory"]
    pod_labels = _find(objects, "Deployment", "voxserve-api")["spec"]["template"]["metadata"][
        "labels"]
    for name in ("voxserve-api", "voxserve-api-grpc"):
        service = _find(objects, "Service", name)
        assert service["spec"]["selector"].items() <= pod_labels.items()
        ports = {port["name"]: port for port in service["spec"]["ports"]}
        assert ports["grpc"]["targetPort"] == "grpc"
        assert ports["grpc"]["appProtocol"] == "kubernetes.io/h2c"
    assert _find(objects, "Service", "voxserve-api-grpc")["spec"]["clusterIP"] == "None"


def test_settings_in_configmaps_and_secrets_are_real(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {f"VOXSERVE_{name.upper()}" for name in Settings.model_fields}
    for variant in ("cpu", "gpu"):
        objects = _render(variant)
        env: dict[str, str] = dict(_find(objects, "ConfigMap", "voxserve-config")["data"])
        secret = _find(objects, "Secret", "voxserve-secrets")["stringData"]
        assert all("REPLACE_ME" in value for value in secret.values())
        env.update(secret)
        for deployment in ("voxserve-api", "voxserve-worker"):
            for item in _container(objects, deployment).get("env", []):
                env[item["name"]] = item["value"]
        for key in env:
            if key.startswith("VOXSERVE_"):
                assert key in names, f"{variant}: not a voxserve setting: {key}"
        for key in [k for k in os.environ if k.startswith("VOXSERVE_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()  # the whole environment is accepted
        assert settings.audit_log in ("file", "none")  # 'database' is not implemented
        if variant == "gpu":
            assert settings.engines == ["piper", "maya1"]


@pytest.mark.parametrize("variant", ["base", "cpu"])
def test_piper_pods_run_one_single_threaded_replica_per_requested_cpu(variant: str) -> None:
    """A CPU quota does not show in the affinity mask, so the manifests set the layout: the
    one bench/serving.py measured cheapest under load (replicas x 1 thread = the request)."""
    objects = _base() if variant == "base" else _render(variant)
    config = _find(objects, "ConfigMap", "voxserve-config")["data"]
    for name in ("voxserve-api", "voxserve-worker"):
        container = _container(objects, name)
        env = {**config, **{item["name"]: item["value"] for item in container.get("env", [])}}
        requested_cpus = int(container["resources"]["requests"]["cpu"])
        assert int(env["VOXSERVE_PIPER_INTRA_OP_THREADS"]) == 1, name
        assert int(env["VOXSERVE_ENGINE_REPLICAS"]) == requested_cpus, name


def test_gpu_overlay() -> None:
    objects = _render("gpu")
    for name in ("voxserve-api", "voxserve-worker"):
        spec = _find(objects, "Deployment", name)["spec"]["template"]["spec"]
        assert spec["nodeSelector"]
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in (
            spec["tolerations"])
        container = spec["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert container["image"].endswith("-cuda")
        assert {"name": "models", "mountPath": "/models", "readOnly": True} in (
            container["volumeMounts"])
        assert any(v["name"] == "data" for v in spec["volumes"])  # base volumes kept
    cpu = _render("cpu")
    assert "nvidia.com/gpu" not in _container(cpu, "voxserve-api")["resources"]["limits"]


def test_hpa_keda_pdb_networkpolicy_ingress() -> None:
    objects = _base()
    hpa = _find(objects, "HorizontalPodAutoscaler", "voxserve-api")
    kinds = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert kinds["Resource"]["resource"]["name"] == "cpu"
    assert kinds["Pods"]["pods"]["metric"]["name"] == "voxserve_in_flight_segments"
    # KEDA (CRD): structural checks
    scaled = _find(objects, "ScaledObject", "voxserve-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "voxserve-worker"
    assert 0 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    config = _find(objects, "ConfigMap", "voxserve-config")["data"]
    assert trigger["metadata"]["queueName"] == config["VOXSERVE_QUEUE_NAME"]
    assert trigger["metadata"]["mode"] in ("QueueLength", "MessageRate")
    assert all(isinstance(v, str) for v in trigger["metadata"].values())
    auth = _find(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    [ref] = auth["spec"]["secretTargetRef"]
    assert ref["parameter"] == "host"
    assert ref["key"] in _find(objects, "Secret", ref["name"])["stringData"]
    # PDBs select real pods
    for pdb in (o for o in objects if o["kind"] == "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
                   for d in objects if d["kind"] == "Deployment")
    # only the ingress controller reaches the API port, only prometheus the metrics port
    # (issue 23: /metrics is on VOXSERVE_METRICS_PORT, apart from the authenticated API)
    policy = _find(objects, "NetworkPolicy", "voxserve-api-ingress")
    rules = {rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]:
             rule["ports"] for rule in policy["spec"]["ingress"]}
    assert rules == {"ingress-nginx": [{"port": 8000, "protocol": "TCP"},
                                       {"port": 50051, "protocol": "TCP"}],
                     "prometheus": [{"port": 9464, "protocol": "TCP"}]}
    api = _find(objects, "Deployment", "voxserve-api")["spec"]["template"]
    env = {e["name"]: e.get("value") for e in api["spec"]["containers"][0]["env"]}
    assert env["VOXSERVE_METRICS_PORT"] == api["metadata"]["annotations"][
        "prometheus.io/port"] == "9464"
    assert _find(objects, "NetworkPolicy", "voxserve-worker-ingress")["spec"]["ingress"] == []
    egress_ports = {p["port"] for r in _find(objects, "NetworkPolicy", "voxserve-egress")[
        "spec"]["egress"] for p in r["ports"]}
    assert {53, 5432, 5672, 6379, 443} <= egress_ports
    ingress = _find(objects, "Ingress", "voxserve")
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    assert ingress["spec"]["tls"][0]["secretName"]
    assert [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]] == ["/v1"]
    grpc_ingress = _find(objects, "Ingress", "voxserve-grpc")
    assert grpc_ingress["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert grpc_ingress["spec"]["tls"][0]["secretName"]  # HTTP/2 through nginx needs TLS
    [grpc_path] = grpc_ingress["spec"]["rules"][0]["http"]["paths"]
    assert grpc_path["path"] == "/voxserve.v1.Speech"  # not health, not reflection
    assert grpc_path["backend"]["service"]["port"]["name"] == "grpc"
