"""Red team: each way a namespace user, an add-on's service account or anything on the pod
network could walk around the guardrail, sent as the real API server would send it — over
HTTPS to `costwarden serve`'s stack, with `userInfo` — and what stops it now.

The server runs the bundled policies and catalog with the fixtures' namespace labels
(`ml-train` belongs to cost centre Sales-5045) and spend data in which Sales-5045 is already
over its $60,000 monthly cap while RnD-1001 has plenty of room. docs/security.md lists the
threats these tests stand for.
"""

from __future__ import annotations

import copy
import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from tests.api.webhook_support import (
    NAMESPACES,
    fixture_paths,
    load_fixture,
    local_settings,
    running,
)

from costwarden import app as application
from costwarden.documents import InvalidInput
from costwarden.engine.ports import BudgetSpend, SpendSnapshot

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
JSON = "application/json"
BUDGET = "cost-centre-monthly-budget"


class FixedClock:
    def now(self) -> datetime:
        return NOW


class SpendData:
    """Spend as the background refresher would have fetched it a minute ago."""

    def snapshot(self) -> SpendSnapshot:
        return SpendSnapshot(
            fetched_at=NOW - timedelta(minutes=1),
            budgets={
                BUDGET: {
                    "Sales-5045": BudgetSpend(Decimal("70000"), Decimal(0)),
                    "RnD-1001": BudgetSpend(Decimal("100"), Decimal(0)),
                }
            },
        )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextmanager
def https_webhook(
    ca: trustme.CA, directory: Path, *, policies: tuple[Path, ...] = ()
) -> Iterator[httpx.Client]:
    """`costwarden serve`'s stack over HTTPS on loopback (a certificate from `ca`), with the
    fixtures' namespace labels, the spend above and the fixed clock; a client trusting it."""
    leaf = ca.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(directory / "tls.crt")
    leaf.private_key_pem.write_to_path(directory / "tls.key")
    settings = local_settings(
        insecure_http=False,
        tls_cert_file=directory / "tls.crt",
        tls_key_file=directory / "tls.key",
        policies=policies,
    )
    app = application.create_app(
        settings,
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        spend=SpendData(),
        clock=FixedClock(),
    )
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with (
        running(app) as serving,
        httpx.Client(
            base_url=f"https://127.0.0.1:{serving.webhook_port}", verify=context, timeout=30
        ) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def webhook(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The webhook on the bundled policies."""
    with https_webhook(ca, tmp_path_factory.mktemp("tls")) as client:
        yield client


def captured(prefix: str) -> dict[str, Any]:
    return copy.deepcopy(
        load_fixture(next(p for p in fixture_paths() if p.name.startswith(prefix)))
    )


def train_pod(**labels: str) -> dict[str, Any]:
    """The captured 4 × A100 `train-a100` pod CREATE in ml-train (Sales-5045), relabelled."""
    review = captured("009-")
    review["request"]["object"]["metadata"]["labels"].update(labels)
    return review


def answer(client: httpx.Client, review: dict[str, Any]) -> httpx.Response:
    return client.post("/validate", json=review)


def denial(client: httpx.Client, review: dict[str, Any]) -> str:
    """The denial message; fails the test when the review is allowed."""
    response = answer(client, review)
    assert response.status_code == 200, response.text
    verdict = response.json()["response"]
    assert verdict["allowed"] is False, verdict
    message: str = verdict["status"]["message"]
    return message


def test_the_namespaces_own_budget_is_enforced(webhook: httpx.Client) -> None:
    # The baseline the other ways try to escape: ml-train's pod, its own cost centre, over cap.
    assert f"[{BUDGET}] monthly budget of cost-centre=Sales-5045 would be exceeded" in denial(
        webhook, train_pod()
    )


def test_a_pod_cannot_choose_another_teams_budget_with_its_own_label(
    webhook: httpx.Client,
) -> None:
    message = denial(webhook, train_pod(**{"cost-centre": "RnD-1001"}))
    assert "cost-centre=RnD-1001 is not a group namespace ml-train may charge (Sales-5045)" in (
        message
    )


def test_a_case_variant_of_the_cost_centre_is_not_a_budget_of_its_own(
    webhook: httpx.Client,
) -> None:
    message = denial(webhook, train_pod(**{"cost-centre": "SALES-5045"}))
    assert "cost-centre=SALES-5045 differs from the group Sales-5045 only in case" in message


def test_an_invented_cost_centre_gets_no_fresh_default_cap(webhook: httpx.Client) -> None:
    message = denial(webhook, train_pod(**{"cost-centre": "Nobody-0000"}))
    assert "cost-centre=Nobody-0000 is not a group namespace ml-train may charge" in message


def replicaset_pod(username: str) -> dict[str, Any]:
    """The captured pod the ReplicaSet controller made for llm-server, sent by `username`."""
    review = captured("017-")
    review["request"]["userInfo"] = {
        "username": username,
        "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system"],
    }
    return review


def test_an_add_ons_service_account_cannot_claim_a_controller_to_escape_the_budget(
    webhook: httpx.Client,
) -> None:
    # From the ReplicaSet controller the pod was priced with its Deployment: not charged again.
    made = answer(
        webhook, replicaset_pod("system:serviceaccount:kube-system:replicaset-controller")
    )
    assert made.json()["response"]["allowed"] is True
    # The same owner reference from another kube-system account is a claim: the pod is charged.
    claimed = denial(webhook, replicaset_pod("system:serviceaccount:kube-system:kube-proxy"))
    assert "monthly budget of cost-centre=Sales-5045 would be exceeded" in claimed


def refused(client: httpx.Client, review: dict[str, Any]) -> str:
    """The 400 reason; fails the test for any other answer."""
    response = answer(client, review)
    assert response.status_code == 400, response.text
    reason: str = response.json()["reason"]
    return reason


@pytest.mark.parametrize("count", ["4.5", 4.5, "4.0001"])
def test_a_fractional_gpu_count_is_refused_not_truncated(
    webhook: httpx.Client, count: str | float
) -> None:
    review = train_pod()
    resources = review["request"]["object"]["spec"]["containers"][0]["resources"]
    resources["requests"]["nvidia.com/gpu"] = resources["limits"]["nvidia.com/gpu"] = count
    assert "nvidia.com/gpu" in refused(webhook, review)


def test_an_object_whose_kind_is_not_the_requests_is_refused(webhook: httpx.Client) -> None:
    review = train_pod()
    review["request"]["object"]["kind"] = "pod"
    assert "request.object.kind: 'pod' is not the request's 'Pod'" in refused(webhook, review)


def test_an_object_without_a_kind_is_refused(webhook: httpx.Client) -> None:
    review = train_pod()
    del review["request"]["object"]["kind"]
    assert "request.object.kind" in refused(webhook, review)


def test_an_object_of_another_api_version_is_refused(webhook: httpx.Client) -> None:
    review = train_pod()
    review["request"]["object"]["apiVersion"] = "apps/v1"
    assert "request.object.apiVersion: 'apps/v1'" in refused(webhook, review)


def test_a_create_without_an_object_is_refused(webhook: httpx.Client) -> None:
    review = train_pod()
    review["request"]["object"] = None
    assert "request.object: required for CREATE and UPDATE" in refused(webhook, review)


def test_an_object_in_another_namespace_than_the_request_is_refused(
    webhook: httpx.Client,
) -> None:
    review = train_pod()
    review["request"]["object"]["metadata"]["namespace"] = "kube-system"
    assert "request.object.metadata.namespace: 'kube-system'" in refused(webhook, review)


def eight_gpus(**labels: str) -> dict[str, Any]:
    """The train-a100 pod asking for 8 GPUs, over `max-gpus-per-pod`'s limit of 4."""
    review = train_pod(**labels)
    resources = review["request"]["object"]["spec"]["containers"][0]["resources"]
    resources["requests"]["nvidia.com/gpu"] = resources["limits"]["nvidia.com/gpu"] = "8"
    return review


def test_a_user_cannot_grant_their_own_exception_with_a_label(webhook: httpx.Client) -> None:
    review = eight_gpus(**{"cost-exception": "ME-1"})
    review["request"]["object"]["metadata"]["annotations"] = {
        "costwarden.io/exception-expires": "2026-12-01",
        "costwarden.io/exception-reason": "trust me",
    }
    message = denial(webhook, review)
    assert "[max-gpus-per-pod] pod requests 8 GPUs" in message
    assert "exception label cost-exception=ME-1 ignored: no approved PolicyException names " in (
        message
    )


APPROVAL = """\
apiVersion: costwarden.io/v1alpha1
kind: PolicyException
metadata:
  name: fin-1234-retrain
  namespace: ml-train
  annotations: {costwarden.io/approved-by: fiona@finance.example}
spec:
  rules: [max-gpus-per-pod]
  tickets: [FIN-1234]
  expires: 2026-12-15
  reason: quarterly retrain
"""


@pytest.fixture(scope="module")
def webhook_with_an_approval(
    ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """The webhook serving the bundled policies plus one approved PolicyException."""
    policies = tmp_path_factory.mktemp("policies")
    for bundled in resources.files("costwarden").joinpath("data", "policies").iterdir():
        if bundled.name.endswith(".yaml") and bundled.name != "tests.yaml":
            (policies / bundled.name).write_text(bundled.read_text())
    (policies / "approved.yaml").write_text(APPROVAL)
    tls = tmp_path_factory.mktemp("tls-approval")
    with https_webhook(ca, tls, policies=(policies,)) as client:
        yield client


def test_an_approved_exception_waives_for_others_but_never_for_its_approver(
    webhook_with_an_approval: httpx.Client,
) -> None:
    review = eight_gpus(**{"cost-exception": "FIN-1234"})
    review["request"]["object"]["metadata"]["labels"]["cost-centre"] = "Sales-5045"
    allowed = answer(webhook_with_an_approval, review)
    waived = allowed.json()["response"]
    text = " ".join(w.strip() for w in waived.get("warnings") or [])
    assert (
        "[max-gpus-per-pod] waived until 2026-12-16 00:00 UTC by label cost-exception=FIN-1234"
        in (text)
    ), waived
    review["request"]["userInfo"] = {"username": "fiona@finance.example", "groups": []}
    message = denial(webhook_with_an_approval, review)
    assert "approved by fiona@finance.example, who sent this request" in message


def test_a_scale_that_cannot_be_priced_is_refused_where_it_is_sent(webhook: httpx.Client) -> None:
    # This server has no workload lookup (no --in-cluster): the scale-up of llm-server
    # cannot be priced, and the verdict comes at the Scale, where `kubectl scale` shows it.
    message = denial(webhook, captured("034-"))
    assert "[scale-lookup] cannot price scale of Deployment ml-train/llm-server to 4 replicas" in (
        message
    )


def resize(cpu: str) -> dict[str, Any]:
    """An in-place resize (`pods/resize`) of the running train-a100 pod to `cpu` cores."""
    review = train_pod()
    request = review["request"]
    request["operation"] = "UPDATE"
    request["subResource"] = "resize"
    request["oldObject"] = copy.deepcopy(request["object"])
    request["object"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu
    return review


def test_a_running_pod_cannot_grow_past_its_envelope_by_resizing(webhook: httpx.Client) -> None:
    message = denial(webhook, resize("256"))
    assert "[pod-size-envelope]" in message
    assert "256" in message


def test_an_approval_cannot_name_someone_else_as_its_approver(webhook: httpx.Client) -> None:
    forged = {
        "apiVersion": "costwarden.io/v1alpha1",
        "kind": "PolicyException",
        "metadata": {
            "name": "fin-1234",
            "namespace": "ml-train",
            "annotations": {"costwarden.io/approved-by": "the-cfo"},
        },
        "spec": {
            "rules": ["max-gpus-per-pod"],
            "tickets": ["FIN-1234"],
            "expires": "2026-12-15",
            "reason": "trust me",
        },
    }
    group = {"group": "costwarden.io", "version": "v1alpha1"}
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0b0b0b0b-0000-4000-8000-000000000001",
            "kind": {**group, "kind": "PolicyException"},
            "resource": {**group, "resource": "policyexceptions"},
            "requestKind": {**group, "kind": "PolicyException"},
            "requestResource": {**group, "resource": "policyexceptions"},
            "name": "fin-1234",
            "namespace": "ml-train",
            "operation": "CREATE",
            "userInfo": {"username": "mallory", "groups": ["system:authenticated"]},
            "object": forged,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
    message = denial(webhook, review)
    assert "[policy-exception-approval]" in message
    assert "the user sending it (mallory); it is the-cfo" in message


def test_a_value_nested_a_thousand_deep_is_a_400_not_a_500(webhook: httpx.Client) -> None:
    review = train_pod()
    review["request"]["object"]["metadata"]["labels"]["x"] = "NESTED"
    deep = "[" * 1000 + '"x"' + "]" * 1000  # written out: encoding it would recurse as deep
    body = json.dumps(review).replace('"NESTED"', deep).encode()
    response = webhook.post("/validate", content=body, headers={"content-type": JSON})
    assert response.status_code == 400, response.text[:300]
    assert response.json()["reason"].startswith("request.object.metadata.labels.x")


def test_an_empty_policy_directory_never_serves_zero_rules(tmp_path: Path) -> None:
    empty = tmp_path / "policies"
    empty.mkdir()
    with pytest.raises(InvalidInput, match="no CostPolicy rules found"):
        application.create_app(local_settings(policies=(empty,)))


def test_an_alias_bomb_in_a_policy_file_is_refused_at_once_naming_its_line(
    tmp_path: Path,
) -> None:
    # The classic nine levels of nine aliases: 9^9 nodes once expanded, a few hundred bytes
    # written. Refused before anything walks it (it took 28 s, and slowed reviews meanwhile).
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "bomb.yaml").write_text("\n".join(levels) + "\n")
    with pytest.raises(InvalidInput, match=r"bomb.yaml:\d+: document 0: .*YAML aliases"):
        application.create_app(local_settings(policies=(policies,)))
