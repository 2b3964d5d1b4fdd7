"""Contradictory values fail at render with a message that says what to set."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from tests.chart.conftest import Render

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "cert-manager and generated certificates",
        {"certManager": {"enabled": True}},
        ["conflicting certificate sources", "tls.selfSigned.enabled=false"],
    ),
    (
        "an existing secret and generated certificates",
        {"tls": {"existingSecret": "mine", "caBundle": CA_PEM}},
        ["conflicting certificate sources", "tls.existingSecret=mine"],
    ),
    (
        "cert-manager and an existing secret",
        {
            "certManager": {"enabled": True},
            "tls": {"selfSigned": {"enabled": False}, "existingSecret": "mine"},
        },
        ["conflicting certificate sources", "certManager.enabled=true"],
    ),
    (
        "no certificate source",
        {"tls": {"selfSigned": {"enabled": False}}},
        ["no certificate source", "certManager.enabled=true"],
    ),
    (
        "an existing secret without its CA",
        {"tls": {"selfSigned": {"enabled": False}, "existingSecret": "mine"}},
        ["set tls.caBundle"],
    ),
    (
        "a CA bundle without an existing secret",
        {"tls": {"caBundle": CA_PEM}},
        ["unset tls.caBundle"],
    ),
    (
        "an issuer without cert-manager",
        {"certManager": {"issuerRef": {"name": "internal-ca", "kind": "ClusterIssuer"}}},
        ["set certManager.enabled=true", "unset certManager.issuerRef"],
    ),
    (
        "one replica with the default PDB",
        {"replicaCount": 1},
        ["would block every node drain", "podDisruptionBudget.enabled=false"],
    ),
    (
        "a PDB keeping every replica",
        {"replicaCount": 3, "podDisruptionBudget": {"minAvailable": 3}},
        ["minAvailable=3 with replicaCount=3", "set replicaCount to at least 4"],
    ),
    (
        "failing closed on one replica without acknowledgement",
        {
            "replicaCount": 1,
            "podDisruptionBudget": {"enabled": False},
            "webhook": {"failurePolicy": "Fail"},
        },
        ["webhook.acknowledgeSingleReplicaFailClosed=true", "replicaCount>=2"],
    ),
    (
        "a fail-closed mutating webhook on one replica without acknowledgement",
        {
            "replicaCount": 1,
            "podDisruptionBudget": {"enabled": False},
            "webhook": {"mutating": {"failurePolicy": "Fail"}},
        },
        ["webhook.acknowledgeSingleReplicaFailClosed=true"],
    ),
    (
        "an existing policy ConfigMap and inline policy files",
        {"policies": {"existingConfigMap": "p", "files": {"a.yaml": "x: 1"}}},
        ["unset policies.existingConfigMap"],
    ),
    (
        "an existing catalog ConfigMap and inline catalog files",
        {"catalog": {"existingConfigMap": "c", "files": {"a.yaml": "x: 1"}}},
        ["unset catalog.existingConfigMap"],
    ),
    (
        "the webhook and metrics on one port",
        {"webhook": {"port": 9000}, "metrics": {"port": 9000}},
        ["both 9000", "different ports"],
    ),
]


@pytest.mark.parametrize(("values", "messages"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_contradictory_values_fail_with_a_message_saying_what_to_set(
    helm: ModuleType, render: Render, values: dict[str, Any], messages: list[str]
) -> None:
    with pytest.raises(helm.HelmRenderError) as failure:
        render(values)
    for message in messages:
        assert message in str(failure.value)


def test_acknowledged_single_replica_fail_closed_renders(render: Render) -> None:
    objects = render(
        {
            "replicaCount": 1,
            "podDisruptionBudget": {"enabled": False},
            "webhook": {"failurePolicy": "Fail", "acknowledgeSingleReplicaFailClosed": True},
        }
    )
    assert any(o["kind"] == "ValidatingWebhookConfiguration" for o in objects)


def test_a_percentage_pdb_is_left_to_the_api_server(render: Render) -> None:
    objects = render({"podDisruptionBudget": {"minAvailable": "50%"}})
    (pdb,) = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["minAvailable"] == "50%"
