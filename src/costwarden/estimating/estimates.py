"""What an estimate says: the result types of `estimating` (pure data, no behaviour).

Frozen dataclasses rather than pydantic models: estimates are built on the admission hot
path, many per review, and never parsed from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, NamedTuple

from costwarden.schedules import Runs

HOURS_PER_MONTH = Decimal(730)
"""Hours in a billing month, as OpenCost and infracost count them."""

CapacityType = Literal["on-demand", "spot", "reserved"]


@dataclass(frozen=True, slots=True)
class AcceleratorRequest:
    """Accelerators a pod asks for, by the extended resource that asks for them."""

    resource: str
    """e.g. `nvidia.com/gpu`, `nvidia.com/mig-1g.5gb`, `google.com/tpu`."""
    count: int
    devices: Decimal
    """Whole-device equivalents: a MIG 1g.5gb slice on an A100 is 1/7."""
    shared: Decimal = Decimal(0)
    """Devices of a ResourceClaim the pod shares with others: the pod may use them, but they
    are the claim's, counted and charged once with it (`devices` is then 0)."""


@dataclass(frozen=True, slots=True)
class SharedClaimCharge:
    """A ResourceClaim the pod names (`resourceClaimName`), priced on its own: charged once,
    to the claim, whatever the number of pods that share it — never in the pod's figures."""

    namespace: str
    name: str
    low: Decimal
    """$/h of its devices at the cheapest models they may be."""
    high: Decimal
    """$/h at the dearest: what budgets charge unless told `charge: low`."""
    accelerator_model: str | None = None
    """The dearest model its devices may be (None: none priced)."""


@dataclass(frozen=True, slots=True)
class Requests:
    """A pod's effective requests, as the scheduler computes them."""

    cpu: Decimal
    """Cores."""
    memory_gib: Decimal
    accelerators: tuple[AcceleratorRequest, ...] = ()

    @property
    def accelerator_devices(self) -> Decimal:
        return sum((a.devices for a in self.accelerators), Decimal(0))

    @property
    def shared_devices(self) -> Decimal:
        """Devices of claims the pod shares (the claims' own, counted once with each)."""
        return sum((a.shared for a in self.accelerators), Decimal(0))


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the estimator assumes the pod runs."""

    capacity_type: CapacityType
    instance_type: str | None = None
    accelerator_model: str | None = None
    provider: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Breakdown:
    """$/h split by what it pays for."""

    cpu: Decimal
    memory: Decimal
    accelerator: Decimal

    @property
    def total(self) -> Decimal:
        return self.cpu + self.memory + self.accelerator

    def __mul__(self, factor: int | Decimal) -> Breakdown:
        return Breakdown(self.cpu * factor, self.memory * factor, self.accelerator * factor)


@dataclass(frozen=True, slots=True)
class PodEstimate:
    """The hourly cost of one pod, and everything it was derived from."""

    requests: Requests
    placement: Placement
    hourly: Breakdown
    currency: str
    catalog_version: str
    assumptions: tuple[str, ...] = ()
    """Each choice the estimator made where the pod left one open, in plain words."""
    low: Breakdown | None = None
    """The low end of the range the pod may cost (None: `hourly`, the placement fixes the
    price). `hourly` is the high end: what rules charge unless told otherwise."""
    low_placement: Placement | None = None
    """Where the low end is priced (None: `placement`)."""
    range_reasons: tuple[str, ...] = ()
    """Why the pod's cost is a range and not one figure (which choice it leaves open)."""
    unpriced: tuple[str, ...] = ()
    """What the catalog lacks to price the pod (`instance type p5e.48xlarge not in the
    catalog`); empty when it is priced. An unpriced estimate's figures are only what the
    catalog could price: a lower bound, never the price."""
    shared_claims: tuple[SharedClaimCharge, ...] = ()
    """The shared ResourceClaims the pod names, each priced on its own (on-demand: a claim
    says nothing of capacity type); their devices are in none of the pod's figures."""

    @property
    def monthly(self) -> Decimal:
        return self.hourly.total * HOURS_PER_MONTH

    @property
    def low_hourly(self) -> Breakdown:
        """The low end of the range (the same as `hourly` when the price is one figure)."""
        return self.hourly if self.low is None else self.low

    @property
    def priced(self) -> bool:
        return not self.unpriced

    @property
    def ranged(self) -> bool:
        """Whether the low and high ends differ."""
        return self.low is not None and self.low.total != self.hourly.total


class WorkloadEstimate(NamedTuple):
    """A workload (or a bare pod) as pods × the estimate of one pod (a NamedTuple: one or
    two are built per review)."""

    kind: str
    name: str
    namespace: str | None
    pod: PodEstimate
    pods: Decimal
    """How many pods run at once (replicas, Job parallelism, DaemonSet nodes assumed)."""
    assumptions: tuple[str, ...] = ()
    """Workload-level assumptions (e.g. how many nodes a DaemonSet lands on)."""
    runs: Runs | None = None
    """How a Job or CronJob runs (`schedules`); None: the pods run on, all month."""

    @property
    def hourly(self) -> Breakdown:
        """The high end: what the pods may cost at most, as far as the catalog prices them."""
        return self.pod.hourly * self.pods

    @property
    def low_hourly(self) -> Breakdown:
        return self.pod.low_hourly * self.pods

    @property
    def unpriced(self) -> tuple[str, ...]:
        """What the catalog lacks to price the pods (empty: priced)."""
        return self.pod.unpriced

    @property
    def hours_per_month(self) -> Decimal | None:
        """Hours a month the pods run: 730 unless they run to completion; a CronJob's runs ×
        run length; None when unknown (a Job runs once; a run length not stated)."""
        return HOURS_PER_MONTH if self.runs is None else self.runs.hours_per_month

    @property
    def monthly(self) -> Decimal | None:
        """$ a month, None when the hours a month are unknown (never 730 h by default)."""
        hours = self.hours_per_month
        return None if hours is None else self.hourly.total * hours

    @property
    def per_run(self) -> Decimal | None:
        """$ one run of a Job or CronJob costs, None when its length is unknown or it is
        not a Job or CronJob."""
        hours = None if self.runs is None else self.runs.hours
        return None if hours is None else self.hourly.total * hours

    @property
    def accelerator_devices(self) -> Decimal:
        return self.pod.requests.accelerator_devices * self.pods
