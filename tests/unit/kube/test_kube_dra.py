"""The DRA object caches behind the watches, read by the estimator as its `DraObjects` port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from costwarden.catalog.loading import bundled_catalog
from costwarden.estimating import claims
from costwarden.kube.dra import DraCache

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dra"


def _objects(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((FIXTURES / name).read_text()))


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _listed(cache: DraCache, *files: str) -> None:
    objects = [o for f in files for o in _objects(f)]
    cache.classes.replace(_of_kind(objects, "DeviceClass"))
    cache.templates.replace(_of_kind(objects, "ResourceClaimTemplate"))
    cache.claims.replace(_of_kind(objects, "ResourceClaim"))


def test_ready_once_every_kind_is_listed() -> None:
    cache = DraCache()
    cache.classes.replace([])
    cache.templates.replace([])
    assert cache.ready() is False
    cache.claims.replace([])
    assert cache.ready() is True


def test_a_pod_is_priced_from_the_watched_objects_as_from_the_manifests() -> None:
    cache = DraCache()
    _listed(cache, "deviceclasses.yaml", "train-8xh100.yaml")
    pod = _of_kind(_objects("train-8xh100.yaml"), "Pod")[0]
    catalog = bundled_catalog()
    watched = claims.resolve(pod["spec"], namespace="ml-train", objects=cache, catalog=catalog)
    offline = claims.resolve(
        pod["spec"],
        namespace="ml-train",
        objects=claims.StaticDraObjects(
            _objects("deviceclasses.yaml") + _objects("train-8xh100.yaml")
        ),
        catalog=catalog,
    )
    assert watched == offline
    assert watched.devices == (8, 8)


def test_watch_events_add_change_and_remove_templates() -> None:
    cache = DraCache()
    _listed(cache, "deviceclasses.yaml")
    template = _of_kind(_objects("train-8xh100.yaml"), "ResourceClaimTemplate")[0]
    cache.templates.apply("ADDED", template)
    assert cache.claim_template("ml-train", "eight-h100") is not None
    assert cache.claim_template("other", "eight-h100") is None  # namespaced
    cache.templates.apply("DELETED", template)
    assert cache.claim_template("ml-train", "eight-h100") is None


def test_claims_the_control_plane_made_for_one_pod_are_left_out() -> None:
    cache = DraCache()
    shared = _of_kind(_objects("shared-claim.yaml"), "ResourceClaim")[0]
    generated = {
        **shared,
        "metadata": {
            "name": "infer-0-gpus-x7k9m",
            "namespace": "ml-infer",
            "annotations": {"resource.kubernetes.io/pod-claim-name": "gpus"},
        },
    }
    cache.claims.replace([shared, generated])
    assert cache.claim("ml-infer", "shared-h100") is not None
    assert cache.claim("ml-infer", "infer-0-gpus-x7k9m") is None
    assert len(cache) == 1


def test_what_is_kept_is_what_pricing_reads() -> None:
    cache = DraCache()
    shared = _of_kind(_objects("shared-claim.yaml"), "ResourceClaim")[0]
    with_status = {
        **shared,
        "metadata": {**shared["metadata"], "managedFields": [{"manager": "kubectl"}]},
        "status": {"allocation": {"devices": {"results": []}}},
    }
    cache.claims.replace([with_status])
    kept = cache.claim("ml-infer", "shared-h100")
    assert kept is not None
    assert set(kept) == {"apiVersion", "kind", "metadata", "spec"}
    assert "managedFields" not in kept["metadata"]
    assert kept["spec"] == shared["spec"]


def test_the_class_serving_an_extended_resource_is_found() -> None:
    cache = DraCache()
    _listed(cache, "deviceclasses.yaml")
    assert cache.extended_resources() == (("example.com/h100", "h100.example.com"),)
    assert cache.extended_resources() is cache.extended_resources()  # the same while unchanged
    cache.classes.apply("DELETED", {"metadata": {"name": "h100.example.com"}})
    assert cache.extended_resources() == ()


def test_a_watched_change_reprices_a_pod_the_memos_have_seen() -> None:
    from costwarden import estimating
    from costwarden.memos import Memos

    cache = DraCache()
    _listed(cache, "deviceclasses.yaml", "train-8xh100.yaml")
    pod = _of_kind(_objects("train-8xh100.yaml"), "Pod")[0]
    memos, catalog = Memos(), bundled_catalog()

    def gpus() -> object:
        estimate = estimating.estimate_pod(
            pod["spec"], catalog=catalog, memos=memos, dra=cache, namespace="ml-train"
        )
        return estimate.requests.accelerator_devices

    assert gpus() == 8
    template = _of_kind(_objects("train-8xh100.yaml"), "ResourceClaimTemplate")[0]
    fewer = {**template, "spec": {"spec": {"devices": {"requests": [
        {**template["spec"]["spec"]["devices"]["requests"][0], "exactly": {
            **template["spec"]["spec"]["devices"]["requests"][0]["exactly"], "count": 2}}
    ]}}}}  # fmt: skip
    before = cache.generation()
    cache.templates.apply("MODIFIED", fewer)
    assert cache.generation() != before
    assert gpus() == 2
    cache.templates.apply("MODIFIED", fewer)  # the same again (a status update): no change
    after = cache.generation()
    cache.templates.apply("MODIFIED", fewer)
    assert cache.generation() == after
    cache.templates.apply("DELETED", fewer)
    assert gpus() == 0  # unpriced: the template is gone


def test_a_malformed_device_class_in_the_cluster_is_named_in_the_unpriced_reason() -> None:
    cache = DraCache()
    _listed(cache, "deviceclasses.yaml", "train-8xh100.yaml")
    broken = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "gpu.nvidia.com"},
        "spec": {"selectors": [{"cel": {"expression": 7}}]},
    }
    cache.classes.apply("MODIFIED", broken)
    pod = _of_kind(_objects("train-8xh100.yaml"), "Pod")[0]
    devices = claims.resolve(
        pod["spec"], namespace="ml-train", objects=cache, catalog=bundled_catalog()
    )
    (why,) = devices.unpriced
    assert "DeviceClass gpu.nvidia.com: spec.selectors[0]" in why
