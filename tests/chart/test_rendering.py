"""The chart lints clean, renders with every values variant, and every object it renders is
valid for every Kubernetes version the chart claims (kubernetes-validate's schemas)."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from tests.chart.conftest import CHART, CI_VALUES, Objects, Render, load_values
from tests.conftest import require

# Objects of CRDs kubernetes-validate has no schema for; each has its own test.
CRD_KINDS = {"Issuer", "Certificate", "ServiceMonitor", "PrometheusRule"}


def kubernetes_validate() -> ModuleType:
    try:
        import kubernetes_validate
    except ImportError:
        require(False, what="kubernetes-validate", install="pip install -e .[dev]")
        raise
    return kubernetes_validate


def claimed_versions() -> list[str]:
    """Every Kubernetes minor kubernetes-validate knows that the chart's kubeVersion admits."""
    utils = kubernetes_validate().utils
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    match = re.fullmatch(r">=\s*1\.(\d+)\.0-0", constraint)
    assert match, f"kubeVersion {constraint!r}: expected the form '>=1.N.0-0'"
    oldest = int(match.group(1))
    known = sorted({utils.major_minor(v) for v in utils.all_versions()}, key=lambda v: int(v[2:]))
    return [v for v in known if int(v.split(".")[1]) >= oldest]


def variant_id(path: Path) -> str:
    return path.name.removesuffix("-values.yaml")


@pytest.fixture(
    scope="module", params=[None, *CI_VALUES], ids=["defaults", *map(variant_id, CI_VALUES)]
)
def variant(request: pytest.FixtureRequest, render: Render) -> Objects:
    values = load_values(request.param) if request.param else {}
    return render(values)


def test_chart_lints_clean_with_default_and_every_ci_values_file(helm: ModuleType) -> None:
    for values_file in [None, *CI_VALUES]:
        values = load_values(values_file) if values_file else None
        report = helm.lint(str(CHART), values, strict=True, namespace="costwarden-system")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not problems, f"{values_file}: {problems}"
        assert not report["errors"], f"{values_file}: {report['errors']}"


def test_chart_claims_versions_that_kubernetes_validate_can_check() -> None:
    versions = claimed_versions()
    assert len(versions) >= 3, versions


def test_every_rendered_object_is_valid_for_every_claimed_kubernetes_version(
    variant: Objects,
) -> None:
    validator = kubernetes_validate()
    checked = 0
    for version in claimed_versions():
        for obj in variant:
            if obj["kind"] in CRD_KINDS:
                continue
            validator.validate(obj, f"{version}.0", strict=True)
            checked += 1
    assert checked >= 3 * len(claimed_versions())


def test_kubernetes_validate_rejects_a_broken_rendered_object(defaults: Objects) -> None:
    """The validation above can fail: a misspelt field in a rendered webhook is caught."""
    validator = kubernetes_validate()
    config: dict[str, Any] = next(
        o for o in defaults if o["kind"] == "ValidatingWebhookConfiguration"
    )
    broken = yaml.safe_load(yaml.safe_dump(config))
    broken["webhooks"][0]["sideEffect"] = broken["webhooks"][0].pop("sideEffects")
    with pytest.raises(validator.ValidationError):
        validator.validate(broken, f"{claimed_versions()[0]}.0", strict=True)


def test_only_known_custom_resources_escape_schema_validation(variant: Objects) -> None:
    custom = {o["kind"] for o in variant if "." in o["apiVersion"].split("/")[0]}
    custom -= {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
    custom -= {"ClusterRole", "ClusterRoleBinding", "NetworkPolicy"}
    assert custom <= CRD_KINDS


def test_cert_manager_objects_use_the_v1_api_with_the_fields_cert_manager_requires(
    render: Render,
) -> None:
    objects = render(load_values(CHART / "ci" / "cert-manager-values.yaml"))
    certificate = next(o for o in objects if o["kind"] == "Certificate")
    issuer = next(o for o in objects if o["kind"] == "Issuer")
    assert certificate["apiVersion"] == issuer["apiVersion"] == "cert-manager.io/v1"
    assert {"secretName", "issuerRef", "dnsNames"} <= set(certificate["spec"])
    assert certificate["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    assert issuer["spec"] == {"selfSigned": {}}


def test_schema_rejects_misspelt_values_at_every_level(helm: ModuleType, chart: Any) -> None:
    for misspelt in (
        {"replicaCont": 3},
        {"webhook": {"failurPolicy": "Fail"}},
        {"webhook": {"mutating": {"timeout": 2}}},
        {"tls": {"selfSigned": {"validity": 10}}},
        {"metrics": {"prometheusRule": {"enable": True}}},
    ):
        with pytest.raises(helm.HelmValuesError, match="additional properties"):
            chart.validate_schema(misspelt)


def test_schema_rejects_out_of_range_and_unknown_choices(helm: ModuleType, chart: Any) -> None:
    for bad in (
        {"webhook": {"failurePolicy": "Deny"}},
        {"webhook": {"timeoutSeconds": 31}},
        {"webhook": {"timeoutSeconds": 0}},
        {"budgets": {"staleDataDefault": "block"}},
        {"logLevel": "trace"},
        {"replicaCount": 0},
        {"policies": {"files": {"bad/name.yaml": "x"}}},
        {"certManager": {"issuerRef": {"kind": "ClusterIssuer"}}},
        {"tls": {"caBundle": "not a certificate"}},
        {"image": {"digest": "latest"}},
    ):
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(bad)


def test_default_values_and_every_ci_values_file_satisfy_the_schema(chart: Any) -> None:
    chart.validate_schema({})
    for values_file in CI_VALUES:
        chart.validate_schema(load_values(values_file))


PASS_THROUGH = {"affinity", "tolerations", "topologySpreadConstraints"}
PASS_THROUGH |= {"networkPolicy.metricsFrom[]", "networkPolicy.webhookFrom[]"}  # peers


def test_schema_closes_every_object_except_kubernetes_pass_through_fields(chart: Any) -> None:
    open_objects: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        if path in PASS_THROUGH:
            return
        if node.get("type") == "object" and "properties" in node:
            if node.get("additionalProperties") is not False:
                open_objects.append(path)
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}" if path else key)
        elif node.get("type") == "object" and "additionalProperties" not in node:
            open_objects.append(path)
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, f"{path}[]")

    walk(chart.schema, "")
    assert open_objects == []
