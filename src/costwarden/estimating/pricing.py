"""Pricing a pod: effective requests × where it runs × the catalog's prices (pure).

The cost model (docs/cost-model.md):

* On a catalog instance type, the instance's price (on-demand, Spot, or on-demand for
  reserved) is split into cpu, memory and accelerator parts in proportion to the catalog's
  fallback $/vCPU-h, $/GiB-h and the accelerator model's $/device-h; the pod pays its
  request's share of each part (requests above the instance's capacity are clamped to
  it). A pod that fills an instance exactly costs exactly the instance's price.
* Without an instance type, accelerators cost their model's $/device-h (its Spot price,
  or the fallback Spot discount, on Spot) and cpu/memory the fallback rates.
* Where the pod leaves a choice open, ONE rule decides: capacity type on-demand unless the
  pod can only run on Spot (reserved if it can only run on reserved or Spot); then the
  cheapest instance type that fits among those the pod allows (as Karpenter would launch
  it), or, without instance types, the cheapest accelerator model the pod allows.
  Every such choice is written into `PodEstimate.assumptions`.

Nothing is rounded here; callers quantize for display.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from costwarden import workloads
from costwarden.catalog.models import Accelerator, Catalog
from costwarden.estimating import capacity, indexes, placing, requesting
from costwarden.estimating.estimates import (
    AcceleratorRequest,
    Breakdown,
    CapacityType,
    Placement,
    PodEstimate,
    Requests,
    WorkloadEstimate,
)
from costwarden.estimating.indexes import MIG_PREFIX
from costwarden.memos import Memos
from costwarden.quantities import GIB
from costwarden.workloads import JSON_OBJECT, InvalidObject, PathPart

MAX_POD_HOURLY = Decimal(1_000_000)
"""One pod above $1M/h asks for what no node has (the largest cost ~$100/h). Refusing it
keeps every figure derived from it (× int32 replicas × hours) within exact Decimal range."""
SHARING_ANNOTATION = "costwarden.io/gpu-sharing-replicas"
"""On a pod (template): how many pods share one physical GPU via `nvidia.com/gpu.shared`."""
DEFAULT_SHARING_REPLICAS = 4
"""Time-slicing replicas assumed per GPU when not annotated (the NVIDIA device plugin's
time-slicing examples use 4; OpenCost charges request × physical/advertised GPUs)."""

NEURONCORES_PER_DEVICE = {"trainium2": 8}
"""NeuronCores per Neuron device; Inferentia2 and Trainium (trn1) have 2 NeuronCore-v2
each (AWS Neuron docs, "Inferentia2 architecture"), Trainium2 has 8."""
DEFAULT_NEURONCORES_PER_DEVICE = 2

_MIG_PROFILE = re.compile(r"^nvidia\.com/mig-(\d+)g\.(\d+)gb")

MIG_PARENT_MEMORY_GB = {
    **dict.fromkeys(("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"), 40),
    **dict.fromkeys(("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"), 80),
}
"""MIG profile -> memory of the GPU it is cut from (NVIDIA MIG user guide, "Supported
profiles"): the 5 GB-slice profiles exist only on 40 GB A100s, the 10 GB-slice ones on
80 GB A100s and H100s. Other profiles: any MIG-capable model with at least that memory."""

_CAPACITY_PREFERENCE: tuple[CapacityType, ...] = ("on-demand", "reserved", "spot")
_ZERO = Decimal(0)
_ATTO = Decimal("1e-18")


def estimate_object(
    obj: Mapping[str, Any], *, catalog: Catalog, memos: Memos | None = None
) -> WorkloadEstimate | None:
    """The estimate of a Pod or workload (pods at once × one pod), None if it runs no pods.

    Raises `workloads.InvalidObject` (path relative to `obj`) for a malformed object.
    """
    template = workloads.pod_template(obj)
    return None if template is None else estimate_template(template, catalog=catalog, memos=memos)


def estimate_template(
    template: workloads.PodTemplate, *, catalog: Catalog, memos: Memos | None = None
) -> WorkloadEstimate:
    """The estimate of a pod template's pods (e.g. one scaled with `workloads.with_replicas`).

    Raises `workloads.InvalidObject` (path relative to the template's object).
    """
    annotations = template.metadata.get("annotations")
    try:
        pod = estimate_pod(
            template.spec,
            catalog=catalog,
            annotations=annotations if isinstance(annotations, JSON_OBJECT) else None,
            memos=memos,
        )
    except InvalidObject as exc:
        raise exc.within((*_pointer_path(template.pointer), "spec")) from None
    # Positional arguments, in field order: this runs on every review.
    return WorkloadEstimate(
        template.kind, template.name, template.namespace, pod, template.pods, template.assumptions
    )


def estimate_pod(
    spec: Mapping[str, Any],
    *,
    catalog: Catalog,
    annotations: Mapping[str, Any] | None = None,
    memos: Memos | None = None,
) -> PodEstimate:
    """The hourly cost of one pod with this spec (annotations: its metadata's, if any).

    Raises `workloads.InvalidObject` (path relative to the spec) for a malformed spec.
    """
    index = indexes.index(catalog, memos=memos)
    # The pods of a workload, and the mutate and validate calls for each, send the same
    # spec: keyed on the spec's JSON (and the one annotation read), a repeat is one
    # serialisation and one lookup, not requests, selectors and affinity read again.
    # Equal JSON, keys in the same order, means equal input (key order too: it orders the
    # notes), and the estimate is a pure function of it; a spec orjson will not write (an
    # integer past 64 bits) or an annotation that is not a string skips this memo.
    sharing_value = annotations.get(SHARING_ANNOTATION) if annotations is not None else None
    spec_key: tuple[bytes, str | None] | None = None
    if sharing_value is None or isinstance(sharing_value, str):
        try:
            written = orjson.dumps(spec)
        except TypeError:
            written = b""
        if 0 < len(written) <= _SPEC_KEY_MAX:  # bounded: specs come from users
            spec_key = (written, sharing_value)
            known: PodEstimate | None = index.by_spec.get(spec_key)
            if known is not None:
                return known
    raw = requesting.effective_requests(spec)
    cpu = raw.get("cpu", _ZERO)
    memory_gib = raw.get("memory", _ZERO) / GIB
    accelerators = index.accelerator_resources
    wanted = [
        (name, int(count))
        for name, count in raw.items()
        if count and (name in accelerators or name.startswith(MIG_PREFIX))
    ]
    notes: list[str] = []
    if not raw or not (cpu or memory_gib or wanted):
        notes.append("no resource requests (BestEffort): the pod reserves nothing, priced at 0")
    terms = placing.node_terms(spec, aliases=catalog.accelerator_aliases, notes=notes)
    capacity = _capacity_type(terms, spec, notes)
    sharing = _sharing_replicas(annotations, wanted, notes)
    # Pods repeat: the pods of one workload, and the mutate and validate calls for each,
    # read the same requests and placement. What is left is a pure function of this key and
    # the catalog, so it is memoised per catalog index (a new catalog starts empty). Safe:
    # the key holds every input, Decimals by their exact text (`1` and `1.0` cost alike but
    # print differently; the decimal context is the default, which costwarden never
    # changes), and a PodEstimate is immutable.
    key = (
        tuple([term.key() for term in terms]),
        capacity, str(cpu), str(memory_gib), tuple(wanted), sharing, tuple(notes),
    )  # fmt: skip
    found: PodEstimate | None = index.priced.get(key)
    if found is None:
        found = _price(
            terms, catalog=catalog, index=index, capacity=capacity, cpu=cpu,
            memory_gib=memory_gib, wanted=wanted, sharing=sharing, notes=notes,
        )  # fmt: skip
        index.priced.put(key, found)
    if found.hourly.total > MAX_POD_HOURLY:
        raise InvalidObject(
            f"requests priced at more than {MAX_POD_HOURLY} {catalog.currency}/h for one pod: "
            "no node offers that much",
            requesting.heaviest_section(spec),
        )
    if spec_key is not None:
        index.by_spec.put(spec_key, found)
    return found


_SPEC_KEY_MAX = 16 * 1024
"""Bytes of spec JSON kept as a memo key, at most (a pod spec is 1-3 KiB)."""


def _price(
    terms: list[placing.Term],
    *,
    catalog: Catalog,
    index: indexes.Index,
    capacity: CapacityType,
    cpu: Decimal,
    memory_gib: Decimal,
    wanted: list[tuple[str, int]],
    sharing: int,
    notes: list[str],
) -> PodEstimate:
    """The pod priced on the cheapest of the node-selector terms it may run on."""
    best: _Candidate | None = None
    for term in [t for t in terms if capacity in t.capacity] or terms:
        unnamed: list[str] = []
        candidate = _on_instance(
            term, index=index, capacity=capacity, cpu=cpu, memory_gib=memory_gib,
            wanted=wanted, sharing=sharing, unnamed=unnamed,
        )  # fmt: skip
        if candidate is None:
            candidate = _at_fallback_rates(
                term, index=index, capacity=capacity, cpu=cpu, memory_gib=memory_gib,
                wanted=wanted, sharing=sharing,
            )  # fmt: skip
            candidate.notes[:0] = unnamed
        if best is None or candidate.hourly.total < best.hourly.total:
            best = candidate
    assert best is not None  # node_terms always returns at least one term
    # Positional arguments, in field order: this runs for every pod not seen before.
    return PodEstimate(
        Requests(cpu, memory_gib, best.accelerators),
        best.placement,
        best.hourly,
        catalog.currency,
        catalog.version,
        (*notes, *best.notes),
    )


class _Candidate:
    """One way the pod could be placed, and its price there."""

    __slots__ = ("accelerators", "hourly", "misfit", "notes", "placement")

    def __init__(
        self,
        *,
        hourly: Breakdown,
        placement: Placement,
        accelerators: tuple[AcceleratorRequest, ...],
        notes: list[str],
        misfit: str = "",
    ) -> None:
        self.hourly = hourly
        self.placement = placement
        self.accelerators = accelerators
        self.notes = notes
        self.misfit = misfit  # why the requests do not fit ("" when they do)


def _on_instance(
    term: placing.Term,
    *,
    index: indexes.Index,
    capacity: CapacityType,
    cpu: Decimal,
    memory_gib: Decimal,
    wanted: list[tuple[str, int]],
    sharing: int,
    unnamed: list[str],
) -> _Candidate | None:
    """The cheapest instance type the term allows that fits.

    None if the term names no instance type of the catalog (and why, into `unnamed`).
    """
    if term.types is None and term.families is None:
        return None
    known = []
    unknown = []
    for name in _allowed_types(term, index):
        instance = index.instances.get(name)
        if instance is None:
            unknown.append(name)
        else:
            known.append(instance)
    notes = []
    if unknown:
        notes.append(f"instance type {', '.join(unknown)} not in the catalog")
    if term.models is not None:
        matching = [i for i in known if i.model is not None and i.model.model in term.models]
        if matching:
            known = matching
    if not known:
        unnamed.extend(notes)
        return None
    options = [
        _price_on(
            instance, capacity=capacity, cpu=cpu, memory_gib=memory_gib, wanted=wanted,
            sharing=sharing, mig_profile=term.mig_profile,
        )
        for instance in known
    ]  # fmt: skip
    if len(options) == 1:  # the common case: one instance type named
        best = options[0]
        if best.misfit:
            notes.append(_misfit_note(best))
        best.notes[:0] = notes
        return best
    # Cheapest instance first (what Karpenter launches for a pending pod), then the
    # smaller share of it.
    ranked = sorted(
        zip(known, options, strict=True),
        key=lambda pair: (pair[0].prices[capacity], pair[1].hourly.total),
    )
    fitting = [option for _, option in ranked if not option.misfit]
    if fitting:
        best = fitting[0]
        if len(known) > 1:
            notes.append(
                f"{len(known)} instance types allowed: priced on {best.placement.instance_type},"
                " the cheapest instance that fits"
            )
    else:
        best = ranked[0][1]
        notes.append(_misfit_note(best))
    best.notes[:0] = notes
    return best


def _misfit_note(candidate: _Candidate) -> str:
    return (
        f"requests do not fit {candidate.placement.instance_type} ({candidate.misfit}): the "
        "pod could not be scheduled there; priced with its requests clamped to the instance"
    )


def _allowed_types(term: placing.Term, index: indexes.Index) -> list[str]:
    if (
        term.types is not None
        and term.families is None
        and not term.excluded_types
        and not term.excluded_families
    ):
        return sorted(term.types)
    if term.types is not None:
        names = set(term.types)
        if term.families is not None:
            names = {n for n in names if indexes.family_of(n) in term.families}
    else:
        assert term.families is not None
        names = {n for f in term.families for n in index.families.get(f, ())}
    if term.excluded_types:
        names -= term.excluded_types
    if term.excluded_families:
        names = {n for n in names if indexes.family_of(n) not in term.excluded_families}
    return sorted(names)


def _price_on(
    instance: indexes.Instance,
    *,
    capacity: CapacityType,
    cpu: Decimal,
    memory_gib: Decimal,
    wanted: list[tuple[str, int]],
    sharing: int,
    mig_profile: str | None,
) -> _Candidate:
    """The pod on `instance`: its share of each part of the instance's price."""
    spec = instance.spec
    misfits = []
    if cpu > spec.vcpu:
        misfits.append(f"cpu {cpu} > {spec.vcpu}")
        cpu = spec.vcpu
    if memory_gib > spec.memory_gib:
        misfits.append(f"memory {memory_gib:.2f} GiB > {spec.memory_gib} GiB")
        memory_gib = spec.memory_gib
    accelerators = []
    notes = []
    devices = _ZERO
    model = instance.model
    for resource, count in wanted:
        made = None
        if model is not None and indexes.served_by(resource) == instance.served_by:
            made = _accelerator_request(resource, count, model, sharing, mig_profile)
        if made is None:
            misfits.append(f"{resource} not offered")
            accelerators.append(AcceleratorRequest(resource, count, _ZERO))
            continue
        request, note = made
        accelerators.append(request)
        devices += request.devices
        if note:
            notes.append(note)
    if devices > instance.devices:
        misfits.append(f"{devices.normalize():f} devices > {instance.devices}")
        devices = instance.devices
    return _Candidate(
        hourly=_split(instance, capacity, cpu=cpu, memory_gib=memory_gib, devices=devices),
        placement=instance.placements[capacity, model is not None and bool(devices)],
        accelerators=tuple(accelerators),
        notes=notes,
        misfit="; ".join(misfits),
    )


def _split(
    instance: indexes.Instance,
    capacity: CapacityType,
    *,
    cpu: Decimal,
    memory_gib: Decimal,
    devices: Decimal,
) -> Breakdown:
    """The pod's share of the instance's price, part by part (docs/cost-model.md).

    share = price × (cpu × $/vCPU-h + GiB × $/GiB-h + devices × $/device-h) ÷ weight.
    The total is computed in one division so that a pod filling the instance pays exactly
    its price; the other parts are carried to 1e-18 $ (an exact decimal, so that the three
    parts add up to the total exactly) and the last non-zero part takes what they leave.
    """
    price = instance.prices[capacity]
    weight = instance.weight
    rates = instance.list_rates
    if not weight:  # a catalog with zero list rates: charge by vCPU alone
        return Breakdown(price * cpu / instance.spec.vcpu, _ZERO, _ZERO)
    cpu_weight = cpu * rates.cpu
    memory_weight = memory_gib * rates.memory
    device_weight = devices * instance.device_list
    total = price * (cpu_weight + memory_weight + device_weight) / weight
    cpu_part = (price * cpu_weight / weight).quantize(_ATTO)
    if device_weight:
        memory_part = (price * memory_weight / weight).quantize(_ATTO)
        return Breakdown(cpu_part, memory_part, total - cpu_part - memory_part)
    if memory_weight:
        return Breakdown(cpu_part, total - cpu_part, _ZERO)
    return Breakdown(total, _ZERO, _ZERO)


def _at_fallback_rates(
    term: placing.Term,
    *,
    index: indexes.Index,
    capacity: CapacityType,
    cpu: Decimal,
    memory_gib: Decimal,
    wanted: list[tuple[str, int]],
    sharing: int,
) -> _Candidate:
    """The pod priced without an instance type: list rates for each part."""
    rates = index.fallback[capacity]
    notes = [index.fallback_note[capacity]] if cpu or memory_gib else []
    accelerators = []
    accelerator_cost = _ZERO
    first_model = None
    for resource, count in wanted:
        priced_as = _priced_as(resource, term.mig_profile)
        model, how = _choose_model(priced_as, term, index)
        made = (
            _accelerator_request(resource, count, model, sharing, term.mig_profile)
            if model
            else None
        )
        if model is None or made is None:
            notes.append(f"{resource}: no matching accelerator in the catalog; not priced")
            accelerators.append(AcceleratorRequest(resource, count, _ZERO))
            continue
        request, note = made
        if how:
            notes.append(how)
        if note:
            notes.append(note)
        accelerators.append(request)
        accelerator_cost += request.devices * index.model_prices[model.model][capacity]
        first_model = first_model or model.model
    return _Candidate(
        hourly=Breakdown(rates.cpu * cpu, rates.memory * memory_gib, accelerator_cost),
        placement=index.fallback_placements[capacity, first_model],
        accelerators=tuple(accelerators),
        notes=notes,
    )


def _choose_model(
    resource: str, term: placing.Term, index: indexes.Index
) -> tuple[Accelerator | None, str]:
    """The model a request is priced as, and a note when the pod did not name one."""
    parent_memory = None
    if resource.startswith(MIG_PREFIX):
        profile = _mig_profile(resource)
        if profile is None:
            return None, ""
        parent_memory = MIG_PARENT_MEMORY_GB.get(f"{profile[0]}g.{profile[1]}gb")
        candidates: tuple[Accelerator, ...] = tuple(
            m
            for m in index.mig_models
            if m.memory_gib is not None
            and (m.memory_gib == parent_memory if parent_memory else m.memory_gib >= profile[1])
        )
        kind = "MIG-capable GPU"
        if parent_memory:
            kind += f" with {parent_memory} GB (what the profile is cut from)"
    else:
        served_by = indexes.served_by(resource)
        candidates = index.models_by_resource.get(served_by, ())
        kind = f"{served_by} model"
    allowed = candidates
    if term.excluded_models:
        allowed = tuple(m for m in candidates if m.model not in term.excluded_models)
    if term.models is not None:
        named = [m for m in allowed if m.model in term.models]
        if len(named) == 1:
            return named[0], ""
        if named:
            return named[
                0
            ], f"{resource}: several models allowed; priced as {named[0].model}, the cheapest"
    if not allowed:
        return None, ""
    return allowed[0], (
        f"{resource}: model not named; priced as {allowed[0].model}, the cheapest {kind} "
        "in the catalog"
    )


def _accelerator_request(
    resource: str, count: int, model: Accelerator, sharing: int, mig_profile: str | None
) -> tuple[AcceleratorRequest, str] | None:
    """The request in whole devices of `model`, and how (None: `model` cannot serve it)."""
    note = ""
    priced_as = _priced_as(resource, mig_profile)
    if priced_as.startswith(MIG_PREFIX):
        profile = _mig_profile(priced_as)
        if profile is None or not model.mig_slices:
            return None
        devices = Decimal(count * profile[0]) / Decimal(model.mig_slices)
        note = (
            f"{priced_as}: {count} × {profile[0]}/{model.mig_slices} of one {model.model} "
            f"({profile[0]} of its {model.mig_slices} compute slices) = "
            f"{count * profile[0]}/{model.mig_slices} GPU"
        )
        if priced_as != resource:
            note = f"{resource} on single-strategy MIG nodes is {priced_as}; {note}"
    elif resource == "nvidia.com/gpu.shared":
        devices = Decimal(count) / Decimal(sharing)
        note = (
            f"nvidia.com/gpu.shared: {sharing} pods share one GPU (annotate "
            f"{SHARING_ANNOTATION} to change): {count} × 1/{sharing} of one {model.model}"
        )
    elif resource == "aws.amazon.com/neuroncore":
        cores = NEURONCORES_PER_DEVICE.get(model.model, DEFAULT_NEURONCORES_PER_DEVICE)
        devices = Decimal(count) / Decimal(cores)
        note = (
            f"aws.amazon.com/neuroncore: {cores} NeuronCores per {model.model} device: "
            f"{count} × 1/{cores} device"
        )
    else:
        devices = Decimal(count)
    return AcceleratorRequest(resource, count, devices), note


def _priced_as(resource: str, mig_profile: str | None) -> str:
    """`nvidia.com/gpu` on single-strategy MIG nodes is one slice of the node's profile."""
    if mig_profile is not None and resource == "nvidia.com/gpu":
        return MIG_PREFIX + mig_profile
    return resource


@lru_cache(maxsize=64)
def _mig_profile(resource: str) -> tuple[int, int] | None:
    match = _MIG_PROFILE.match(resource)
    return (int(match[1]), int(match[2])) if match else None


def _capacity_type(
    terms: list[placing.Term], spec: Mapping[str, Any], notes: list[str]
) -> CapacityType:
    allowed: frozenset[str] = terms[0].capacity
    for term in terms[1:]:
        allowed |= term.capacity
    chosen, choice_notes = _capacity_choice(allowed)
    notes.extend(choice_notes)
    if chosen is None:
        return "on-demand"
    tolerated = placing.tolerated_spot_taints(spec)
    if chosen == "spot":
        selector = spec.get("nodeSelector") or {}
        key, value = capacity.AKS_SPOT_TAINT
        if selector.get(key) == value and capacity.AKS_SPOT_TAINT not in tolerated:
            notes.append(
                f"requires AKS Spot nodes but does not tolerate their taint {key}={value}:"
                "NoSchedule; it would stay Pending"
            )
    elif tolerated:
        taints = ", ".join(f"{k}={v}" for k, v in tolerated)
        notes.append(f"tolerates the Spot taint {taints} but does not require Spot nodes")
    return chosen


@lru_cache(maxsize=16)  # `allowed` is one of the 8 subsets of the capacity types
def _capacity_choice(allowed: frozenset[str]) -> tuple[CapacityType | None, tuple[str, ...]]:
    """The capacity type a pod allowed `allowed` is priced on (None: none is allowed, which
    prices it on-demand), and the notes saying why."""
    chosen = next((c for c in _CAPACITY_PREFERENCE if c in allowed), None)
    if chosen is None:
        return None, (
            "the pod's capacity-type requirements exclude every capacity type (no node "
            "matches); priced on-demand",
        )
    notes = []
    if allowed == capacity.TYPES:
        notes.append("no capacity type required: priced on-demand")
    elif len(allowed) > 1:
        notes.append(
            f"may run on {' or '.join(sorted(allowed))}: priced {chosen}, the conservative choice"
        )
    if chosen == "reserved":
        notes.append("reserved capacity priced at the on-demand price (no reserved rates)")
    return chosen, tuple(notes)


def _sharing_replicas(
    annotations: Mapping[str, Any] | None, wanted: list[tuple[str, int]], notes: list[str]
) -> int:
    if annotations is None or not any(r == "nvidia.com/gpu.shared" for r, _ in wanted):
        return DEFAULT_SHARING_REPLICAS
    value = annotations.get(SHARING_ANNOTATION)
    if value is None:
        return DEFAULT_SHARING_REPLICAS
    if not (isinstance(value, str) and value.isdigit() and int(value) > 0):
        notes.append(f"{SHARING_ANNOTATION}={value!r} is not a positive integer; ignored")
        return DEFAULT_SHARING_REPLICAS
    return int(value)


def _pointer_path(pointer: str) -> tuple[PathPart, ...]:
    return tuple(pointer.split("/")[1:]) if pointer else ()
