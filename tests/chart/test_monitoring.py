"""The optional ServiceMonitor scrapes the server's metrics port keeping the pod cost
series' own labels (checked by scraping with a real Prometheus), and the PrometheusRule's
alerts are valid and fire when they should, checked by the real Prometheus rule engine
(promtool)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server
from tests.chart.conftest import (
    CHART,
    NAMESPACE,
    RELEASE,
    Objects,
    Render,
    load_values,
    of_kind,
    only,
    run_promtool,
)
from tests.conftest import ROOT
from tests.integration.prometheus.prometheus_harness import PrometheusServer, require_prometheus

from costwarden.estimating.estimates import Breakdown, Placement, PodEstimate, Requests
from costwarden.metrics import SpendMetrics
from costwarden.spend import queries
from costwarden.spend.prometheus import PrometheusClient
from costwarden.spend.watched_pods import PodCostTracker


@pytest.fixture(scope="module")
def monitored(render: Render) -> Objects:
    return render(load_values(CHART / "ci" / "cert-manager-values.yaml"))


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


def test_alert_and_recording_rules_pass_promtool_check(
    monitored: Objects, promtool: str, tmp_path: Path
) -> None:
    rules = only(monitored, "PrometheusRule")["spec"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    output = run_promtool(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert "SUCCESS: 13 rules found" in output


def recorded(objects: Objects) -> dict[str, str]:
    """The PrometheusRule's recording rules: name -> expression."""
    groups = only(objects, "PrometheusRule")["spec"]["groups"]
    return {r["record"]: r["expr"] for g in groups for r in g["rules"] if "record" in r}


@pytest.mark.parametrize("group", ["cost_centre", "team", "namespace"])
def test_recorded_run_rates_are_the_spend_sources_default_queries(
    monitored: Objects, group: queries.GroupBy
) -> None:
    """So a budget's spend summed from them (docs/budgets.md, "Query cost") is the default's."""
    default = queries.default_run_rate(queries.BudgetQuery("b", group_by=group))
    assert recorded(monitored)[f"costwarden:budget_run_rate:{group}"] == default


def test_recorded_run_rates_count_each_pod_once_and_sum_to_the_default_spend(
    monitored: Objects, promtool: str, tmp_path: Path
) -> None:
    """Two replicas export the same pods; an hour into the period (promtool's clock starts
    at 1970-01-01 00:00 UTC, a month's start), the spend summed from the recorded run-rate
    with the `spent_promql` of docs/budgets.md is the default spent query's over the raw series."""
    groups = only(monitored, "PrometheusRule")["spec"]["groups"]
    rules = {"groups": [g for g in groups if g["name"] == "costwarden.run-rates"]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    train = (
        'namespace="ml-train",pod="train",cost_centre="Sales",team="nlp",'
        'gpu_model="A100",capacity_type="on-demand"'
    )
    serve = (
        'namespace="ml-infer",pod="serve",cost_centre="Sales",team="search",'
        'gpu_model="L4",capacity_type="spot"'
    )
    series = [
        # Both replicas export both pods; serve runs from minute 31 on.
        *(f'costwarden_pod_hourly_cost{{{train},instance="{r}"}}' for r in "ab"),
        *(f'costwarden_pod_hourly_cost{{{serve},instance="{r}"}}' for r in "ab"),
    ]
    # `_x31`: no sample at minutes 0-30; `0.5x29`: 0.5 at minutes 31-60.
    values = ["3x60", "3x60", "_x31 0.5x29", "_x31 0.5x29"]
    hour = datetime(1970, 1, 1, 1, tzinfo=UTC)
    by_centre = queries.BudgetQuery("b", group_by="cost_centre")
    readme = queries.BudgetQuery(
        "b",
        group_by="cost_centre",
        spent_promql="sum by (cost_centre) (sum_over_time("
        "costwarden:budget_run_rate:cost_centre[{{range}}])) / 60",
    )
    spent = 3 * 60 / 60 + 0.5 * 30 / 60  # $ in the hour: 3 $/h for 60 min, 0.5 for 30
    expectations = [
        ("costwarden:budget_run_rate:cost_centre", "60m", {'cost_centre="Sales"': 3.5}),
        ("costwarden:budget_run_rate:team", "60m", {'team="nlp"': 3, 'team="search"': 0.5}),
        (
            "costwarden:budget_run_rate:namespace",
            "60m",
            {'namespace="ml-train"': 3, 'namespace="ml-infer"': 0.5},
        ),
        (
            "costwarden:pod_hourly_cost:gpu_model_capacity_type",
            "60m",
            {
                'gpu_model="A100",capacity_type="on-demand"': 3,
                'gpu_model="L4",capacity_type="spot"': 0.5,
            },
        ),
        (queries.render(by_centre, now=hour).spent, "60m", {'cost_centre="Sales"': spent}),
        (queries.render(readme, now=hour).spent, "60m", {'cost_centre="Sales"': spent}),
    ]
    test_file = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": s, "values": v} for s, v in zip(series, values, strict=True)
                ],
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": at,
                        "exp_samples": [
                            {"labels": f"{name}{{{labels}}}", "value": value}
                            for labels, value in samples.items()
                        ],
                    }
                    for expr, at, samples in expectations
                    for name in [expr if expr.startswith("costwarden:") else ""]
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(test_file))
    output = run_promtool(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert "SUCCESS" in output


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
        # At the current run-rate, Sales ends the period at 1200 against its cap of 1000.
        *(
            (f'costwarden_budget_{name}{{namespace="{ns}",budget="gpu",group="{group}"}}', values)
            for name, group, values in (
                ("projected_cost", "Sales", "1200x40"),
                ("cap_cost", "Sales", "1000x40"),
                ("projected_cost", "RnD", "999x40"),
                ("cap_cost", "RnD", "1000x40"),
            )
        ),
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
    alerts_at(expectations, 25, "CostwardenBudgetProjectedOverCap", [])  # for 30 min first
    alerts_at(
        expectations,
        35,
        "CostwardenBudgetProjectedOverCap",
        [{"severity": "info", "budget": "gpu", "group": "Sales"}],
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


class _Namespaces:
    def labels_for(self, namespace: str) -> Mapping[str, str] | None:
        return {"ml-train": {"cost-centre": "Sales-5045"}}.get(namespace)


def _gpu_pod(name: str, gpus: int) -> dict[str, Any]:
    limits = {"nvidia.com/gpu": gpus}
    return {
        "metadata": {"name": name, "namespace": "ml-train"},
        "spec": {
            "nodeName": "gpu-1",
            "containers": [{"name": "c", "resources": {"limits": limits}}],
        },
        "status": {"phase": "Running"},
    }


def _estimate(
    spec: Mapping[str, Any], annotations: Mapping[str, Any], namespace: str
) -> PodEstimate:
    gpus = int(spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"])
    return PodEstimate(
        requests=Requests(cpu=Decimal(1), memory_gib=Decimal(1)),
        placement=Placement(capacity_type="on-demand", accelerator_model="A100"),
        hourly=Breakdown(Decimal(0), Decimal(0), Decimal("2.5") * gpus),
        currency="USD",
        catalog_version="test",
    )


@pytest.fixture
def two_replicas() -> Iterator[list[str]]:
    """Two webhook replicas' /metrics, each exporting the same two running pods."""
    servers = []
    for _ in range(2):
        registry = CollectorRegistry()
        tracker = PodCostTracker(
            estimate=_estimate, namespaces=_Namespaces(), metrics=SpendMetrics(registry)
        )
        tracker.apply("ADDED", _gpu_pod("train", gpus=2))
        tracker.apply("ADDED", _gpu_pod("serve", gpus=1))
        servers.append(start_http_server(0, "127.0.0.1", registry))
    yield [f"127.0.0.1:{server.server_address[1]}" for server, _ in servers]
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.prometheus
async def test_scraped_as_the_service_monitor_says_pod_costs_keep_their_own_namespace_and_pod(
    monitored: Objects, two_replicas: list[str], tmp_path: Path
) -> None:
    """The operator attaches each scraped replica's own namespace and pod name to its
    series; the pod cost series name the running pod's. Unless the ServiceMonitor honours
    the exported labels, Prometheus renames those to exported_namespace / exported_pod:
    the default queries would then count each pod once per replica, all of it in the
    release namespace, and never see a reserved pod running."""
    require_prometheus()
    (endpoint,) = only(monitored, "ServiceMonitor")["spec"]["endpoints"]
    server = PrometheusServer(
        tmp_path,
        blocks=None,
        scrape=tuple(two_replicas),
        target_labels={
            target: {"namespace": NAMESPACE, "pod": f"costwarden-5d8f7-{i}", "service": RELEASE}
            for i, target in enumerate(two_replicas)
        },
        honor_labels=endpoint.get("honorLabels", False),  # the operator's default
    )
    server.start()
    client = PrometheusClient(server.url)
    pods = queries.visible_pods(queries.POD_HOURLY_COST, ["train", "serve"])

    async def scraped_twice() -> None:  # both replicas' series are in
        while len(await client.query("up == 1", time=datetime.now(UTC), allow_empty=True)) < 2:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)

    try:
        await asyncio.wait_for(scraped_twice(), timeout=60)
        now = datetime.now(UTC)
        by_namespace = queries.default_run_rate(queries.BudgetQuery("ns", group_by="namespace"))
        assert await client.query_by(by_namespace, time=now, label="namespace") == {
            "ml-train": Decimal("7.5")
        }
        by_centre = queries.default_run_rate(queries.BudgetQuery("cc", group_by="cost_centre"))
        assert await client.query_by(by_centre, time=now, label="cost_centre") == {
            "Sales-5045": Decimal("7.5")
        }
        (visible,) = pods
        shown = await client.query(visible, time=now, allow_empty=True)
        assert sorted((s.labels["namespace"], s.labels["pod"]) for s in shown) == [
            ("ml-train", "serve"),
            ("ml-train", "train"),
        ]
    finally:
        await client.aclose()
        server.stop()
