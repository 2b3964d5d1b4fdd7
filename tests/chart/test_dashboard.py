"""costwarden's Grafana dashboard: the chart ships it for the Grafana sidecar, every panel's
query is PromQL the real Prometheus engine accepts (promtool), it names only metrics that
exist, and its key panels give the right figures from two replicas' series."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from tests.chart.conftest import (
    CHART,
    NAMESPACE,
    Objects,
    Render,
    load_values,
    only,
    run_promtool,
)
from tests.conftest import ROOT

DASHBOARD = CHART / "dashboards" / "costwarden.json"
GRAFANA_VARIABLES = {"__rate_interval": "5m"}
"""Grafana's own variables the panels use, as Grafana would fill them in."""


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def variables(board: dict[str, Any]) -> dict[str, str]:
    """Each dashboard variable as its default fills it in: "All" for a query variable (its
    allValue), the text of a textbox."""
    filled = dict(GRAFANA_VARIABLES)
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            filled[variable["name"]] = variable["allValue"]
        elif variable["type"] == "textbox":
            filled[variable["name"]] = variable["query"]
    return filled


def filled(expr: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


def panel_queries(board: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(panel title, refId) -> the query, variables filled in."""
    values = variables(board)
    return {
        (panel["title"], target["refId"]): filled(target["expr"], values)
        for panel in board["panels"]
        for target in panel.get("targets", [])
    }


def test_the_chart_ships_the_dashboard_for_the_grafana_sidecar_only_when_asked(
    defaults: Objects, render: Render
) -> None:
    assert not [o for o in defaults if o["metadata"]["name"].endswith("-dashboard")]
    values = load_values(CHART / "ci" / "cert-manager-values.yaml")
    values["metrics"]["grafanaDashboard"]["namespace"] = "monitoring"
    config_map = only(
        [o for o in render(values) if o["metadata"]["name"].endswith("-dashboard")], "ConfigMap"
    )
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "FinOps"}
    assert json.loads(config_map["data"]["costwarden.json"]) == dashboard()
    values["metrics"]["grafanaDashboard"]["namespace"] = ""
    defaulted = [o for o in render(values) if o["metadata"]["name"].endswith("-dashboard")]
    assert defaulted[0]["metadata"]["namespace"] == NAMESPACE


def test_money_panels_show_the_currency_of_the_price_catalog(render: Render) -> None:
    values = load_values(CHART / "ci" / "cert-manager-values.yaml")
    values["metrics"]["grafanaDashboard"]["currency"] = "EUR"
    config_map = only(
        [o for o in render(values) if o["metadata"]["name"].endswith("-dashboard")], "ConfigMap"
    )
    units = {
        panel["title"]: panel["fieldConfig"]["defaults"].get("unit")
        for panel in json.loads(config_map["data"]["costwarden.json"])["panels"]
        if panel["type"] != "row"
    }
    shipped = {
        panel["title"]: panel["fieldConfig"]["defaults"].get("unit")
        for panel in dashboard()["panels"]
        if panel["type"] != "row"
    }
    money = {title for title, unit in shipped.items() if unit == "currencyUSD"}
    assert {
        "Spent, projected and cap",
        "Cost per hour by cost centre",
        "Most expensive running pods",
    } <= money
    assert {title for title, unit in units.items() if unit == "currencyEUR"} == money
    assert {t: u for t, u in units.items() if t not in money} == {
        t: u for t, u in shipped.items() if t not in money
    }


def test_every_panel_query_is_promql_the_prometheus_engine_accepts(
    promtool: str,
    tmp_path: Path,
) -> None:
    queries = panel_queries(dashboard())
    assert len(queries) >= 20
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard_query_{i}", "expr": expr}
                    for i, expr in enumerate(queries.values())
                ],
            }
        ]
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    output = run_promtool(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert f"SUCCESS: {len(queries)} rules found" in output


def test_the_dashboard_names_only_metrics_the_server_defines_or_the_alerts_read(
    render: Render,
) -> None:
    text = "\n".join(panel_queries(dashboard()).values())
    ours = {re.sub(r"_bucket$", "", m) for m in re.findall(r"\bcostwarden_[a-z_]+", text)}
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "costwarden").rglob("*.py"))
    assert ours
    assert ours <= set(re.findall(r'"(costwarden_[a-z_]+)"', source))
    # The API server's own metrics: the ones the chart's alerts are written against.
    rules = only(render(load_values(CHART / "ci" / "cert-manager-values.yaml")), "PrometheusRule")
    theirs = set(re.findall(r"\bapiserver_[a-z_]+", text))
    assert theirs
    assert theirs <= set(re.findall(r"\bapiserver_[a-z_]+", yaml.safe_dump(rules)))


def test_every_variable_a_query_uses_is_defined_and_every_panel_reads_the_chosen_source() -> None:
    board = dashboard()
    names = {variable["name"] for variable in board["templating"]["list"]} | set(GRAFANA_VARIABLES)
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert set(re.findall(r"\$\{?(\w+)", target["expr"])) <= names, panel["title"]
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert {"datasource", "namespace", "cost_centre", "webhooks"} <= names


def test_panels_have_their_own_ids_and_places_on_the_grid() -> None:
    taken: dict[tuple[int, int], str] = {}
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


def test_key_panels_give_the_right_figures_from_two_replicas(
    promtool: str,
    tmp_path: Path,
) -> None:
    """Every replica exports the budget gauges and the running pods alike, but holds its
    own reservations and counts its own reviews: the panels take the max of the first and
    the sum of the others."""
    queries = panel_queries(dashboard())
    train = 'namespace="ml-train",pod="train",cost_centre="Sales",team="nlp",gpu_model="A100",capacity_type="on-demand"'  # noqa: E501
    serve = 'namespace="ml-infer",pod="serve",cost_centre="Retail",team="search",gpu_model="L4",capacity_type="spot"'  # noqa: E501
    budget = 'budget="gpu",group="Sales"'
    series: list[tuple[str, str]] = []
    for replica, reserved, reviews in (("a", "100", "0+60x10"), ("b", "50", "0+120x10")):
        series += [
            (f'costwarden_pod_hourly_cost{{{train},instance="{replica}"}}', "3x10"),
            (f'costwarden_pod_hourly_cost{{{serve},instance="{replica}"}}', "1x10"),
            (f'costwarden_budget_utilisation_ratio{{{budget},instance="{replica}"}}', "0.5x10"),
            (f'costwarden_budget_reserved_cost{{{budget},instance="{replica}"}}', f"{reserved}x10"),
            # Each replica projects with its own reservations: the panel shows the highest.
            (
                f'costwarden_budget_projected_cost{{{budget},instance="{replica}"}}',
                f"{900 + int(reserved)}x10",
            ),
            (
                "costwarden_admission_requests_total"
                f'{{webhook="validate",decision="allowed",instance="{replica}"}}',
                reviews,  # 60 and 120 a minute
            ),
        ]
    expectations = {
        ("Budget utilisation (spent / cap)", "A"): [('{budget="gpu",group="Sales"}', 0.5)],
        ("Reserved, not yet in the spend data", "A"): [('{budget="gpu",group="Sales"}', 150)],
        ("Spent, projected and cap", "C"): [('{budget="gpu",group="Sales"}', 1000)],
        ("Cost per hour by cost centre", "A"): [
            ('{cost_centre="Retail"}', 1),
            ('{cost_centre="Sales"}', 3),
        ],
        ("Cost per hour by GPU model and capacity type", "A"): [
            ('{gpu_model="A100",capacity_type="on-demand"}', 3),
            ('{gpu_model="L4",capacity_type="spot"}', 1),
        ],
        ("Most expensive running pods", "A"): [
            ("{" + train + "}", 3),
            ("{" + serve + "}", 1),
        ],
        ("Reviews per second by decision", "A"): [('{webhook="validate",decision="allowed"}', 3)],
    }
    test_file = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {
                        "expr": queries[panel],
                        "eval_time": "10m",
                        "exp_samples": [{"labels": labels, "value": v} for labels, v in samples],
                    }
                    for panel, samples in expectations.items()
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(test_file))
    output = run_promtool(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert "SUCCESS" in output
