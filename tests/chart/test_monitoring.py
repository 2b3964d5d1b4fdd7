"""The optional ServiceMonitor scrapes the server's metrics port, and the PrometheusRule's
alerts are valid and fire when they should, checked by the real Prometheus rule engine
(promtool)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.chart.conftest import CHART, NAMESPACE, Objects, Render, load_values, of_kind, only
from tests.conftest import ROOT, require


@pytest.fixture(scope="module")
def monitored(render: Render) -> Objects:
    return render(load_values(CHART / "ci" / "cert-manager-values.yaml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    require(path is not None, what="promtool", install="apt-get install -y prometheus")
    assert path is not None
    return path


def run_promtool(promtool: str, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_monitoring_objects_are_off_by_default(defaults: Objects) -> None:
    assert of_kind(defaults, "ServiceMonitor") == []
    assert of_kind(defaults, "PrometheusRule") == []


def test_service_monitor_scrapes_the_metrics_port_of_the_release_service(
    monitored: Objects,
) -> None:
    monitor = only(monitored, "ServiceMonitor")
    service = only(monitored, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_alert_rules_pass_promtool_check(monitored: Objects, promtool: str, tmp_path: Path) -> None:
    rules = only(monitored, "PrometheusRule")["spec"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    output = run_promtool(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert "SUCCESS: 7 rules found" in output


def alerts_at(
    tests: list[dict[str, Any]], minute: int, name: str, labels: list[dict[str, str]]
) -> None:
    tests.append(
        {
            "eval_time": f"{minute}m",
            "alertname": name,
            "exp_alerts": [{"exp_labels": label} for label in labels],
        }
    )


def test_alerts_fire_on_failing_open_budgets_near_cap_and_an_absent_server(
    monitored: Objects, promtool: str, tmp_path: Path
) -> None:
    rules = only(monitored, "PrometheusRule")["spec"]
    # promtool compares annotations too; this test is about when alerts fire.
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    ns = NAMESPACE
    series = [
        # Our webhook fails open at minute 3; someone else's webhook is not our business.
        (
            'apiserver_admission_webhook_fail_open_count{name="validate.costwarden.io"}',
            "0 0 0 4x20",
        ),
        ('apiserver_admission_webhook_fail_open_count{name="validate.other.io"}', "0+5x23"),
        (
            f'costwarden_budget_utilisation_ratio{{namespace="{ns}",budget="gpu",group="Sales"}}',
            "0.95x30",
        ),
        (
            f'costwarden_budget_utilisation_ratio{{namespace="{ns}",budget="gpu",group="RnD"}}',
            "0.5x30",
        ),
        (
            f'costwarden_policy_reload_success{{namespace="{ns}",pod="a",source="policies"}}',
            "1x5 0x25",
        ),
        (f'costwarden_policy_reload_success{{namespace="{ns}",pod="a",source="catalog"}}', "1x30"),
        # Scraped for 10 minutes, then gone.
        (f'up{{job="costwarden",namespace="{ns}"}}', "1x10"),
    ]
    expectations: list[dict[str, Any]] = []
    warning = {"severity": "warning"}
    alerts_at(
        expectations,
        5,
        "CostwardenWebhookFailingOpen",
        [{**warning, "name": "validate.costwarden.io"}],
    )
    alerts_at(expectations, 20, "CostwardenWebhookFailingOpen", [])
    alerts_at(expectations, 10, "CostwardenBudgetNearCap", [])
    alerts_at(
        expectations,
        20,
        "CostwardenBudgetNearCap",
        [{**warning, "budget": "gpu", "group": "Sales"}],
    )
    alerts_at(expectations, 8, "CostwardenPolicyReloadFailing", [])
    reload = {**warning, "namespace": ns, "pod": "a", "source": "policies"}
    alerts_at(expectations, 12, "CostwardenPolicyReloadFailing", [reload])
    alerts_at(expectations, 8, "CostwardenWebhookDown", [])
    alerts_at(
        expectations,
        25,
        "CostwardenWebhookDown",
        [{"severity": "critical"}],
    )
    test_file = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": expectations,
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(test_file))
    output = run_promtool(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert "SUCCESS" in output


def test_alerts_use_only_metrics_the_server_defines(monitored: Objects) -> None:
    rules = only(monitored, "PrometheusRule")["spec"]
    used = set(re.findall(r"\bcostwarden_[a-z_]+", yaml.safe_dump(rules)))
    assert used
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "costwarden").rglob("*.py"))
    defined = set(re.findall(r'"(costwarden_[a-z_]+)"', source))
    assert used <= defined
