"""The estimate annotations /mutate writes stay true: facts of one pod, written on a Pod and
on a workload's pod template, never on the workload itself — `kubectl scale` admits a Scale
through which the webhook cannot patch the workload, so a figure for all its pods would go
stale. Through the real engine, bundled policies and catalog, on captured objects."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import jsonpatch
import pytest
from webhook_support import NAMESPACES, fixture_paths, load_fixture, local_settings

from costwarden import app as application
from costwarden import estimating
from costwarden.catalog import loading

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OURS = ("hourly-cost", "gpu-model", "capacity-type", "catalog-version")
TEMPLATE = "/spec/template/metadata/annotations"


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture(scope="module")
def webhook() -> application.App:
    return application.create_app(
        local_settings(),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        clock=FixedClock(),
    )


def captured(prefix: str) -> dict[str, Any]:
    """The object of a captured review (a real API server's)."""
    path = next(p for p in fixture_paths() if p.name.startswith(prefix))
    obj: dict[str, Any] = load_fixture(path)["request"]["object"]
    return obj


def review(obj: dict[str, Any], *, old: dict[str, Any] | None = None) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    resource = obj["kind"].lower() + "s"
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "b7c6a1f0-0000-4000-8000-000000000001",
            "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "resource": {"group": group, "version": version, "resource": resource},
            "namespace": obj["metadata"]["namespace"],
            "name": obj["metadata"].get("name"),
            "operation": "CREATE" if old is None else "UPDATE",
            "userInfo": {"username": "alice@example.com", "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": old,
            "dryRun": False,
        },
    }


async def mutate(webhook: application.App, body: dict[str, Any]) -> list[dict[str, Any]]:
    transport = httpx.ASGITransport(app=webhook.admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        answer = await http.post("/mutate", json=body)
    assert answer.status_code == 200
    response = answer.json()["response"]
    assert response["allowed"] is True
    patch = response.get("patch")
    return [] if patch is None else list(json.loads(base64.b64decode(patch)))


def per_pod(obj: dict[str, Any]) -> str:
    estimate = estimating.estimate_object(obj, catalog=loading.bundled_catalog())
    assert estimate is not None
    return f"{estimate.pod.hourly.total.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)} USD"


def annotations_at(obj: dict[str, Any], *path: str) -> dict[str, str]:
    node: Any = obj
    for key in path:
        node = node.get(key) or {}
    return {k: v for k, v in node.items() if k.startswith("costwarden.io/")}


async def test_a_deployment_is_annotated_per_pod_on_its_template_not_on_itself(
    webhook: application.App,
) -> None:
    deployment = captured("014-validate-deployment-create-ml-train-llm-server")
    assert deployment["spec"]["replicas"] == 2
    patch = await mutate(webhook, review(deployment))
    mutated = jsonpatch.apply_patch(deployment, patch)
    assert annotations_at(mutated, "metadata", "annotations") == {}
    on_template = annotations_at(mutated, "spec", "template", "metadata", "annotations")
    assert set(on_template) == {f"costwarden.io/{key}" for key in OURS}
    # One pod's $/h: true at 2 replicas, and still true after `kubectl scale` to 5.
    assert on_template["costwarden.io/hourly-cost"] == per_pod(deployment)
    scaled = {**deployment, "spec": {**deployment["spec"], "replicas": 5}}
    assert on_template["costwarden.io/hourly-cost"] == per_pod(scaled)
    # The pods the template makes carry the figure; a second pass adds nothing.
    assert await mutate(webhook, review(mutated)) == []


async def test_an_update_that_leaves_the_template_alone_rolls_no_pods(
    webhook: application.App,
) -> None:
    deployment = captured("014-validate-deployment-create-ml-train-llm-server")
    created = jsonpatch.apply_patch(deployment, await mutate(webhook, review(deployment)))
    relabelled = copy.deepcopy(created)
    relabelled["metadata"]["labels"]["owner"] = "search"
    relabelled["spec"]["replicas"] = 7
    assert await mutate(webhook, review(relabelled, old=created)) == []
    # Even one created before costwarden, whose template has no annotations yet: adding
    # them now would change the template, and so roll every pod for a label.
    bare = copy.deepcopy(deployment)
    changed = copy.deepcopy(bare)
    changed["metadata"]["labels"]["owner"] = "search"
    assert all(
        not op["path"].startswith("/spec/")
        for op in await mutate(webhook, review(changed, old=bare))
    )


async def test_a_template_change_is_annotated_with_the_new_pods_figure(
    webhook: application.App,
) -> None:
    deployment = captured("014-validate-deployment-create-ml-train-llm-server")
    created = jsonpatch.apply_patch(deployment, await mutate(webhook, review(deployment)))
    bigger = copy.deepcopy(created)
    pod_spec = bigger["spec"]["template"]["spec"]
    pod_spec["nodeSelector"]["node.kubernetes.io/instance-type"] = "g5.4xlarge"
    patch = await mutate(webhook, review(bigger, old=created))
    assert {op["op"] for op in patch if op["path"].startswith(TEMPLATE)} == {"replace"}
    mutated = jsonpatch.apply_patch(bigger, patch)
    on_template = annotations_at(mutated, "spec", "template", "metadata", "annotations")
    assert on_template["costwarden.io/hourly-cost"] == per_pod(bigger)
    assert on_template["costwarden.io/hourly-cost"] != per_pod(created)


async def test_the_workload_level_figures_earlier_versions_wrote_are_removed(
    webhook: application.App,
) -> None:
    deployment = captured("014-validate-deployment-create-ml-train-llm-server")
    created = jsonpatch.apply_patch(deployment, await mutate(webhook, review(deployment)))
    stale = copy.deepcopy(created)
    stale["metadata"].setdefault("annotations", {})["costwarden.io/hourly-cost"] = "2.2239 USD"
    patch = await mutate(webhook, review(stale, old=stale))
    assert patch == [{"op": "remove", "path": "/metadata/annotations/costwarden.io~1hourly-cost"}]


async def test_a_replicaset_its_deployment_made_keeps_its_owners_template(
    webhook: application.App,
) -> None:
    replica_set = captured("015-validate-replicaset-create-ml-train-llm-server-69cc8c784f")
    assert any(o.get("controller") for o in replica_set["metadata"]["ownerReferences"])
    patch = await mutate(webhook, review(replica_set))
    assert all(not op["path"].startswith("/spec/") for op in patch)


async def test_a_cronjob_is_annotated_on_the_template_its_jobs_copy(
    webhook: application.App,
) -> None:
    cronjob = captured("029-validate-cronjob-create-ml-train-nightly-retrain")
    mutated = jsonpatch.apply_patch(cronjob, await mutate(webhook, review(cronjob)))
    assert annotations_at(mutated, "metadata", "annotations") == {}
    on_template = annotations_at(
        mutated, "spec", "jobTemplate", "spec", "template", "metadata", "annotations"
    )
    assert on_template["costwarden.io/hourly-cost"] == per_pod(cronjob)
    assert on_template["costwarden.io/gpu-model"] == "a10g"


async def test_an_estimate_that_is_a_range_is_annotated_as_the_range(
    webhook: application.App,
) -> None:
    # The dev notebook asks for one GPU without naming a model: no single figure is its price.
    pod = captured("010-mutate-pod-create-ml-dev-notebook-alice")
    estimate = estimating.estimate_object(pod, catalog=loading.bundled_catalog())
    assert estimate is not None
    assert estimate.pod.ranged
    mutated = jsonpatch.apply_patch(pod, await mutate(webhook, review(pod)))
    said = annotations_at(mutated, "metadata", "annotations")
    low, high = (
        value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        for value in (estimate.pod.low_hourly.total, estimate.pod.hourly.total)
    )
    assert said["costwarden.io/hourly-cost"] == f"{low}–{high} USD"
    low_model = (estimate.pod.low_placement or estimate.pod.placement).accelerator_model
    assert (
        said["costwarden.io/gpu-model"]
        == f"{low_model} to {estimate.pod.placement.accelerator_model}"
    )
    assert "costwarden.io/unpriced" not in said


async def test_an_unpriced_pod_is_annotated_unpriced_with_the_reason_and_loses_it_once_priced(
    webhook: application.App,
) -> None:
    pod = captured("008-mutate-pod-create-ml-train-train-a100")
    uncatalogued = copy.deepcopy(pod)
    uncatalogued["spec"]["nodeSelector"] = {"node.kubernetes.io/instance-type": "p5e.48xlarge"}
    mutated = jsonpatch.apply_patch(uncatalogued, await mutate(webhook, review(uncatalogued)))
    said = annotations_at(mutated, "metadata", "annotations")
    assert said["costwarden.io/hourly-cost"] == "unpriced"  # not the part it could price
    assert "p5e.48xlarge" in said["costwarden.io/unpriced"]
    # The same pod, priced now (a catalog that knows the type, say): the reason goes.
    priced = copy.deepcopy(mutated)
    priced["spec"] = copy.deepcopy(pod["spec"])
    again = jsonpatch.apply_patch(priced, await mutate(webhook, review(priced)))
    said = annotations_at(again, "metadata", "annotations")
    assert "costwarden.io/unpriced" not in said
    assert said["costwarden.io/hourly-cost"] == per_pod(pod)
