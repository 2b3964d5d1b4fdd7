"""The requiredLabels rule: mandatory/discretionary keys, values, patterns, inheritance,
near-miss hints and the PII guard."""

from __future__ import annotations

import jsonpatch
import pytest

from costwarden.engine.contexts import StaticNamespaces

COST_LABELS = {
    "name": "cost-labels",
    "requiredLabels": {
        "labels": [
            {
                "key": "cost-centre",
                "pattern": "^[A-Z][A-Za-z]+-[0-9]{4}$",
                "inheritFromNamespace": True,
            },
            {"key": "team", "inheritFromNamespace": True},
            {"key": "env", "required": False, "values": ["dev", "prod"]},
        ]
    },
}


def test_denies_pod_without_a_mandatory_label_its_namespace_lacks_too(pod, policies, judge):
    verdict = judge(pod(namespace="bare", labels={"team": "nlp"}), policies(COST_LABELS))
    assert not verdict.allowed
    (violation,) = verdict.denials
    assert violation.message.startswith(
        "[cost-labels] missing mandatory label cost-centre (neither the pod nor namespace bare "
        "has it) — add label cost-centre matching ^[A-Z][A-Za-z]+-[0-9]{4}$ to the pod "
        "(template) or to namespace bare"
    )


def test_allows_pod_with_every_mandatory_label_and_no_discretionary_one(pod, policies, judge):
    verdict = judge(
        pod(namespace="bare", labels={"cost-centre": "Sales-5045", "team": "nlp"}),
        policies(COST_LABELS),
    )
    assert verdict.allowed
    assert verdict.violations == ()


def test_discretionary_label_is_checked_only_when_present(pod, policies, judge):
    labels = {"cost-centre": "Sales-5045", "team": "nlp", "env": "qa"}
    verdict = judge(pod(namespace="bare", labels=labels), policies(COST_LABELS))
    (violation,) = verdict.denials
    assert "label env=qa is not an allowed value — use one of: dev, prod" in violation.message


def test_pod_inherits_missing_labels_from_its_namespace_and_gets_them_patched(pod, policies, judge):
    obj = pod(namespace="ml-train", labels={"app": "x"})
    verdict = judge(obj, policies(COST_LABELS))
    assert verdict.allowed
    patched = jsonpatch.apply_patch(obj, _ops(verdict))
    assert patched["metadata"]["labels"] == {"app": "x", "cost-centre": "Sales-5045", "team": "nlp"}


def test_inherited_labels_are_patched_onto_a_deployments_pod_template(
    pod, workload, policies, judge
):
    obj = workload("Deployment", pod(namespace="ml-train"), replicas=2)
    obj["spec"]["template"]["metadata"] = {}
    verdict = judge(obj, policies(COST_LABELS))
    patched = jsonpatch.apply_patch(obj, _ops(verdict))
    assert patched["spec"]["template"]["metadata"]["labels"] == {
        "cost-centre": "Sales-5045",
        "team": "nlp",
    }


def test_inherited_value_is_validated_like_the_pods_own(pod, policies, judge, context):
    ctx = context(namespaces=_namespaces({"odd": {"cost-centre": "sales", "team": "nlp"}}))
    verdict = judge(pod(namespace="odd"), policies(COST_LABELS), context=ctx)
    (violation,) = verdict.denials
    assert (
        "label inherited from namespace odd cost-centre=sales does not match" in violation.message
    )


@pytest.mark.parametrize(
    "near", ["Cost-Centre", "costcentre", "cost_centre", "cost-center", "COST_CENTRE"]
)
def test_near_miss_key_gets_a_rename_hint(pod, policies, judge, near):
    verdict = judge(
        pod(namespace="bare", labels={near: "Sales-5045", "team": "nlp"}), policies(COST_LABELS)
    )
    (violation,) = verdict.denials
    assert f"found {near}=Sales-5045 — rename label {near} to cost-centre" in violation.message


def test_unrelated_key_gets_no_rename_hint(pod, policies, judge):
    verdict = judge(
        pod(namespace="bare", labels={"owner": "x", "team": "nlp"}), policies(COST_LABELS)
    )
    (violation,) = verdict.denials
    assert "rename" not in violation.message


def test_value_in_the_wrong_case_gets_the_right_spelling(pod, policies, judge):
    labels = {"cost-centre": "Sales-5045", "team": "nlp", "env": "Prod"}
    verdict = judge(pod(namespace="bare", labels=labels), policies(COST_LABELS))
    (violation,) = verdict.denials
    assert "label env=Prod has the wrong case — use env=prod" in violation.message


def test_pattern_value_in_the_wrong_case_gets_a_casing_hint(pod, policies, judge):
    verdict = judge(
        pod(namespace="bare", labels={"cost-centre": "sales-5045", "team": "nlp"}),
        policies(COST_LABELS),
    )
    (violation,) = verdict.denials
    assert "has the wrong case" in violation.message
    assert "use cost-centre=Sales-5045" in violation.message


@pytest.mark.parametrize(
    "value", ["alice_at_example.com", "alice@example.com", "bob.smith-at-corp.de"]
)
def test_pii_guard_rejects_email_like_label_values(pod, policies, judge, value):
    labels = {"cost-centre": "Sales-5045", "team": "nlp", "owner": value}
    verdict = judge(pod(namespace="bare", labels=labels), policies(COST_LABELS))
    (violation,) = verdict.denials
    assert f"label owner={value} looks like an e-mail address" in violation.message


@pytest.mark.parametrize("value", ["alice", "team-search", "example.com", "v1.2.3"])
def test_pii_guard_accepts_ordinary_values(pod, policies, judge, value):
    labels = {"cost-centre": "Sales-5045", "team": "nlp", "owner": value}
    assert judge(pod(namespace="bare", labels=labels), policies(COST_LABELS)).allowed


def test_pii_guard_reads_label_values_up_to_the_kubernetes_limit(pod, policies, judge):
    # /mutate sees objects before the API server validates them: a value longer than a label
    # value may be (63) is never stored, and is not read (nor kept by the guard's memo).
    at_limit = "a" * (63 - len("@example.com")) + "@example.com"
    too_long = "a" * 2**20 + "@example.com"
    for value, denied in ((at_limit, True), (too_long, False)):
        labels = {"cost-centre": "Sales-5045", "team": "nlp", "owner": value}
        verdict = judge(pod(namespace="bare", labels=labels), policies(COST_LABELS))
        assert (not verdict.allowed) is denied


def test_pii_guard_can_be_switched_off(pod, policies, judge):
    rule = {**COST_LABELS, "requiredLabels": {**COST_LABELS["requiredLabels"], "piiGuard": False}}
    labels = {"cost-centre": "Sales-5045", "team": "nlp", "owner": "alice_at_example.com"}
    assert judge(pod(namespace="bare", labels=labels), policies(rule)).allowed


def _ops(verdict):
    return [{"op": p.op, "path": p.path, "value": p.value} for p in verdict.patches]


def _namespaces(labels):
    return StaticNamespaces(labels)
