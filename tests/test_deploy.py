"""The production path, checked offline: the Kubernetes manifests against the Kubernetes API schemas
(kubernetes-validate, strict), their settings against Settings, and the Grafana dashboard and Prometheus
alerts against the metrics the code really emits."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from activities.metrics import HISTOGRAM_BUCKETS, LATENESS, MESSAGES, PROVIDER_REQUEST
from api.metrics_registry import ApiMetrics
from keeptime.settings import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.33.0"
_METRIC = re.compile(r"\b((?:keeptime|temporal)_[a-z_]+)")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> list[Path]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [K8S / name for name in kustomization["resources"]]


@pytest.mark.parametrize("path", [*_manifests(), K8S / "secret.example.yaml"], ids=lambda p: p.name)
def test_every_manifest_is_valid_kubernetes(path: Path) -> None:
    for document in _documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = {path.name for path in _manifests()}
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present


def test_configmap_and_secret_name_only_real_settings() -> None:
    """A misspelled key would be ignored silently by the app: every key must be a setting (or OTel's)."""
    known = {name.upper() for name in Settings.model_fields} | {"OTEL_EXPORTER_OTLP_ENDPOINT"}
    for name in ("configmap.yaml", "secret.example.yaml"):
        [document] = _documents(K8S / name)
        keys = set(document.get("data", {})) | set(document.get("stringData", {}))
        assert keys <= known, f"{name}: {sorted(keys - known)}"


def test_the_example_secret_and_configmap_are_refused_until_every_placeholder_is_replaced() -> None:
    """Applied as they are, the example manifests must not run: every placeholder secret is named."""
    [configmap] = _documents(K8S / "configmap.yaml")
    [secret] = _documents(K8S / "secret.example.yaml")
    values = {key.lower(): value for key, value in {**configmap["data"], **secret["stringData"]}.items()}
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate(values)
    names = ("ADMIN_API_KEY", "PUSH_RECEIPT_SECRET", "UNSUBSCRIBE_SECRET", "CURSOR_SECRET")
    for name in names:
        assert f"{name} is a published development or example value" in str(refused.value)
    replaced = {name.lower(): secrets.token_hex(32) for name in names}
    assert not Settings.model_validate(values | replaced).development_mode  # it starts, as a deployment


def test_workers_and_api_read_the_same_settings_and_expose_metrics() -> None:
    by_name = {
        doc["metadata"]["name"]: doc
        for path in _manifests()
        for doc in _documents(path)
        if doc["kind"] == "Deployment"
    }
    for name in ("keeptime-api", "keeptime-worker"):
        container = by_name[name]["spec"]["template"]["spec"]["containers"][0]
        assert {"configMapRef": {"name": "keeptime"}} in container["envFrom"], name
        assert {"secretRef": {"name": "keeptime"}} in container["envFrom"], name
        annotations = by_name[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
    [configmap] = _documents(K8S / "configmap.yaml")
    worker = by_name["keeptime-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["ports"][0]["containerPort"] == int(configmap["data"]["WORKER_METRICS_PORT"])


def _known_metrics() -> set[str]:
    api = ApiMetrics()
    names = {metric.name for metric in api.registry.collect()}
    return names | {MESSAGES, LATENESS, PROVIDER_REQUEST}


def _metric_names(expression: str) -> set[str]:
    found = set()
    for name in _METRIC.findall(expression):
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        found.add(base)
    return found


def test_the_dashboard_and_the_alerts_use_only_metrics_that_exist() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "keeptime.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    rules = [rule for group in alerts["groups"] for rule in group["rules"]]
    expressions += [rule["expr"] for rule in rules]
    assert len(rules) == 3
    ours = {name for expr in expressions for name in _metric_names(expr) if name.startswith("keeptime_")}
    assert ours <= _known_metrics(), sorted(ours - _known_metrics())
    # the histograms the dashboard reads by bucket have buckets configured for the runtime's exporter
    assert {LATENESS, PROVIDER_REQUEST} <= set(HISTOGRAM_BUCKETS)
    assert any("keeptime_message_lateness_seconds_bucket" in expr for expr in expressions)
