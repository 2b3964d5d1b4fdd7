"""Objects the API server would reject, through the real engine: always a 400, never a 500.

The webhook must answer bad input with 400 naming where it is wrong (issue 4); these are
shapes a fuzz of the captured reviews turned up as 500s: metadata of the wrong type,
quantities Kubernetes refuses (NaN, negative requests).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import httpx
import jsonpatch
import pytest
from webhook_support import NAMESPACES, fixture_paths, load_fixture, local_settings

from costwarden import app as application

FIXTURES = fixture_paths()


def fixture(name: str) -> dict[str, Any]:
    return load_fixture(next(p for p in FIXTURES if p.name.startswith(name)))


@pytest.fixture(scope="module")
def real_app() -> application.App:
    return application.create_app(
        local_settings(), namespaces=application.StaticNamespaceLabels(NAMESPACES)
    )


async def post(app: application.App, path: str, review: dict[str, Any]) -> httpx.Response:
    """`review` POSTed to the admission app at `path`, in process."""
    transport = httpx.ASGITransport(app=app.admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.post(path, json=review)


def with_value(review: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(review)
    node = changed["request"]["object"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


GPU = ("spec", "containers", 0, "resources", "requests", "nvidia.com/gpu")
SELECTOR = 'request.object.spec.nodeSelector["karpenter.sh/capacity-type"]'
CPU = ("spec", "containers", 0, "resources", "requests", "cpu")


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("metadata", "labels"), 7, "request.object.metadata.labels"),
        (("metadata", "labels"), ["a"], "request.object.metadata.labels"),
        (("metadata", "labels", "team"), True, "request.object.metadata.labels.team"),
        (("metadata", "labels", "team"), {"a": 1}, "request.object.metadata.labels.team"),
        (("metadata", "annotations"), "x", "request.object.metadata.annotations"),
        (("metadata", "ownerReferences"), 7, "request.object.metadata.ownerReferences"),
        (CPU, "NaN", "request.object.spec.containers[0].resources.requests.cpu"),
        (CPU, "-1", "request.object.spec.containers[0].resources.requests.cpu"),
        (GPU, -1, 'request.object.spec.containers[0].resources.requests["nvidia.com/gpu"]'),
        # A fraction of a GPU is no GPU: read as 4, 4.5 would pass a 4-GPU limit.
        (GPU, "4.5", 'request.object.spec.containers[0].resources.requests["nvidia.com/gpu"]'),
        (GPU, 4.5, 'request.object.spec.containers[0].resources.requests["nvidia.com/gpu"]'),
        (GPU, "4.0001", 'request.object.spec.containers[0].resources.requests["nvidia.com/gpu"]'),
        (CPU, "99999999999999Ei", "request.object.spec.containers[0].resources.requests.cpu"),
        (("spec", "nodeSelector"), {"karpenter.sh/capacity-type": ["spot"]}, SELECTOR),
    ],
)
@pytest.mark.parametrize("webhook", ["validate", "mutate"])
async def test_a_pod_kubernetes_would_reject_is_a_400_naming_where_never_a_500(
    real_app: application.App, webhook: str, path: tuple[str | int, ...], value: Any, where: str
) -> None:
    review = with_value(fixture("002-mutate"), path, value)
    answer = await post(real_app, f"/{webhook}", review)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"].startswith(f"{where}: "), answer.text


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("spec",), 7, "request.object.spec"),
        (("spec", "replicas"), -3, "request.object.spec.replicas"),
        (("spec", "replicas"), True, "request.object.spec.replicas"),
    ],
)
@pytest.mark.parametrize("webhook", ["validate", "mutate"])
async def test_a_scale_kubernetes_would_reject_is_a_400_naming_where(
    real_app: application.App, webhook: str, path: tuple[str | int, ...], value: Any, where: str
) -> None:
    review = with_value(fixture("034-validate-scale"), path, value)
    answer = await post(real_app, f"/{webhook}", review)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"].startswith(f"{where}: "), answer.text


async def test_a_pod_without_metadata_gets_a_patch_that_applies(real_app: application.App) -> None:
    review = fixture("006-mutate")
    del review["request"]["object"]["metadata"]  # inherited cost labels must create it
    answer = await post(real_app, "/mutate", review)
    assert answer.status_code == 200, answer.text
    patch = json.loads(base64.b64decode(answer.json()["response"]["patch"]))
    patched = jsonpatch.apply_patch(review["request"]["object"], patch)
    assert patched["metadata"]["labels"]["cost-centre"] == NAMESPACES["ml-train"]["cost-centre"]


@pytest.mark.parametrize("webhook", ["validate", "mutate"])
async def test_a_pod_asking_more_than_any_node_has_is_a_400_not_an_overflow(
    real_app: application.App, webhook: str
) -> None:
    review = with_value(fixture("005-validate"), CPU, str(2**63 - 1))  # no instance pinned
    answer = await post(real_app, f"/{webhook}", review)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"].startswith(
        "request.object.spec.containers[0].resources: requests priced at more than"
    )


async def test_a_malformed_old_object_is_named_as_the_old_object(real_app: application.App) -> None:
    review = fixture("048-validate-pod-update")
    review["request"]["oldObject"]["metadata"]["labels"] = 7
    answer = await post(real_app, "/validate", review)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"].startswith("request.oldObject.metadata.labels: "), answer.text


def claiming(review: dict[str, Any], change: Any) -> dict[str, Any]:
    changed = copy.deepcopy(review)
    change(changed["request"])
    return changed


def _drop_kind(request: dict[str, Any]) -> None:
    del request["object"]["kind"]


def _lower_kind(request: dict[str, Any]) -> None:
    request["object"]["kind"] = "pod"


def _apps_version(request: dict[str, Any]) -> None:
    request["object"]["apiVersion"] = "apps/v1"


def _other_namespace(request: dict[str, Any]) -> None:
    request["object"]["metadata"]["namespace"] = "kube-system"


def _no_object(request: dict[str, Any]) -> None:
    request["object"] = None


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (_drop_kind, "request.object.kind"),
        (_lower_kind, "request.object.kind"),
        (_apps_version, "request.object.apiVersion"),
        (_other_namespace, "request.object.metadata.namespace"),
        (_no_object, "request.object"),
    ],
)
@pytest.mark.parametrize("webhook", ["validate", "mutate"])
async def test_an_object_that_is_not_what_the_request_says_is_refused_not_waved_through(
    real_app: application.App, webhook: str, change: Any, where: str
) -> None:
    # A dev notebook the bundled Spot rule denies, disguised: judged as what it claims,
    # it would run no Pod rule and be allowed.
    review = claiming(fixture("011-validate"), change)
    answer = await post(real_app, f"/{webhook}", review)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"].startswith(f"{where}: "), answer.text


@pytest.mark.parametrize("webhook", ["validate", "mutate"])
async def test_a_huge_bad_value_is_named_not_echoed_back_in_full(
    real_app: application.App, webhook: str
) -> None:
    # Three megabytes where a GPU count goes: the 400 says where and what, in a few hundred
    # characters, instead of sending the client's megabytes back (and into every log).
    review = with_value(fixture("009-"), GPU, "9" * 3_000_000 + "x")
    answer = await post(real_app, f"/{webhook}", review)
    assert answer.status_code == 400
    reason = answer.json()["reason"]
    assert reason.startswith(
        'request.object.spec.containers[0].resources.requests["nvidia.com/gpu"]'
    )
    assert len(reason) <= 1000
    assert len(answer.content) < 2000
