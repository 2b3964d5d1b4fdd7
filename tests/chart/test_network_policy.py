"""The optional NetworkPolicy keeps the metrics port (spend figures over plain HTTP) to the
peers named in networkPolicy.metricsFrom, and never cuts the API server off the webhook
port unless told who the API server is. Rendered by the real Helm engine; the object is
validated for every claimed Kubernetes version with the other ci variants
(cert-manager-values.yaml enables it)."""

from __future__ import annotations

from typing import Any

from tests.chart.conftest import CHART, Objects, Render, load_values, of_kind, only

MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}


def policy(render: Render, **network: Any) -> dict[str, Any]:
    return only(render({"networkPolicy": {"enabled": True, **network}}), "NetworkPolicy")


def rules_for(spec: dict[str, Any], port: str) -> list[dict[str, Any]]:
    return [rule for rule in spec["ingress"] if any(p["port"] == port for p in rule["ports"])]


def test_there_is_no_network_policy_unless_asked(defaults: Objects) -> None:
    assert of_kind(defaults, "NetworkPolicy") == []


def test_it_selects_the_server_pods_and_names_their_ports(render: Render) -> None:
    objects = render({"networkPolicy": {"enabled": True}})
    spec = only(objects, "NetworkPolicy")["spec"]
    pod = only(objects, "Deployment")["spec"]["template"]
    assert spec["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert spec["policyTypes"] == ["Ingress"]  # outgoing calls (API server, Prometheus) alone
    (container,) = pod["spec"]["containers"]
    named_ports = {port["name"] for port in container["ports"]}
    assert {p["port"] for rule in spec["ingress"] for p in rule["ports"]} == named_ports


def test_by_default_the_metrics_port_is_for_the_monitoring_namespace_and_the_webhook_for_all(
    render: Render,
) -> None:
    spec = policy(render)["spec"]
    (metrics,) = rules_for(spec, "metrics")
    assert metrics["from"] == [MONITORING]
    (webhook,) = rules_for(spec, "webhook")
    assert "from" not in webhook  # the API server's address is the cluster's business
    assert [p["port"] for p in webhook["ports"]] == ["webhook"]


def test_no_metrics_peers_leaves_the_metrics_port_to_the_nodes_probes_never_open(
    render: Render,
) -> None:
    """An ingress rule without `from` admits every source: with no peers the metrics port
    must get no rule at all, not an empty one."""
    spec = policy(render, metricsFrom=[])["spec"]
    assert rules_for(spec, "metrics") == []
    for rule in spec["ingress"]:
        if "from" not in rule:
            assert [p["port"] for p in rule["ports"]] == ["webhook"]


def test_the_webhook_port_can_be_kept_to_the_control_planes_addresses(render: Render) -> None:
    values = load_values(CHART / "ci" / "cert-manager-values.yaml")
    spec = only(render(values), "NetworkPolicy")["spec"]
    (webhook,) = rules_for(spec, "webhook")
    assert webhook["from"] == [{"ipBlock": {"cidr": "10.0.0.0/24"}}]
    (metrics,) = rules_for(spec, "metrics")
    assert metrics["from"] == [MONITORING]
