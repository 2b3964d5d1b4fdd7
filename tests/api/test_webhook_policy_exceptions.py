"""Approved exceptions live in the cluster (#20): /validate checks each PolicyException as an
approval — the approver it records is the user sending it, its expiry within the rule's
maxDuration — and a pod whose exception label names an approved PolicyException in its
namespace is waived, with a warning, unless its own approver sends it.

Through the real app (engine, a policy file, a fixed clock) over httpx.ASGITransport, with
the cluster's exceptions in the adapter `serve --in-cluster` watches them into
(`kube.exceptions.ExceptionCache`, fed as its watch would feed it). Reviews are shaped as
the API server sends them (fixtures/admission/INDEX.md): the pod is the captured
`train-a100`, sent by `kubernetes-admin`, asking for 8 GPUs; the PolicyException reviews
follow the captured CREATE reviews' shape for a custom resource.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from webhook_support import NAMESPACES, fixture_paths, load_fixture, local_settings

from costwarden import app as application
from costwarden.kube.exceptions import ExceptionCache
from costwarden.policies import models

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TRAIN_A100 = next(p for p in fixture_paths() if p.name.startswith("009-validate"))
"""Pod ml-train/train-a100, created by kubernetes-admin."""
GPU_LIMITS = """\
apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: gpu-limits}
spec:
  rules:
  - name: max-gpus-per-pod
    action: deny
    exceptions:
      label: {key: cost-exception, valuePattern: "^[A-Z]+-[0-9]+$", maxDuration: 90d}
    gpuLimits: {maxPerPod: 4}
"""
APPROVAL_DENIED = "policy-exception-approval"


class FixedClock:
    def now(self) -> datetime:
        return NOW


def webhook(tmp_path: Path, exceptions: ExceptionCache | None = None) -> application.App:
    path = tmp_path / "policies.yaml"
    path.write_text(GPU_LIMITS)
    return application.create_app(
        local_settings(policies=(path,)),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        exceptions=exceptions if exceptions is not None else ExceptionCache(),
        clock=FixedClock(),
    )


def policy_exception(
    *,
    approver: str | None = "alice",
    namespace: str = "ml-train",
    expires: str = "2026-12-31",
    tickets: tuple[str, ...] = ("FIN-1234",),
) -> dict[str, Any]:
    """A PolicyException as `kubectl apply` sends it (the API server adds uid, time, ...)."""
    return {
        "apiVersion": "costwarden.io/v1alpha1",
        "kind": "PolicyException",
        "metadata": {
            "name": "fin-1234-train",
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "generation": 1,
            "creationTimestamp": "2026-11-22T11:30:00Z",
            "annotations": {models.APPROVED_BY: approver} if approver is not None else {},
        },
        "spec": {
            "rules": ["max-gpus-per-pod"],
            "tickets": list(tickets),
            "expires": expires,
            "reason": "FIN-1234: 8-GPU fine-tune of the fraud model, approved by finance",
        },
    }


def create_review(obj: dict[str, Any], *, username: str) -> dict[str, Any]:
    """A CREATE review of `obj` from `username`, shaped as the captured ones are."""
    group, version = obj["apiVersion"].split("/")
    return {
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "resource": {"group": group, "version": version, "resource": "policyexceptions"},
            "requestKind": {"group": group, "version": version, "kind": obj["kind"]},
            "requestResource": {
                "group": group,
                "version": version,
                "resource": "policyexceptions",
            },
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": username, "groups": ["finops", "system:authenticated"]},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {
                "kind": "CreateOptions",
                "apiVersion": "meta.k8s.io/v1",
                "fieldManager": "kubectl-client-side-apply",
                "fieldValidation": "Strict",
            },
        },
    }


def gpu_pod(*, sent_by: str | None = None, label: str | None = "FIN-1234") -> dict[str, Any]:
    """The captured train-a100 review, asking for 8 GPUs, labelled `cost-exception`."""
    review = copy.deepcopy(load_fixture(TRAIN_A100))
    request = review["request"]
    for container in request["object"]["spec"]["containers"]:
        for amounts in container["resources"].values():
            if "nvidia.com/gpu" in amounts:
                amounts["nvidia.com/gpu"] = "8"
    if label is not None:
        request["object"]["metadata"]["labels"]["cost-exception"] = label
    if sent_by is not None:
        request["userInfo"] = {"username": sent_by, "groups": ["system:authenticated"]}
    return review


def approved_in_cluster(**changes: Any) -> ExceptionCache:
    """The cluster's exceptions as the watch leaves them: one approved by alice."""
    cache = ExceptionCache()
    cache.replace([policy_exception(**changes)])
    return cache


async def answer(app: application.App, review: dict[str, Any]) -> Any:
    transport = httpx.ASGITransport(app=app.admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post("/validate", json=review)
    assert response.status_code == 200, response.text
    return response.json()["response"]


def denial(response: dict[str, Any]) -> str:
    assert response["allowed"] is False
    message: str = response["status"]["message"]
    return message


# --- a PolicyException is an approval -------------------------------------------------------


async def test_a_policy_exception_approved_by_the_user_creating_it_is_admitted(
    tmp_path: Path,
) -> None:
    review = create_review(policy_exception(approver="alice"), username="alice")
    response = await answer(webhook(tmp_path), review)
    assert response["allowed"] is True


async def test_a_policy_exception_naming_another_approver_is_denied(tmp_path: Path) -> None:
    review = create_review(policy_exception(approver="dana"), username="alice")
    message = denial(await answer(webhook(tmp_path), review))
    assert APPROVAL_DENIED in message
    assert "the user sending it (alice)" in message
    assert "it is dana" in message


async def test_a_policy_exception_without_an_approver_is_denied(tmp_path: Path) -> None:
    review = create_review(policy_exception(approver=None), username="alice")
    message = denial(await answer(webhook(tmp_path), review))
    assert APPROVAL_DENIED in message
    assert models.APPROVED_BY in message
    assert "missing" in message


async def test_a_policy_exception_expiring_beyond_the_rules_max_duration_is_denied(
    tmp_path: Path,
) -> None:
    review = create_review(policy_exception(expires="2027-03-31"), username="alice")
    message = denial(await answer(webhook(tmp_path), review))
    assert APPROVAL_DENIED in message
    assert "spec.expires" in message
    assert "max-gpus-per-pod" in message


# --- an approved PolicyException waives for others ----------------------------------------


async def test_an_exception_label_without_an_approved_policy_exception_waives_nothing(
    tmp_path: Path,
) -> None:
    message = denial(await answer(webhook(tmp_path), gpu_pod()))
    assert "max-gpus-per-pod" in message
    assert "no approved PolicyException names ticket FIN-1234" in message


async def test_a_pod_labelled_with_the_ticket_of_an_approved_exception_is_waived_with_a_warning(
    tmp_path: Path,
) -> None:
    response = await answer(webhook(tmp_path, approved_in_cluster()), gpu_pod())
    assert response["allowed"] is True
    text = " ".join(w.strip() for w in response["warnings"])
    assert "[max-gpus-per-pod] waived until " in text
    assert "by label cost-exception=FIN-1234, PolicyException ml-train/fin-1234-train" in text
    assert "approved by alice" in text


async def test_the_approver_sending_the_pod_herself_is_still_denied(tmp_path: Path) -> None:
    app = webhook(tmp_path, approved_in_cluster())
    message = denial(await answer(app, gpu_pod(sent_by="alice")))
    assert "max-gpus-per-pod" in message
    assert "approved by alice, who sent this request" in message


async def test_an_approved_exception_in_another_namespace_waives_nothing_here(
    tmp_path: Path,
) -> None:
    app = webhook(tmp_path, approved_in_cluster(namespace="ml-dev"))
    message = denial(await answer(app, gpu_pod()))
    assert "max-gpus-per-pod" in message


async def test_the_cluster_exceptions_are_judged_as_they_change_between_reviews(
    tmp_path: Path,
) -> None:
    cache = ExceptionCache()
    cache.replace([])
    app = webhook(tmp_path, cache)
    assert (await answer(app, gpu_pod()))["allowed"] is False
    cache.apply("ADDED", policy_exception())
    assert (await answer(app, gpu_pod()))["allowed"] is True
    assert (await answer(app, gpu_pod()))["allowed"] is True
    cache.apply("DELETED", policy_exception())
    assert (await answer(app, gpu_pod()))["allowed"] is False


@pytest.mark.parametrize("unapproved", [{"approver": None}, {"expires": "2026-11-01"}])
async def test_a_cluster_exception_unapproved_or_expired_waives_nothing(
    tmp_path: Path, unapproved: dict[str, Any]
) -> None:
    app = webhook(tmp_path, approved_in_cluster(**unapproved))
    assert (await answer(app, gpu_pod()))["allowed"] is False


# --- /readyz --------------------------------------------------------------------------------


async def test_readyz_shows_how_many_cluster_exceptions_are_loaded(tmp_path: Path) -> None:
    app = webhook(tmp_path, approved_in_cluster())
    transport = httpx.ASGITransport(app=app.operations)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["exceptions"] == {
        "ready": True,
        "loaded": 1,
        "adapter": "ExceptionCache",
    }


async def test_exceptions_not_yet_listed_do_not_hold_readiness(tmp_path: Path) -> None:
    """Until they load, labels waive nothing; a cluster without the CRD must not take the
    webhook down."""
    app = webhook(tmp_path, ExceptionCache())
    ready, detail = app.readiness()
    assert ready is True
    assert detail["exceptions"] == {"ready": False, "loaded": 0, "adapter": "ExceptionCache"}
