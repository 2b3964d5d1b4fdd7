"""Properties the cost model keeps for every instance type and every pod (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costwarden.catalog import loading
from costwarden.catalog.models import Catalog
from costwarden.estimating import estimate_pod
from costwarden.workloads import InvalidObject

BUNDLED = loading.bundled_catalog()
CAPACITY_LABEL = "karpenter.sh/capacity-type"


def _full_pod(catalog: Catalog, name: str, capacity: str) -> dict[str, Any]:
    spec = catalog.instance_types[name]
    requests: dict[str, Any] = {"cpu": str(spec.vcpu), "memory": f"{spec.memory_gib}Gi"}
    if spec.accelerators is not None:
        model = catalog.accelerators[spec.accelerators.model]
        requests[model.resource] = str(spec.accelerators.count)
    return {
        "containers": [{"name": "c", "image": "x", "resources": {"requests": requests}}],
        "nodeSelector": {"node.kubernetes.io/instance-type": name, CAPACITY_LABEL: capacity},
    }


@pytest.mark.parametrize("name", sorted(BUNDLED.instance_types))
def test_a_pod_filling_any_bundled_instance_type_costs_exactly_its_price(name: str) -> None:
    instance = BUNDLED.instance_types[name]
    on_demand = estimate_pod(_full_pod(BUNDLED, name, "on-demand"), catalog=BUNDLED)
    spot = estimate_pod(_full_pod(BUNDLED, name, "spot"), catalog=BUNDLED)
    assert on_demand.hourly.total == instance.on_demand_hourly
    assert spot.hourly.total == BUNDLED.spot_hourly(instance)
    assert on_demand.placement.instance_type == name


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(BUNDLED.instance_types)),
    cpu_milli=st.integers(min_value=0, max_value=400_000),
    memory_mib=st.integers(min_value=0, max_value=3_000_000),
    gpus=st.integers(min_value=0, max_value=16),
    capacity=st.sampled_from(["on-demand", "spot"]),
)
def test_any_pod_on_any_instance_pays_the_formula_and_never_more_than_the_instance(
    name: str, cpu_milli: int, memory_mib: int, gpus: int, capacity: str
) -> None:
    instance = BUNDLED.instance_types[name]
    requests: dict[str, Any] = {"cpu": f"{cpu_milli}m", "memory": f"{memory_mib}Mi"}
    if gpus and instance.accelerators is not None:
        requests[BUNDLED.accelerators[instance.accelerators.model].resource] = str(gpus)
    spec = {
        "containers": [{"name": "c", "image": "x", "resources": {"requests": requests}}],
        "nodeSelector": {"node.kubernetes.io/instance-type": name, CAPACITY_LABEL: capacity},
    }
    estimate = estimate_pod(spec, catalog=BUNDLED)
    hourly = estimate.hourly
    price = instance.on_demand_hourly if capacity == "on-demand" else BUNDLED.spot_hourly(instance)
    # The formula of docs/cost-model.md, requests clamped to the instance, in one exact division.
    fallback = BUNDLED.fallback
    count, device = 0, Decimal(0)
    if instance.accelerators is not None:
        count = instance.accelerators.count
        device = BUNDLED.accelerators[instance.accelerators.model].hourly
    weight = instance.vcpu * fallback.cpu_hourly + instance.memory_gib * fallback.memory_gib_hourly
    weight += count * device
    own = (
        min(Decimal(cpu_milli) / 1000, instance.vcpu) * fallback.cpu_hourly
        + min(Decimal(memory_mib) / 1024, instance.memory_gib) * fallback.memory_gib_hourly
        + min(gpus if count else 0, count) * device
    )
    assert hourly.total == price * own / weight
    assert min(hourly.cpu, hourly.memory, hourly.accelerator) >= 0
    # Requests beyond the instance are clamped to it: never more than the whole instance.
    assert hourly.total <= price + Decimal("1e-18")


_json_scalars = st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=12)
_json = st.recursive(
    _json_scalars | st.sampled_from(["1", "500m", "16Gi", "nvidia.com/gpu", "In", "Always"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(
            ["requests", "limits", "resources", "key", "operator", "values", "cpu", "memory",
             "nvidia.com/gpu", "nvidia.com/mig-1g.5gb", "restartPolicy", "matchExpressions",
             "nodeAffinity", "effect", "value", "requiredDuringSchedulingIgnoredDuringExecution",
             "nodeSelectorTerms"]
        ),
        children,
        max_size=4,
    ),
    max_leaves=16,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    spec=st.fixed_dictionaries(
        {},
        optional={
            "containers": _json,
            "initContainers": _json,
            "nodeSelector": _json,
            "affinity": _json,
            "tolerations": _json,
            "overhead": _json,
            "resources": _json,
        },
    )
)
def test_arbitrary_specs_are_estimated_or_rejected_with_a_path_never_crash(
    spec: dict[str, Any],
) -> None:
    rejection: InvalidObject | None = None
    try:
        estimate = estimate_pod(spec, catalog=BUNDLED)
    except InvalidObject as exc:
        rejection = exc
    if rejection is not None:
        assert rejection.path, rejection.message  # a rejection always says where
    else:
        assert estimate.hourly.total >= 0


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        # Found by the property above: a pod priced out of any catalog by its overhead.
        ({"containers": None, "resources": None, "overhead": {"cpu": "1E"}}, ("overhead",)),
        (
            {
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "1"}}},
                    {"name": "b", "resources": {"limits": {"nvidia.com/gpu": "9000000"}}},
                ]
            },
            ("containers", 1, "resources"),
        ),
        (
            {
                "containers": [{"name": "a", "resources": {"requests": {"memory": "64Gi"}}}],
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "900000000"}}}],
            },
            ("initContainers", 0, "resources"),
        ),
    ],
)
def test_a_pod_no_node_could_hold_is_rejected_naming_its_largest_request(
    spec: dict[str, Any], where: tuple[Any, ...]
) -> None:
    with pytest.raises(InvalidObject, match="no node offers that much") as raised:
        estimate_pod(spec, catalog=BUNDLED)
    assert raised.value.path == where
