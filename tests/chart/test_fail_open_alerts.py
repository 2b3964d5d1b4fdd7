"""Failing open is visible: with the chart's `failurePolicy: Ignore`, a pod created while
no replica answers is admitted unchecked and its author sees only "created". Two alerts
say so, checked by the real Prometheus rule engine (`promtool test rules`):

- CostwardenWebhookFailingOpen, on the API server's `apiserver_admission_webhook_fail_open_count`
  for costwarden's webhooks — including the first fail-open after an API server (re)start,
  whose series did not exist before it and which `increase()` alone cannot see;
- CostwardenWebhookNoReadyReplica, on kube-state-metrics' available replicas of the
  release's own Deployment: replicas that run but are not ready are scraped as up, yet
  the Service sends them nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.chart.conftest import (
    CHART,
    NAMESPACE,
    Objects,
    Render,
    load_values,
    named,
    only,
    run_promtool,
)

FAIL_OPEN = "apiserver_admission_webhook_fail_open_count"
AVAILABLE = "kube_deployment_status_replicas_available"


@pytest.fixture(scope="module")
def monitored(render: Render) -> Objects:
    return render(load_values(CHART / "ci" / "cert-manager-values.yaml"))


def alert(objects: Objects, name: str) -> dict[str, Any]:
    groups = only(objects, "PrometheusRule")["spec"]["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == name]
    return dict(rule)


def promtool_test(
    objects: Objects,
    promtool: str,
    directory: Path,
    *,
    series: list[tuple[str, str]],
    expectations: list[tuple[int, str, list[dict[str, str]]]],
) -> None:
    """Run the chart's alert rules over `series` (one sample a minute) and check which
    alerts fire at each minute, with which labels."""
    rules = only(objects, "PrometheusRule")["spec"]
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)  # promtool compares them too; labels suffice
    (directory / "rules.yaml").write_text(yaml.safe_dump(rules))
    test_file = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": name,
                        "exp_alerts": [{"exp_labels": labels} for labels in fired],
                    }
                    for minute, name, fired in expectations
                ],
            }
        ],
    }
    (directory / "tests.yaml").write_text(yaml.safe_dump(test_file))
    output = run_promtool(promtool, "test", "rules", "tests.yaml", cwd=directory)
    assert "SUCCESS" in output


def test_failing_open_fires_on_the_first_fail_open_after_an_api_server_start_and_on_more(
    monitored: Objects, promtool: str, tmp_path: Path
) -> None:
    warning = {"severity": "warning"}
    series = [
        # The mutating webhook's counter has long existed (promtool's series start at
        # minute 0, so it counts as new until minute 10) and grows at minute 26.
        (f'{FAIL_OPEN}{{name="mutate.costwarden.io",type="admit"}}', "1x25 3x20"),
        # An API server restarted: no series for the validating webhook until its first
        # fail-open, two requests admitted unchecked at minute 14, none after.
        (f'{FAIL_OPEN}{{name="validate.costwarden.io",type="validating"}}', "_x13 2x31"),
        # Another product's webhooks are not costwarden's business, new or growing.
        (f'{FAIL_OPEN}{{name="validate.other.io",type="validating"}}', "_x13 7x31"),
        (f'{FAIL_OPEN}{{name="validate.costwarden.io.evil.com",type="validating"}}', "0+1x44"),
    ]
    validating = [{**warning, "name": "validate.costwarden.io"}]
    promtool_test(
        monitored,
        promtool,
        tmp_path,
        series=series,
        expectations=[
            (12, "CostwardenWebhookFailingOpen", []),
            (14, "CostwardenWebhookFailingOpen", validating),
            (22, "CostwardenWebhookFailingOpen", validating),
            (25, "CostwardenWebhookFailingOpen", []),  # ten minutes on, nothing new
            (27, "CostwardenWebhookFailingOpen", [{**warning, "name": "mutate.costwarden.io"}]),
            (38, "CostwardenWebhookFailingOpen", []),
        ],
    )


def test_no_ready_replica_fires_when_the_release_deployment_has_none_available(
    monitored: Objects, promtool: str, tmp_path: Path
) -> None:
    deployment = named(monitored, "Deployment", "costwarden")["metadata"]
    ours = f'namespace="{deployment["namespace"]}",deployment="{deployment["name"]}"'
    series = [
        # Two ready, then none from minute 6 to 15 (a bad policy rolled out everywhere,
        # say), then two again.
        (f"{AVAILABLE}{{{ours}}}", "2x5 0x10 2x10"),
        # Another Deployment of the same name elsewhere, and another one here.
        (f'{AVAILABLE}{{namespace="elsewhere",deployment="{deployment["name"]}"}}', "0x25"),
        (f'{AVAILABLE}{{namespace="{NAMESPACE}",deployment="other"}}', "0x25"),
    ]
    critical = {"severity": "critical"}
    promtool_test(
        monitored,
        promtool,
        tmp_path,
        series=series,
        expectations=[
            (5, "CostwardenWebhookNoReadyReplica", []),
            (7, "CostwardenWebhookNoReadyReplica", []),  # pending: for 2m
            (9, "CostwardenWebhookNoReadyReplica", [critical]),
            (15, "CostwardenWebhookNoReadyReplica", [critical]),
            (17, "CostwardenWebhookNoReadyReplica", []),
        ],
    )


@pytest.mark.parametrize("release", ["costwarden", "finops"])
def test_the_alerts_name_the_releases_own_webhooks_deployment_and_namespace(
    render: Render, release: str
) -> None:
    values = load_values(CHART / "ci" / "cert-manager-values.yaml")
    values["webhook"] = {"domain": "cost.example.com"}
    values["metrics"]["prometheusRule"]["noReadyReplicaFor"] = "5m"
    objects = render(values, name=release, namespace="finops-system")
    deployment = only(objects, "Deployment")["metadata"]
    no_ready = alert(objects, "CostwardenWebhookNoReadyReplica")
    assert f'deployment="{deployment["name"]}"' in no_ready["expr"]
    assert 'namespace="finops-system"' in no_ready["expr"]
    assert no_ready["for"] == "5m"
    failing_open = alert(objects, "CostwardenWebhookFailingOpen")["expr"]
    names = {hook["name"] for o in objects if "webhooks" in o for hook in o["webhooks"]}
    # Every webhook that can fail open is matched: all but the approvals check (Fail).
    assert {n for n in names if n.startswith(("validate.", "mutate."))} == {
        "validate.cost.example.com",
        "mutate.cost.example.com",
    }
    assert r"(validate|mutate)\\.cost\\.example\\.com" in failing_open
