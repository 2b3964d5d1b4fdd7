"""Lookups over a catalog, built once per catalog so pricing a pod is a few dict hits.

The `Catalog` is a frozen pydantic model; pydantic stays off the hot path by copying
what pricing needs into plain slotted objects here: each instance type's prices by
capacity type and its weight (the denominator of the cost model's ratio split), and the
results that depend on the catalog alone (placements, the fallback-rates note), built
once instead of per pod: they are immutable, so every estimate may share them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costwarden.catalog.models import Accelerator, Catalog, InstanceType
from costwarden.estimating.estimates import CapacityType, Placement
from costwarden.memos import Memo, Memos

_ONE = Decimal(1)
_ZERO = Decimal(0)

RESOURCE_SYNONYMS = {"aws.amazon.com/neurondevice": "aws.amazon.com/neuron"}
"""Extended resources that name the same device as another (the Neuron plugin's newer name)."""
_CAPACITIES: tuple[CapacityType, ...] = ("on-demand", "spot", "reserved")

ACCELERATOR_RESOURCES = frozenset(
    (
        "nvidia.com/gpu",
        "nvidia.com/gpu.shared",
        "amd.com/gpu",
        "aws.amazon.com/neuron",
        "aws.amazon.com/neurondevice",
        "aws.amazon.com/neuroncore",
        "habana.ai/gaudi",
        "google.com/tpu",
    )
)
MIG_PREFIX = "nvidia.com/mig-"


def served_by(resource: str) -> str:
    """The resource whose models serve `resource` (a MIG slice is cut from a GPU)."""
    if resource.startswith(MIG_PREFIX) or resource == "nvidia.com/gpu.shared":
        return "nvidia.com/gpu"
    if resource.startswith("aws.amazon.com/neuron"):
        return "aws.amazon.com/neuron"
    return resource


@dataclass(frozen=True, slots=True)
class Rates:
    """$ per vCPU-h and per GiB-h."""

    cpu: Decimal
    memory: Decimal


@dataclass(frozen=True, slots=True)
class Instance:
    """An instance type, ready for the cost model's ratio split."""

    spec: InstanceType
    family: str
    model: Accelerator | None
    served_by: str | None
    """`served_by(model.resource)`: the requests its model can serve (None: no model)."""
    devices: Decimal
    list_rates: Rates
    """The fallback $/vCPU-h and $/GiB-h the split weighs vCPUs and GiB by."""
    device_list: Decimal
    """The model's on-demand $/device-h (0 without accelerators)."""
    weight: Decimal
    """vCPU × fallback $/vCPU-h + GiB × fallback $/GiB-h + devices × model $/device-h."""
    prices: dict[str, Decimal]
    """Whole-instance $/h by capacity type."""
    placements: dict[tuple[str, bool], Placement]
    """(capacity type, whether the pod uses its accelerators) -> the pod's placement."""


@dataclass(frozen=True, slots=True)
class Index:
    catalog: Catalog
    fallback: dict[str, Rates]
    """Fallback $/vCPU-h and $/GiB-h by capacity type."""
    model_prices: dict[str, dict[str, Decimal]]
    """Accelerator model -> capacity type -> $/device-h."""
    models_by_resource: dict[str, tuple[Accelerator, ...]]
    """Extended resource -> its models, cheapest first."""
    mig_models: tuple[Accelerator, ...]
    """MIG-capable models, cheapest first."""
    accelerator_resources: frozenset[str]
    """Every extended resource that requests accelerators, but MIG slices (`MIG_PREFIX`)."""
    instances: dict[str, Instance]
    families: dict[str, tuple[str, ...]]
    fallback_note: dict[str, str]
    """Capacity type -> the note saying cpu and memory are priced at the fallback rates."""
    fallback_placements: dict[tuple[str, str | None], Placement]
    """(capacity type, accelerator model or None) -> placement without an instance type."""
    priced: Memo[Hashable, Any]
    """`pricing`'s memo of pods priced against this catalog (see `pricing.estimate_pod`)."""
    by_spec: Memo[Hashable, Any]
    """The same pods by their spec's JSON text, key order kept (see `pricing.estimate_pod`),
    bounded by the bytes of spec they hold too."""


def _spec_bytes(key: Any, value: Any) -> int:
    """An entry of `by_spec` weighs its key's JSON bytes (the estimate is shared)."""
    return len(key[0]) + 256


def index(catalog: Catalog, *, memos: Memos | None = None) -> Index:
    """The index of `catalog`, kept in `memos` by the catalog's identity (catalogs are
    immutable once loaded); built afresh without `memos`."""
    if memos is None:
        return _build(catalog, Memos())
    found: Index | None = memos.catalogs.get(id(catalog))
    if found is not None and found.catalog is catalog:  # the same catalog, not a namesake id
        return found
    built = _build(catalog, memos)
    memos.catalogs.put(id(catalog), built)
    return built


def family_of(name: str) -> str:
    """`p4d.24xlarge` -> `p4d` (AWS), `a2-highgpu-1g` -> `a2` (GCP)."""
    for separator in (".", "-"):
        if separator in name:
            return name.split(separator, 1)[0]
    return name


def _build(catalog: Catalog, memos: Memos) -> Index:
    fallback = catalog.fallback
    spot_factor = _ONE - fallback.spot_discount
    fallback_rates = {
        "on-demand": Rates(fallback.cpu_hourly, fallback.memory_gib_hourly),
        "reserved": Rates(fallback.cpu_hourly, fallback.memory_gib_hourly),
        "spot": Rates(fallback.cpu_hourly * spot_factor, fallback.memory_gib_hourly * spot_factor),
    }
    model_prices = {}
    by_resource: dict[str, list[Accelerator]] = {}
    for model in catalog.accelerators.values():
        model_prices[model.model] = {
            "on-demand": model.hourly,
            "reserved": model.hourly,
            "spot": catalog.accelerator_spot_hourly(model),
        }
        resource = RESOURCE_SYNONYMS.get(model.resource, model.resource)
        by_resource.setdefault(resource, []).append(model)
    models_by_resource = {
        resource: tuple(sorted(models, key=lambda m: (m.hourly, m.model)))
        for resource, models in by_resource.items()
    }
    mig_models = tuple(
        sorted(
            (m for m in catalog.accelerators.values() if m.mig_slices),
            key=lambda m: (m.hourly, m.model),
        )
    )
    instances = {
        name: _instance(spec, catalog=catalog) for name, spec in catalog.instance_types.items()
    }
    families: dict[str, list[str]] = {}
    for name, instance in instances.items():
        families.setdefault(instance.family, []).append(name)
    fallback_note: dict[str, str] = {
        capacity: "no catalog instance type named: cpu and memory at the fallback rates "
        f"({fallback.cpu_hourly}/vCPU-h, {fallback.memory_gib_hourly}/GiB-h"
        f"{', less the Spot discount' if capacity == 'spot' else ''})"
        for capacity in _CAPACITIES
    }
    fallback_placements: dict[tuple[str, str | None], Placement] = {
        (capacity, model): Placement(capacity_type=capacity, accelerator_model=model)
        for capacity in _CAPACITIES
        for model in (None, *catalog.accelerators)
    }
    return Index(
        catalog=catalog,
        fallback=fallback_rates,
        model_prices=model_prices,
        models_by_resource=models_by_resource,
        mig_models=mig_models,
        accelerator_resources=ACCELERATOR_RESOURCES | frozenset(models_by_resource),
        instances=instances,
        families={family: tuple(names) for family, names in families.items()},
        fallback_note=fallback_note,
        fallback_placements=fallback_placements,
        priced=Memo(entries=memos.pod_entries, size=memos.pod_entries),
        by_spec=Memo(entries=memos.pod_entries, size=memos.spec_bytes, weigh=_spec_bytes),
    )


def _instance(spec: InstanceType, *, catalog: Catalog) -> Instance:
    fallback = catalog.fallback
    model = None
    devices = _ZERO
    if spec.accelerators is not None:
        model = catalog.accelerators.get(spec.accelerators.model)
        if model is not None:
            devices = Decimal(spec.accelerators.count)
    device_list = model.hourly if model is not None else _ZERO
    weight = (
        spec.vcpu * fallback.cpu_hourly
        + spec.memory_gib * fallback.memory_gib_hourly
        + devices * device_list
    )
    return Instance(
        spec=spec,
        family=family_of(spec.name),
        model=model,
        served_by=None if model is None else served_by(model.resource),
        devices=devices,
        list_rates=Rates(fallback.cpu_hourly, fallback.memory_gib_hourly),
        device_list=device_list,
        weight=weight,
        prices={
            "on-demand": spec.on_demand_hourly,
            "reserved": spec.on_demand_hourly,
            "spot": catalog.spot_hourly(spec),
        },
        placements={
            (capacity, accelerated): Placement(
                capacity_type=capacity,
                instance_type=spec.name,
                accelerator_model=model.model if model is not None and accelerated else None,
                provider=spec.provider,
                region=spec.region,
            )
            for capacity in _CAPACITIES
            for accelerated in (False, True)
        },
    )
