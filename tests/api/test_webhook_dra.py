"""GPUs asked for through Dynamic Resource Allocation, judged by the webhook (#21).

Through the real app (engine, a policy file, a fixed clock) over httpx.ASGITransport, with
the cluster's DRA objects in the adapter `serve --in-cluster` watches them into
(`kube.dra.DraCache`, fed as its watches would feed it). The review is the captured
`train-a100` CREATE (fixtures/admission/INDEX.md) carrying the pod of
tests/fixtures/dra/train-8xh100.yaml: eight H100s through a ResourceClaimTemplate.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from webhook_support import NAMESPACES, fixture_paths, load_fixture, local_settings

from costwarden import app as application
from costwarden.kube.dra import DraCache

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DRA = Path(__file__).resolve().parents[1] / "fixtures" / "dra"
TRAIN_A100 = next(p for p in fixture_paths() if p.name.startswith("009-validate"))
GPU_LIMITS = """\
apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: gpu-limits}
spec:
  rules:
  - name: max-gpus-per-pod
    action: deny
    gpuLimits: {maxPerPod: 4}
"""


class FixedClock:
    def now(self) -> datetime:
        return NOW


def _objects(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((DRA / name).read_text()))


def _watched() -> DraCache:
    """The cache as its three watches fill it after their first list."""
    objects = _objects("deviceclasses.yaml") + _objects("train-8xh100.yaml")
    cache = DraCache()
    cache.classes.replace([o for o in objects if o["kind"] == "DeviceClass"])
    cache.templates.replace([o for o in objects if o["kind"] == "ResourceClaimTemplate"])
    cache.claims.replace([])
    return cache


def _webhook(tmp_path: Path, cache: DraCache) -> application.App:
    path = tmp_path / "policies.yaml"
    path.write_text(GPU_LIMITS)
    app = application.create_app(
        local_settings(policies=(path,)),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        clock=FixedClock(),
        dra=cache,
    )
    app.dra = cache
    return app


def _review() -> dict[str, Any]:
    review = copy.deepcopy(load_fixture(TRAIN_A100))
    pod = next(o for o in _objects("train-8xh100.yaml") if o["kind"] == "Pod")
    request = review["request"]
    request["object"] = {**pod, "metadata": {**pod["metadata"], "uid": request["uid"]}}
    request["name"] = pod["metadata"]["name"]
    return review


async def _answer(app: application.App, review: dict[str, Any]) -> Any:
    transport = httpx.ASGITransport(app=app.admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post("/validate", json=review)
    assert response.status_code == 200, response.text
    return response.json()["response"]


async def test_eight_h100s_through_a_claim_template_are_denied_by_a_four_gpu_limit(
    tmp_path: Path,
) -> None:
    app = _webhook(tmp_path, _watched())
    response = await _answer(app, _review())
    assert response["allowed"] is False
    assert "pod requests 8 GPUs, above the limit of 4 per pod" in response["status"]["message"]
    assert any("8× h100-80gb" in warning for warning in response.get("warnings", []))


async def test_a_template_the_watch_removes_leaves_the_pod_unpriced_never_free(
    tmp_path: Path,
) -> None:
    cache = _watched()
    app = _webhook(tmp_path, cache)
    template = next(
        o for o in _objects("train-8xh100.yaml") if o["kind"] == "ResourceClaimTemplate"
    )
    cache.templates.apply("DELETED", template)
    response = await _answer(app, _review())
    warnings = " ".join(response.get("warnings", []))
    assert "unpriced" in warnings
    assert "ResourceClaimTemplate ml-train/eight-h100 not found" in warnings


async def test_readyz_shows_the_dra_objects_loaded_without_waiting_for_them(
    tmp_path: Path,
) -> None:
    app = _webhook(tmp_path, DraCache())
    ready, detail = app.readiness()
    assert ready is True  # a cluster without resource.k8s.io/v1 must not hold readiness
    assert detail["dra"] == {"ready": False, "loaded": 0}
    app = _webhook(tmp_path, _watched())
    assert app.readiness()[1]["dra"] == {"ready": True, "loaded": 6}
