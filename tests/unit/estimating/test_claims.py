"""Devices asked for through Dynamic Resource Allocation, read as catalog accelerators.

The manifests in tests/fixtures/dra/ are real `resource.k8s.io/v1` shapes (the first test
validates them with kubernetes-validate's schemas, which cover `resource.k8s.io/v1` from
Kubernetes 1.34 on); the expected figures come from the bundled catalog's own prices.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import require

from costwarden.catalog.loading import bundled_catalog
from costwarden.catalog.models import Catalog
from costwarden.estimating import claims
from costwarden.workloads import InvalidObject

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dra"
VALIDATED_VERSIONS = ("1.34.0", "1.36.0")


def _objects(*names: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name in names:
        found.extend(yaml.safe_load_all((FIXTURES / name).read_text()))
    return found


def _named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return bundled_catalog()


def _resolve(
    spec: dict[str, Any], *files: str, catalog: Catalog, namespace: str = "ml-train"
) -> claims.PodDevices:
    dra = claims.StaticDraObjects(_objects("deviceclasses.yaml", *files))
    return claims.resolve(spec, namespace=namespace, objects=dra, catalog=catalog)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_dra_fixture_is_a_valid_kubernetes_object(path: Path) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        kubernetes_validate = None
    require(
        kubernetes_validate is not None,
        what="kubernetes-validate",
        install="pip install -e '.[dev]'",
    )
    for obj in yaml.safe_load_all(path.read_text()):
        for version in VALIDATED_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
        if claims.is_dra_object(obj):
            assert claims.problems(obj) == []


def test_template_asking_for_eight_h100s_is_eight_h100s(catalog: Catalog) -> None:
    pod = _named(_objects("train-8xh100.yaml"), "Pod", "train-8xh100")
    devices = _resolve(pod["spec"], "train-8xh100.yaml", catalog=catalog)
    assert devices.unpriced == ()
    assert devices.devices == (Decimal(8), Decimal(8))
    (request,) = devices.requests
    assert request.choices == (claims.Choice("h100-80gb", Decimal(8)),)
    assert request.source == "ResourceClaimTemplate ml-train/eight-h100"
    h100 = catalog.accelerators["h100-80gb"]
    assert claims.hourly(devices.requests, catalog=catalog, capacity="on-demand") == (
        8 * h100.hourly,
        8 * h100.hourly,
    )
    spot = catalog.accelerator_spot_hourly(h100)
    assert claims.hourly(devices.requests, catalog=catalog, capacity="spot") == (8 * spot, 8 * spot)


def test_first_available_h100_else_a100_is_a_range(catalog: Catalog) -> None:
    objects = _objects("first-available.yaml")
    spec = _named(objects, "Deployment", "finetune")["spec"]["template"]["spec"]
    devices = _resolve(spec, "first-available.yaml", catalog=catalog)
    (request,) = devices.requests
    assert {c.model for c in request.choices} == {"h100-80gb", "a100-80gb"}
    low, high = claims.hourly(devices.requests, catalog=catalog, capacity="on-demand")
    assert low == catalog.accelerators["a100-80gb"].hourly
    assert high == catalog.accelerators["h100-80gb"].hourly
    assert low < high
    assert any("firstAvailable of 2 alternatives" in note for note in devices.notes)


def test_shared_claim_is_charged_to_the_claim_once_for_three_pods(catalog: Catalog) -> None:
    objects = _objects("shared-claim.yaml")
    pods = [o for o in objects if o["kind"] == "Pod"]
    assert len(pods) == 3
    resolved = [
        _resolve(p["spec"], "shared-claim.yaml", catalog=catalog, namespace="ml-infer")
        for p in pods
    ]
    for devices in resolved:
        assert devices.requests == ()  # the pod pays nothing for the claim's devices
        assert devices.devices == (0, 0)
        assert [c.name for c in devices.shared] == ["shared-h100"]
        assert any("charged once to the claim" in note for note in devices.notes)
    charged = claims.charge_shared(resolved)
    assert list(charged) == [("ml-infer", "shared-h100")]
    (claim,) = charged.values()
    h100 = catalog.accelerators["h100-80gb"].hourly
    assert claims.hourly(claim.requests, catalog=catalog, capacity="on-demand") == (
        2 * h100,
        2 * h100,
    )


def test_unknown_template_is_unpriced_naming_it(catalog: Catalog) -> None:
    pod = _named(_objects("unknown-template.yaml"), "Pod", "train-missing-template")
    devices = _resolve(pod["spec"], catalog=catalog)
    (why,) = devices.unpriced
    assert "ResourceClaimTemplate ml-train/no-such-template not found" in why
    assert devices.devices == (0, 0)


def test_without_any_dra_objects_a_claim_is_unpriced_never_zero(catalog: Catalog) -> None:
    pod = _named(_objects("train-8xh100.yaml"), "Pod", "train-8xh100")
    devices = claims.resolve(pod["spec"], namespace="ml-train", objects=None, catalog=catalog)
    assert devices.unpriced
    assert "no DRA objects are known here" in devices.unpriced[0]


def test_mig_profile_is_slices_of_the_gpus_it_is_cut_from(catalog: Catalog) -> None:
    pod = _named(_objects("mig.yaml"), "Pod", "mig-infer")
    devices = _resolve(pod["spec"], "mig.yaml", catalog=catalog, namespace="ml-infer")
    (request,) = devices.requests
    # 1g.10gb is cut from 80 GB GPUs (A100 80GB, H100): 2 slices of 7 each.
    assert {c.model for c in request.choices} == {"a100-80gb", "h100-80gb"}
    assert {c.devices for c in request.choices} == {Decimal(2) / 7}


def _claim_spec(request: dict[str, Any]) -> dict[str, Any]:
    return {"devices": {"requests": [{"name": "r", **request}]}}


def _one_request(
    request: dict[str, Any],
    catalog: Catalog,
    *,
    extra: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> claims.DeviceRequest:
    template = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": {"spec": _claim_spec(request)},
    }
    dra = claims.StaticDraObjects([*_objects("deviceclasses.yaml"), template])
    spec = {
        "resourceClaims": [{"name": "c", "resourceClaimTemplateName": "t"}],
        "containers": [{"name": "x", "image": "x"}],
    }
    (found,) = claims.resolve(spec, namespace="ns", objects=dra, catalog=catalog).requests
    return found


def test_unnamed_model_is_the_range_over_the_drivers_models(catalog: Catalog) -> None:
    request = _one_request({"exactly": {"deviceClassName": "gpu.nvidia.com", "count": 2}}, catalog)
    nvidia = {m.model for m in catalog.accelerators.values() if m.resource == "nvidia.com/gpu"}
    assert {c.model for c in request.choices} == nvidia
    low, high = claims.hourly([request], catalog=catalog, capacity="on-demand")
    prices = [catalog.accelerators[m].hourly for m in nvidia]
    assert (low, high) == (2 * min(prices), 2 * max(prices))


def test_node_selector_on_the_model_narrows_an_unnamed_one(catalog: Catalog) -> None:
    spec = {
        "resourceClaims": [{"name": "c", "resourceClaimTemplateName": "eight-h100"}],
        "containers": [{"name": "x", "image": "x"}],
    }
    template = _named(_objects("train-8xh100.yaml"), "ResourceClaimTemplate", "eight-h100")
    template = {
        **template,
        "spec": {"spec": _claim_spec({"exactly": {"deviceClassName": "gpu.nvidia.com"}})},
    }
    dra = claims.StaticDraObjects([*_objects("deviceclasses.yaml"), template])
    devices = claims.resolve(
        spec, namespace="ml-train", objects=dra, catalog=catalog, node_models=frozenset({"l4"})
    )
    assert [c.model for c in devices.requests[0].choices] == ["l4"]


@pytest.mark.parametrize(
    "expression",
    [
        "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA A100-SXM4-80GB'",
        'device.attributes["gpu.nvidia.com"]["productName"] == "NVIDIA A100-SXM4-80GB"',
        "'NVIDIA A100-SXM4-80GB' == device.attributes['gpu.nvidia.com'].productName",
        "(device.attributes['gpu.nvidia.com'].productName == 'NVIDIA A100-SXM4-80GB') && "
        "device.attributes['gpu.nvidia.com'].cudaComputeCapability.isGreaterThan(version('8.0.0'))",
        "device.attributes['gpu.nvidia.com'].productName in ['NVIDIA A100-SXM4-80GB']",
    ],
)
def test_plain_product_name_selectors_name_the_model(expression: str, catalog: Catalog) -> None:
    request = _one_request(
        {
            "exactly": {
                "deviceClassName": "gpu.nvidia.com",
                "selectors": [{"cel": {"expression": expression}}],
            }
        },
        catalog,
    )
    assert [c.model for c in request.choices] == ["a100-80gb"]


@pytest.mark.parametrize(
    "expression",
    [
        "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA A100-SXM4-80GB' || true",
        "!(device.attributes['gpu.nvidia.com'].productName == 'NVIDIA A100-SXM4-80GB')",
        "device.attributes['gpu.nvidia.com'].productName.startsWith('NVIDIA A100')",
    ],
)
def test_other_selectors_narrow_nothing_and_say_so(expression: str, catalog: Catalog) -> None:
    request = _one_request(
        {
            "exactly": {
                "deviceClassName": "gpu.nvidia.com",
                "selectors": [{"cel": {"expression": expression}}],
            }
        },
        catalog,
    )
    assert len(request.choices) > 1  # a range over the models, not a guess
    assert any("selector not read" in note for note in request.notes)


def test_product_name_the_catalog_lacks_is_unpriced(catalog: Catalog) -> None:
    expression = "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA B300'"
    request = _one_request(
        {
            "exactly": {
                "deviceClassName": "gpu.nvidia.com",
                "selectors": [{"cel": {"expression": expression}}],
            }
        },
        catalog,
    )
    assert request.unpriced is not None
    assert "'NVIDIA B300'" in request.unpriced


def test_allocation_mode_all_needs_the_classes_maximum(catalog: Catalog) -> None:
    unknown = _one_request(
        {"exactly": {"deviceClassName": "gpu.nvidia.com", "allocationMode": "All"}}, catalog
    )
    assert unknown.unpriced is not None
    assert claims.MAX_DEVICES_ANNOTATION in unknown.unpriced
    known = _one_request(
        {"exactly": {"deviceClassName": "h100.example.com", "allocationMode": "All"}}, catalog
    )
    assert known.choices == (claims.Choice("h100-80gb", Decimal(8)),)


def test_unmapped_class_is_unpriced_and_one_marked_none_costs_nothing(catalog: Catalog) -> None:
    rdma = _one_request({"exactly": {"deviceClassName": "rdma.example.com"}}, catalog)
    assert rdma.unpriced is not None
    assert claims.MODEL_ANNOTATION in rdma.unpriced
    nic = _one_request({"exactly": {"deviceClassName": "nic.example.com"}}, catalog)
    assert nic.unpriced is None
    assert nic.choices == ()
    missing = _one_request({"exactly": {"deviceClassName": "tpu.example.com"}}, catalog)
    assert missing.unpriced is not None
    assert "DeviceClass tpu.example.com not found" in missing.unpriced


def test_first_available_with_an_unpriced_alternative_is_unpriced(catalog: Catalog) -> None:
    request = _one_request(
        {
            "firstAvailable": [
                {"name": "a", "deviceClassName": "gpu.nvidia.com"},
                {"name": "b", "deviceClassName": "rdma.example.com"},
            ]
        },
        catalog,
    )
    assert request.unpriced is not None
    assert "rdma.example.com" in request.unpriced


def test_extended_resource_served_by_a_device_class(catalog: Catalog) -> None:
    dra = claims.StaticDraObjects(_objects("deviceclasses.yaml"))
    spec = {"containers": [{"name": "x", "image": "x"}]}
    devices = claims.resolve(
        spec,
        namespace="ns",
        objects=dra,
        catalog=catalog,
        extended={"example.com/h100": 2, "deviceclass.resource.kubernetes.io/mig.nvidia.com": 1},
    )
    by_claim = {r.claim: r for r in devices.requests}
    assert by_claim["example.com/h100"].choices == (claims.Choice("h100-80gb", Decimal(2)),)
    assert by_claim["deviceclass.resource.kubernetes.io/mig.nvidia.com"].choices  # a MIG range
    # An extended resource no class serves is not DRA's to price.
    assert (
        claims.resolve(spec, namespace="ns", objects=dra, catalog=catalog, extended={"x.io/y": 1})
        == claims.NO_DEVICES
    )


def test_malformed_pod_claims_are_refused_with_their_path(catalog: Catalog) -> None:
    both = {
        "resourceClaims": [
            {"name": "c", "resourceClaimName": "a", "resourceClaimTemplateName": "b"}
        ]
    }
    with pytest.raises(InvalidObject) as raised:
        claims.resolve(both, namespace="ns", objects=None, catalog=catalog)
    assert raised.value.path == ("resourceClaims", 0)
    undeclared = {
        "resourceClaims": [{"name": "c", "resourceClaimTemplateName": "b"}],
        "containers": [{"name": "x", "resources": {"claims": [{"name": "other"}]}}],
    }
    with pytest.raises(InvalidObject) as raised:
        claims.resolve(undeclared, namespace="ns", objects=None, catalog=catalog)
    assert raised.value.path == ("containers", 0, "resources", "claims", 0, "name")


def test_malformed_template_is_unpriced_naming_object_and_path(catalog: Catalog) -> None:
    request = _one_request(
        {"exactly": {"deviceClassName": "gpu.nvidia.com", "count": "eight"}}, catalog
    )
    assert request.unpriced is not None
    assert "ResourceClaimTemplate ns/t" in request.unpriced
    assert "spec.spec.devices.requests[0].exactly.count" in request.unpriced


def test_problems_name_the_path_in_a_dra_object() -> None:
    template = _named(_objects("train-8xh100.yaml"), "ResourceClaimTemplate", "eight-h100")
    broken = {
        **template,
        "spec": {
            "spec": _claim_spec({"exactly": {"deviceClassName": "x", "allocationMode": "Some"}})
        },
    }
    (problem,) = claims.problems(broken)
    assert problem.path == ("spec", "spec", "devices", "requests", 0, "exactly", "allocationMode")


def _pod_spec(resources: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "x", "image": "x"}
    if resources is not None:
        container["resources"] = resources
    return {"containers": [container], **spec}


def test_a_changed_template_is_read_anew_for_the_same_spec(catalog: Catalog) -> None:
    """The memos key pods by their spec; a pod naming a claim is priced from the DRA
    objects as they are now (the watch changes them apart from the spec)."""
    from costwarden import estimating
    from costwarden.memos import Memos

    memos = Memos()
    template = _named(_objects("train-8xh100.yaml"), "ResourceClaimTemplate", "eight-h100")
    spec = _named(_objects("train-8xh100.yaml"), "Pod", "train-8xh100")["spec"]
    classes = _objects("deviceclasses.yaml")
    two = {
        **template,
        "spec": {
            "spec": _claim_spec(
                {
                    "exactly": {
                        "deviceClassName": "gpu.nvidia.com",
                        "count": 2,
                        "selectors": template["spec"]["spec"]["devices"]["requests"][0]["exactly"][
                            "selectors"
                        ],
                    }
                }
            )
        },
    }
    counts = []
    for objects in ([*classes, template], [*classes, two], [*classes, template]):
        dra = claims.StaticDraObjects(objects)
        estimate = estimating.estimate_pod(
            spec, catalog=catalog, memos=memos, dra=dra, namespace="ml-train"
        )
        counts.append(estimate.requests.accelerator_devices)
    assert counts == [8, 2, 8]


def test_an_extended_resource_is_priced_through_the_class_serving_it(catalog: Catalog) -> None:
    from costwarden import estimating
    from costwarden.memos import Memos

    memos = Memos()
    spec = _pod_spec({"limits": {"example.com/h100": "2"}, "requests": {"cpu": "1"}})
    before = estimating.estimate_pod(
        spec, catalog=catalog, memos=memos, dra=claims.StaticDraObjects([])
    )
    assert before.requests.accelerator_devices == 0  # no class serves it (yet)
    after = estimating.estimate_pod(
        spec,
        catalog=catalog,
        memos=memos,
        dra=claims.StaticDraObjects(_objects("deviceclasses.yaml")),
    )
    assert after.requests.accelerator_devices == 2
    assert after.hourly.accelerator == 2 * catalog.accelerators["h100-80gb"].hourly


def test_the_documented_example_is_valid_and_eight_h100s() -> None:
    """docs/cost-model.md's DRA example: valid `resource.k8s.io/v1` objects, priced as said."""
    import re

    docs = Path(__file__).resolve().parents[3] / "docs" / "cost-model.md"
    text = docs.read_text()
    section = text[text.index("### Devices through Dynamic Resource Allocation") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    objects = list(yaml.safe_load_all(block[1]))
    try:
        import kubernetes_validate
    except ImportError:
        kubernetes_validate = None
    require(
        kubernetes_validate is not None,
        what="kubernetes-validate",
        install="pip install -e '.[dev]'",
    )
    for obj in objects:
        kubernetes_validate.validate(obj, "1.34.0", strict=True)
    spec = {
        "resourceClaims": [{"name": "gpus", "resourceClaimTemplateName": "eight-h100"}],
        "containers": [{"name": "x", "image": "x"}],
    }
    catalog = bundled_catalog()
    devices = claims.resolve(
        spec, namespace="ml-train", objects=claims.StaticDraObjects(objects), catalog=catalog
    )
    assert devices.requests[0].choices == (claims.Choice("h100-80gb", Decimal(8)),)
    assert f"8 × ${catalog.accelerators['h100-80gb'].hourly}/h" in section


def test_the_pods_gpu_product_label_narrows_an_unnamed_dra_model(catalog: Catalog) -> None:
    from costwarden import estimating

    template = _named(_objects("train-8xh100.yaml"), "ResourceClaimTemplate", "eight-h100")
    unnamed = {
        **template,
        "spec": {"spec": _claim_spec({"exactly": {"deviceClassName": "gpu.nvidia.com"}})},
    }
    dra = claims.StaticDraObjects([*_objects("deviceclasses.yaml"), unnamed])
    spec = _pod_spec(
        {"requests": {"cpu": "1"}},
        nodeSelector={"nvidia.com/gpu.product": "NVIDIA-L4"},
        resourceClaims=[{"name": "r", "resourceClaimTemplateName": "eight-h100"}],
    )
    estimate = estimating.estimate_pod(spec, catalog=catalog, dra=dra, namespace="ml-train")
    assert estimate.placement.accelerator_model == "l4"
    assert estimate.hourly.accelerator == catalog.accelerators["l4"].hourly
    assert not estimate.ranged


def test_admin_access_holds_no_device(catalog: Catalog) -> None:
    request = _one_request(
        {"exactly": {"deviceClassName": "gpu.nvidia.com", "count": 4, "adminAccess": True}},
        catalog,
    )
    assert request.choices == ()
    assert request.unpriced is None
    assert any("admin access" in note for note in request.notes)


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        (
            "device.attributes['gpu.nvidia.com'].productName == '" + "x" * 2000 + "'",
            "2053-character expression",
        ),
        (
            "(" * 20 + "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA L4'" + ")" * 20,
            "…",
        ),
    ],
)
def test_a_selector_too_long_or_too_deep_to_read_narrows_nothing_and_is_quoted_briefly(
    expression: str, said: str, catalog: Catalog
) -> None:
    request = _one_request(
        {
            "exactly": {
                "deviceClassName": "gpu.nvidia.com",
                "selectors": [{"cel": {"expression": expression}}],
            }
        },
        catalog,
    )
    assert len(request.choices) > 1  # the range over the driver's models: no guess
    (unread,) = [note for note in request.notes if "selector not read" in note]
    assert said in unread
    assert len(unread) < 160


def test_dra_devices_of_a_spot_pod_are_priced_at_spot(catalog: Catalog) -> None:
    from costwarden import estimating

    objects = _objects("deviceclasses.yaml", "train-8xh100.yaml")
    spec = {
        **_named(objects, "Pod", "train-8xh100")["spec"],
        "nodeSelector": {"karpenter.sh/capacity-type": "spot"},
    }
    estimate = estimating.estimate_pod(
        spec, catalog=catalog, dra=claims.StaticDraObjects(objects), namespace="ml-train"
    )
    assert estimate.placement.capacity_type == "spot"
    h100 = catalog.accelerators["h100-80gb"]
    assert estimate.hourly.accelerator == 8 * catalog.accelerator_spot_hourly(h100)


def test_long_selectors_are_not_kept_however_many_pods_send_them(catalog: Catalog) -> None:
    # Namespace users write claim templates: 64 distinct 1 MiB selectors must not be held
    # (a memo keyed on the whole expression would keep hundreds of megabytes).
    import gc
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(64):
            expression = f"device.attributes['gpu.nvidia.com'].productName == '{i}{'x' * 2**20}'"
            request = _one_request(
                {
                    "exactly": {
                        "deviceClassName": "gpu.nvidia.com",
                        "selectors": [{"cel": {"expression": expression}}],
                    }
                },
                catalog,
            )
            assert len(request.choices) > 1
            del expression, request
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 16 * 2**20  # 64 × 1 MiB would be 64 MiB
