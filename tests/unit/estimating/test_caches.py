"""What the estimator remembers between pods must never leak into another pod's estimate.

Pricing keeps per-catalog lookups (placements, notes) and a memo of pods already priced, so
the second pod of a shape costs a dict hit. Each test prices a pod after the caches were
filled by another pod (or another catalog) and compares with a catalog object that has
never priced anything (`model_copy()`: a new object, so a new index and an empty memo).
"""

from __future__ import annotations

import tracemalloc
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.estimating.sample_catalog import build_catalog

from costwarden.catalog.models import Catalog
from costwarden.estimating import estimate_pod, indexes, pricing
from costwarden.memos import Memos
from costwarden.workloads import InvalidObject

SHARED = build_catalog()
"""One catalog object for every example of the property below: its memo fills as they run."""


def pod(cpu: Any = "2", memory: str = "8Gi", **fields: Any) -> dict[str, Any]:
    requests = {"cpu": cpu, "memory": memory}
    return {"containers": [{"name": "c", "resources": {"requests": requests}}], **fields}


def on(instance_type: str, **fields: Any) -> dict[str, Any]:
    return pod(nodeSelector={"node.kubernetes.io/instance-type": instance_type}, **fields)


def fresh(catalog: Catalog) -> Catalog:
    """The same catalog as a new object: nothing cached for it yet."""
    return catalog.model_copy()


def test_pricing_the_same_pod_again_gives_the_same_estimate(catalog: Catalog) -> None:
    spec = on("g5.xlarge", tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}])
    first = estimate_pod(spec, catalog=catalog)
    again = estimate_pod(spec, catalog=catalog)
    assert again == first
    assert repr(again) == repr(estimate_pod(spec, catalog=fresh(catalog)))


def test_quantities_that_cost_the_same_but_print_differently_are_priced_apart(
    catalog: Catalog,
) -> None:
    # 1 and 1.0 cores compare equal as Decimals, but their products keep their own digits.
    estimate_pod(on("m6i.xlarge", cpu="1"), catalog=catalog)
    estimate_pod(pod(cpu=1), catalog=catalog)
    for spec in (on("m6i.xlarge", cpu="1.0"), pod(cpu="1.000")):
        estimate = estimate_pod(spec, catalog=catalog)
        assert repr(estimate) == repr(estimate_pod(spec, catalog=fresh(catalog)))
    one = estimate_pod(pod(cpu="1"), catalog=catalog).hourly.cpu
    one_point_zero = estimate_pod(pod(cpu="1.0"), catalog=catalog).hourly.cpu
    assert one == one_point_zero
    assert str(one) != str(one_point_zero)


def test_a_pod_with_other_constraints_is_not_served_another_pods_price(
    catalog: Catalog,
) -> None:
    estimate_pod(on("g5.xlarge"), catalog=catalog)
    assert estimate_pod(on("g5.2xlarge"), catalog=catalog).placement.instance_type == "g5.2xlarge"
    spot = on("g5.xlarge")
    spot["nodeSelector"]["karpenter.sh/capacity-type"] = "spot"
    estimate = estimate_pod(spot, catalog=catalog)
    assert estimate.placement.capacity_type == "spot"
    assert repr(estimate) == repr(estimate_pod(spot, catalog=fresh(catalog)))
    gpu = on("g5.xlarge")
    gpu["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "1"
    assert estimate_pod(gpu, catalog=catalog).requests.accelerator_devices == 1
    shared = pod(cpu="0")
    shared["containers"][0]["resources"]["requests"]["nvidia.com/gpu.shared"] = "1"
    four = estimate_pod(shared, catalog=catalog)
    two = estimate_pod(shared, catalog=catalog, annotations={pricing.SHARING_ANNOTATION: "2"})
    assert two.requests.accelerators[0].devices == Decimal(1) / 2
    assert four.requests.accelerators[0].devices == Decimal(1) / 4


def test_a_pod_priced_like_another_keeps_its_own_assumptions(catalog: Catalog) -> None:
    plain = estimate_pod(pod(), catalog=catalog)
    unknown_model = pod(nodeSelector={"nvidia.com/gpu.product": "NVIDIA-B200"})
    tolerates_spot = pod(
        tolerations=[{"key": "kubernetes.azure.com/scalesetpriority", "operator": "Exists"}]
    )
    for spec, note in (
        (unknown_model, "nvidia.com/gpu.product=NVIDIA-B200 is not a model the catalog knows"),
        (tolerates_spot, "tolerates the Spot taint kubernetes.azure.com/scalesetpriority=spot"),
    ):
        estimate = estimate_pod(spec, catalog=catalog)
        assert estimate.hourly == plain.hourly
        assert any(a.startswith(note) for a in estimate.assumptions)
        assert not any(a.startswith(note) for a in plain.assumptions)
        assert estimate_pod(pod(), catalog=catalog) == plain


def test_a_new_catalog_object_is_priced_with_its_own_prices_not_the_old_ones(
    catalog: Catalog,
) -> None:
    spec = on("m6i.xlarge")
    before = estimate_pod(spec, catalog=catalog)
    dearer = catalog.model_copy(
        update={
            "instance_types": {
                **catalog.instance_types,
                "m6i.xlarge": catalog.instance_types["m6i.xlarge"].model_copy(
                    update={"on_demand_hourly": Decimal("0.384")}
                ),
            }
        }
    )
    after = estimate_pod(spec, catalog=dearer)
    assert after.hourly.total == before.hourly.total * 2
    assert estimate_pod(spec, catalog=catalog) == before


def test_a_new_catalog_object_gets_its_own_fallback_rates_in_its_notes(
    catalog: Catalog,
) -> None:
    spec = pod()
    estimate_pod(spec, catalog=catalog)
    fallback = catalog.fallback.model_copy(update={"cpu_hourly": Decimal("0.05")})
    other = catalog.model_copy(update={"fallback": fallback})
    estimate = estimate_pod(spec, catalog=other)
    assert any("0.05/vCPU-h" in note for note in estimate.assumptions)
    assert estimate.hourly.cpu == Decimal("0.05") * 2


def test_the_memo_of_priced_pods_stays_bounded(catalog: Catalog) -> None:
    memos = Memos(pod_entries=16)
    for millicores in range(1, 50):
        estimate_pod(pod(cpu=f"{millicores}m"), catalog=catalog, memos=memos)
    index = indexes.index(catalog, memos=memos)
    assert 0 < len(index.priced) <= 16
    assert 0 < len(index.by_spec) <= 16
    assert estimate_pod(pod(cpu="3m"), catalog=catalog, memos=memos) == estimate_pod(
        pod(cpu="3m"), catalog=catalog
    )


_SPELLINGS = {
    "cpu": st.sampled_from(["1", "1.0", "1000m", "500m", "0.5", "2", "2.00", "0", 1, 2, 0.5]),
    "memory": st.sampled_from(["1Gi", "1024Mi", "1073741824", "8Gi", "8192Mi", "0"]),
    "nvidia.com/gpu": st.sampled_from(["1", "2", 1]),
    "nvidia.com/gpu.shared": st.sampled_from(["1", "2"]),
    "nvidia.com/mig-1g.5gb": st.sampled_from(["1", "3"]),
}
_SELECTORS = {
    "node.kubernetes.io/instance-type": st.sampled_from(
        ["g5.xlarge", "g5.2xlarge", "p4d.24xlarge", "m6i.xlarge", "unknown.large"]
    ),
    "karpenter.sh/capacity-type": st.sampled_from(["spot", "on-demand", "reserved"]),
    "nvidia.com/gpu.product": st.sampled_from(
        ["NVIDIA-A10G", "NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "B200"]
    ),
    "kubernetes.azure.com/scalesetpriority": st.just("spot"),
}


def test_the_memo_of_specs_is_bounded_by_the_bytes_it_holds(catalog: Catalog) -> None:
    memos = Memos(spec_bytes=64 * 1024)
    spec = pod(cpu="1")
    spec["containers"][0]["env"] = [{"name": "X", "value": "x" * 8000}]
    for millicores in range(1, 50):
        spec["containers"][0]["resources"]["requests"]["cpu"] = f"{millicores}m"
        estimate_pod(spec, catalog=catalog, memos=memos)
    memo = indexes.index(catalog, memos=memos).by_spec
    assert 0 < memo.size <= 64 * 1024
    assert len(memo) < 49  # the oldest went to keep the bytes held in bounds
    huge = pod(cpu="1")
    huge["containers"][0]["env"] = [{"name": "X", "value": "x" * 100_000}]
    held = len(memo)
    first = estimate_pod(huge, catalog=catalog, memos=memos)
    assert len(memo) <= held  # priced, not remembered by its spec
    assert estimate_pod(huge, catalog=catalog, memos=memos) == first


@settings(max_examples=300, deadline=None)
@given(
    requests=st.fixed_dictionaries({}, optional=_SPELLINGS),
    selector=st.fixed_dictionaries({}, optional=_SELECTORS),
    tolerate_spot=st.booleans(),
    sharing=st.sampled_from([None, "2", "8", "x"]),
)
def test_a_pod_served_from_the_memo_is_exactly_the_pod_priced_afresh(
    requests: dict[str, Any], selector: dict[str, str], tolerate_spot: bool, sharing: str | None
) -> None:
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "resources": {"requests": requests}}],
        "nodeSelector": selector,
    }
    if tolerate_spot:
        spec["tolerations"] = [
            {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Exists"}
        ]
    annotations = None if sharing is None else {pricing.SHARING_ANNOTATION: sharing}
    memoised = estimate_pod(spec, catalog=SHARED, annotations=annotations)
    assert repr(memoised) == repr(
        estimate_pod(spec, catalog=fresh(SHARED), annotations=annotations)
    )


def test_huge_sharing_annotations_leave_the_memos_small(catalog: Catalog) -> None:
    """Issue #22: the annotation's raw value once keyed the memos (and was quoted in notes):
    1,100 reviews with a 250 KiB value took the webhook from 64 to 563 MB. It is read as a
    bounded number, or named briefly, before anything keeps it."""
    memos = Memos()
    spec = pod(cpu="1")
    spec["containers"][0]["resources"]["requests"]["nvidia.com/gpu.shared"] = "1"
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            value = f"{i:04d}" + "x" * 250_000  # each distinct, each 250 KiB
            estimate = estimate_pod(
                spec, catalog=catalog, annotations={pricing.SHARING_ANNOTATION: value}, memos=memos
            )
            assert estimate.requests.accelerators[0].devices == Decimal(1) / 4
            del value
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    index = indexes.index(catalog, memos=memos)
    assert index.by_spec.size < 200 * 2048  # spec bytes + a bounded note each, no value
    assert held < 8 * 2**20  # 200 × 250 KiB would be 50 MiB
    notes = [a for a in estimate.assumptions if "is not a whole number" in a]
    assert notes
    assert len(notes[0]) < 200


def test_a_label_value_longer_than_kubernetes_allows_is_refused_never_kept(
    catalog: Catalog,
) -> None:
    """A webhook sees an object before the API server validates it: a 250 KiB node-selector
    value is refused as the API server would refuse it, naming where, quoting 24 characters
    — never priced, so never kept as a memo key or quoted in a note."""
    huge = "p5." + "x" * 250_000
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": [huge],
                            }
                        ]
                    }
                ]
            }
        }
    }
    for spec, path in (
        (on(huge), ("nodeSelector", "node.kubernetes.io/instance-type")),
        (
            pod(affinity=affinity),
            (
                "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                "nodeSelectorTerms", 0, "matchExpressions", 0, "values", 0,
            ),
        ),
    ):  # fmt: skip
        with pytest.raises(InvalidObject) as refused:
            estimate_pod(spec, catalog=catalog)
        assert refused.value.path == path
        assert "at most 63 characters, got 250,003" in refused.value.message
        assert len(refused.value.message) < 120
    at_the_limit = estimate_pod(on("x" * 63), catalog=catalog)
    assert at_the_limit.unpriced == (f"instance type {'x' * 63} not in the catalog",)
