"""Every voxserve_* metric the Grafana dashboard and the Prometheus alerts use is one the
server really exports (read from a live /metrics), and alerts.yml is a valid rule file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.api_tools import ready_client
from voxserve.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
METRIC = re.compile(r"\b(voxserve_[a-z0-9_]+)\b")
BROKER_METRIC = re.compile(r"\b(rabbitmq_[a-z0-9_]+)\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Exported by RabbitMQ's rabbitmq_prometheus plugin (/metrics/detailed), not by voxserve.
BROKER_METRICS = {
    "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked",
    "rabbitmq_detailed_queue_messages",
    "rabbitmq_detailed_queue_consumers",
}


def _alert_rules() -> list[dict[str, object]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "voxserve.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"]
             for target in panel.get("targets", [])]
    exprs += [variable["definition"] for variable in dashboard["templating"]["list"]]
    return exprs


def _used_names(exprs: list[str]) -> set[str]:
    names = set()
    for expr in exprs:
        for name in METRIC.findall(expr):
            for suffix in HISTOGRAM_SUFFIXES:
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
                    break
            names.add(name)
    return names


def _gpu_metric_names() -> set[str]:
    source = (REPO / "src" / "voxserve" / "gpu_metrics.py").read_text()
    return set(re.findall(r'GaugeMetricFamily\(\s*"(voxserve_gpu_[a-z0-9_]+)"', source))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("deploy-metrics"), engines=["fake"],
                        default_model="fake")
    with ready_client(settings, timeout_s=30) as client:
        speech = client.post("/v1/audio/speech",
                             json={"input": "Hello.", "response_format": "pcm"})
        assert speech.status_code == 200, speech.text
        text = client.get("/metrics").text
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        names.update(sample.name for sample in family.samples)
    yield names


def test_gpu_allow_list_is_exactly_gpu_metrics_py() -> None:
    assert _gpu_metric_names() == {
        "voxserve_gpu_utilization_ratio",
        "voxserve_gpu_memory_used_bytes",
        "voxserve_gpu_memory_total_bytes",
    }


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_metric_used_is_exported(source: str, exported: set[str]) -> None:
    exprs = (_dashboard_exprs() if source == "dashboard"
             else [str(rule["expr"]) for rule in _alert_rules()])
    used = _used_names(exprs)
    assert used, source
    gpu = _gpu_metric_names()
    missing = sorted(name for name in used - gpu if name not in exported)
    assert not missing, f"{source} uses metrics /metrics does not export: {missing}"
    broker = {name for expr in exprs for name in BROKER_METRIC.findall(expr)}
    assert broker <= BROKER_METRICS, broker - BROKER_METRICS


def test_dashboard_covers_the_key_series() -> None:
    used = _used_names(_dashboard_exprs())
    assert {
        "voxserve_http_requests_total", "voxserve_http_request_duration_seconds",
        "voxserve_time_to_first_audio_seconds", "voxserve_queue_depth",
        "voxserve_in_flight_segments", "voxserve_rejected_requests_total",
        "voxserve_cache_hits_total", "voxserve_cache_misses_total",
        "voxserve_real_time_factor",
    } | _gpu_metric_names() <= used
    exprs = " ".join(_dashboard_exprs())
    assert "voxserve_http_request_duration_seconds_bucket" in exprs
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in exprs
    assert 'voxserve_queue_depth{instance=~"$instance", priority="batch"}' in exprs


def _balanced(expr: str) -> bool:
    opening = "({["
    closing = {")": "(", "}": "{", "]": "["}
    stack: list[str] = []
    in_string = False
    for char in expr:
        if char == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif char in opening:
            stack.append(char)
        elif char in closing and (not stack or stack.pop() != closing[char]):
            return False
    return not stack and not in_string


def test_alert_rules_structure() -> None:
    document = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert set(document) == {"groups"}
    group_names = [group["name"] for group in document["groups"]]
    assert len(group_names) == len(set(group_names))
    rules = _alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    duration = re.compile(r"^\d+[smhdw]$")
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations",
                             "keep_firing_for"}, rule
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(rule["alert"]))
        expr = str(rule["expr"])
        assert _balanced(expr), rule["alert"]
        assert duration.match(str(rule.get("for", "0m")))
        labels = rule["labels"]
        assert isinstance(labels, dict)
        assert labels["severity"] in ("warning", "critical")
        annotations = rule["annotations"]
        assert isinstance(annotations, dict) and annotations["summary"]
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert duration.match(window), (rule["alert"], window)
    # the SLO set asked for
    exprs = " ".join(str(rule["expr"]) for rule in rules)
    for needle in ("voxserve_time_to_first_audio_seconds_bucket",
                   "voxserve_http_request_duration_seconds_bucket", 'status=~"5..',
                   "voxserve_rejected_requests_total", "voxserve_queue_depth",
                   "voxserve_engine_errors_total", "voxserve_cache_errors_total", "up{"):
        assert needle in exprs, needle
