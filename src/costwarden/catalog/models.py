"""The price catalog's data model (the YAML format is documented in docs/cost-model.md).

A catalog document looks like::

    apiVersion: costwarden.io/v1alpha1
    kind: PriceCatalog
    metadata: {name: costwarden-default, version: "2026-11-01"}
    spec:
      currency: USD
      fallback: {cpuHourly: "0.031611", memoryGiBHourly: "0.004237", ...}
      accelerators: [{model: a100-40gb, resource: nvidia.com/gpu, hourly: "2.74", ...}]
      instanceTypes: [{name: p4d.24xlarge, vcpu: 96, memoryGiB: 1152, ...}]

Every model is frozen and forbids unknown keys: a typo in a catalog is an error that names
the file and path, never a silently ignored price. Money is `Decimal`, never float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

CAPACITY_TYPES = ("on-demand", "spot", "reserved")
CapacityType = Literal["on-demand", "spot", "reserved"]
Provider = Literal["aws", "gcp", "azure", "other"]

Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
"""An hourly price in the catalog's currency; never negative, never a float."""

Fraction = Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        defer_build=True,  # validators are built when a catalog is first read
        populate_by_name=True,
        alias_generator=to_camel,
    )


class Priced(_Model):
    """Provenance every price carries: where it came from and from when it holds."""

    source: Annotated[str, Field(min_length=1)]
    effective_date: date


class Fallback(Priced):
    """Prices used when a pod's placement names no instance type in the catalog."""

    cpu_hourly: Money
    """$ per vCPU-hour."""
    memory_gib_hourly: Annotated[Money, Field(alias="memoryGiBHourly")]
    """$ per GiB-hour."""
    spot_discount: Fraction = Decimal("0.6")
    """Fraction taken off on-demand prices for Spot when no Spot price is known."""


class Accelerator(Priced):
    """One accelerator model: its device price and the names clusters use for it."""

    model: Annotated[str, Field(min_length=1)]
    """Canonical model id, e.g. `a100-40gb`, `h100-80gb`, `l4`, `inferentia2`."""
    resource: str = "nvidia.com/gpu"
    """Extended resource that requests one device (`nvidia.com/gpu`, `amd.com/gpu`, ...)."""
    hourly: Money
    """On-demand $ per device-hour."""
    spot_hourly: Money | None = None
    memory_gib: Annotated[Decimal | None, Field(alias="memoryGiB")] = None
    vendor: str = "nvidia"
    mig_slices: int | None = None
    """Compute slices a MIG-capable GPU splits into (7 for A100/H100); None if not MIG-capable."""
    aliases: tuple[str, ...] = ()
    """Node-label values naming this model: GFD `nvidia.com/gpu.product`, GKE
    `cloud.google.com/gke-accelerator`, Karpenter `karpenter.k8s.aws/instance-gpu-name`."""


class InstanceAccelerators(_Model):
    model: str
    """An `Accelerator.model` of the catalog."""
    count: Annotated[int, Field(ge=1)]


class InstanceType(Priced):
    """A machine type a node can be: its capacity and what it costs per hour."""

    name: Annotated[str, Field(min_length=1)]
    provider: Provider
    region: str
    vcpu: Annotated[Decimal, Field(gt=0)]
    memory_gib: Annotated[Decimal, Field(gt=0, alias="memoryGiB")]
    accelerators: InstanceAccelerators | None = None
    on_demand_hourly: Money
    spot_hourly: Money | None = None
    """A typical Spot price; when absent, `spot_discount` (or the fallback's) applies."""
    spot_discount: Fraction | None = None


class CatalogMetadata(_Model):
    name: str
    version: str = "unversioned"


class CatalogSpec(_Model):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    fallback: Fallback | None = None
    accelerators: tuple[Accelerator, ...] = ()
    instance_types: tuple[InstanceType, ...] = ()


class CatalogDocument(_Model):
    """One YAML document of kind PriceCatalog, as written in a file."""

    api_version: Literal["costwarden.io/v1alpha1"]
    kind: Literal["PriceCatalog"]
    metadata: CatalogMetadata
    spec: CatalogSpec


class Catalog(_Model):
    """The composed catalog the estimator prices against (later documents override earlier).

    Built by `catalog.loading`; lookups are by exact name, so build the indexes once.
    """

    name: str
    version: str
    currency: str
    fallback: Fallback
    accelerators: dict[str, Accelerator]
    """By `Accelerator.model`."""
    instance_types: dict[str, InstanceType]
    """By `InstanceType.name`."""
    accelerator_aliases: dict[str, str]
    """Every alias (lower-cased) and model id -> `Accelerator.model`."""

    def accelerator_for(self, name: str) -> Accelerator | None:
        """The accelerator a model id or node-label value names (case-insensitive), if any."""
        model = self.accelerator_aliases.get(name.lower())
        return None if model is None else self.accelerators.get(model)

    def spot_hourly(self, instance: InstanceType) -> Decimal:
        """An instance's Spot $/h: its own figure, else on-demand less the Spot discount."""
        if instance.spot_hourly is not None:
            return instance.spot_hourly
        discount = instance.spot_discount
        if discount is None:
            discount = self.fallback.spot_discount
        return instance.on_demand_hourly * (1 - discount)

    def accelerator_spot_hourly(self, accelerator: Accelerator) -> Decimal:
        """A device's Spot $/h: its own figure, else on-demand less the fallback discount."""
        if accelerator.spot_hourly is not None:
            return accelerator.spot_hourly
        return accelerator.hourly * (1 - self.fallback.spot_discount)
