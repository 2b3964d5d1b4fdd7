"""Pricing a pod: effective requests × where it runs × the catalog's prices (pure).

The cost model (docs/cost-model.md):

* On a catalog instance type, the instance's price (on-demand, Spot, or on-demand for
  reserved) is split into cpu, memory and accelerator parts in proportion to the catalog's
  fallback $/vCPU-h, $/GiB-h and the accelerator model's $/device-h; the pod pays its
  request's share of each part (requests above the instance's capacity are clamped to
  it). A pod that fills an instance exactly costs exactly the instance's price.
* Without an instance type, accelerators cost their model's $/device-h (its Spot price,
  or the fallback Spot discount, on Spot) and cpu/memory the fallback rates.
* Where the pod leaves a choice open, the estimate is a range: the low end is the
  cheapest placement the pod allows, the high end the dearest (equal when the pod is
  pinned to one catalogued instance type). Instance types: every type the pod's
  instance-type or family labels allow that the catalog lists (and the requests fit);
  accelerator models, without an instance type: every model of the catalog the pod's
  model labels allow. Capacity type is one choice, the conservative one: on-demand unless
  the pod can only run on Spot (reserved if it can only run on reserved or Spot). Every
  choice is written into `PodEstimate.assumptions`, why it is a range into
  `PodEstimate.range_reasons`.
* What the catalog lacks is never guessed: an instance type or family it does not list, a
  model label value it does not know, an accelerator resource with no model makes the
  estimate *unpriced* (`PodEstimate.unpriced` says what is missing); its figures are then
  only what the catalog could price. Devices are counted all the same.

Nothing is rounded here; callers quantize for display.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from costwarden import workloads
from costwarden.catalog.models import Accelerator, Catalog
from costwarden.estimating import capacity, claims, indexes, placing, requesting
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
MIG_COMPUTE_SLICES = Decimal(7)
"""Compute slices of a MIG-capable GPU (A100 and H100: NVIDIA MIG user guide), for a MIG
request no catalog model prices."""

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
    obj: Mapping[str, Any],
    *,
    catalog: Catalog,
    memos: Memos | None = None,
    dra: claims.DraObjects | None = None,
) -> WorkloadEstimate | None:
    """The estimate of a Pod or workload (pods at once × one pod), or of a ResourceClaim
    pods share (`claims.estimate_claim`); None for an object that runs no pods.

    Raises `workloads.InvalidObject` (path relative to `obj`) for a malformed object.
    """
    template = workloads.pod_template(obj)
    if template is None:  # a shared ResourceClaim is charged once, on its own
        return claims.estimate_claim(obj, catalog=catalog, dra=dra, memos=memos)
    return estimate_template(template, catalog=catalog, memos=memos, dra=dra)


def estimate_template(
    template: workloads.PodTemplate,
    *,
    catalog: Catalog,
    memos: Memos | None = None,
    dra: claims.DraObjects | None = None,
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
            dra=dra,
            namespace=template.namespace,
        )
    except InvalidObject as exc:
        raise exc.within((*_pointer_path(template.pointer), "spec")) from None
    # Positional arguments, in field order: this runs on every review.
    return WorkloadEstimate(
        template.kind,
        template.name,
        template.namespace,
        pod,
        template.pods,
        template.assumptions,
        template.runs,
    )


def estimate_pod(
    spec: Mapping[str, Any],
    *,
    catalog: Catalog,
    annotations: Mapping[str, Any] | None = None,
    memos: Memos | None = None,
    dra: claims.DraObjects | None = None,
    namespace: str | None = None,
) -> PodEstimate:
    """The hourly cost of one pod with this spec (annotations: its metadata's, if any).

    `dra`: the DRA objects its claims name, `namespace` the pod's (`claims.resolve`).
    Raises `workloads.InvalidObject` (path relative to the spec) for a malformed spec.
    """
    index = indexes.index(catalog, memos=memos)
    # The one annotation read is validated before anything keeps it: a memo key or a note
    # holds its value as a bounded number, or a clipped name of what it was.
    sharing_value = annotations.get(SHARING_ANNOTATION) if annotations is not None else None
    sharing_read = _sharing_replicas(sharing_value)
    # The pods of a workload, and the mutate and validate calls for each, send the same
    # spec: keyed on the spec's JSON (and the annotation as read), a repeat is one
    # serialisation and one lookup, not requests, selectors and affinity read again.
    # Equal JSON, keys in the same order, means equal input (key order too: it orders the
    # notes), and the estimate is a pure function of it; a spec orjson will not write (an
    # integer past 64 bits) skips this memo.
    spec_key: tuple[bytes, tuple[int, str], Any, Any] | None = None
    # DRA: the DRA-backed extended resources are part of the key; a pod naming claims is
    # keyed by the DRA objects too — `dra` (held by the key) and its generation, read before
    # they are, so a change to them is a new key — and by its namespace, where its claims are.
    extended = dra.extended_resources() if dra is not None else ()
    claimed = None
    if dra is not None and claims.uses_dra(spec):
        claimed = (dra, dra.generation(), namespace)
    try:
        written = orjson.dumps(spec)
    except TypeError:
        written = b""
    if 0 < len(written) <= _SPEC_KEY_MAX:  # bounded: specs come from users
        spec_key = (written, sharing_read, extended, claimed)
        known: PodEstimate | None = index.by_spec.get(spec_key)
        if known is not None:
            return known
    raw = requesting.effective_requests(spec)
    cpu = raw.get("cpu", _ZERO)
    memory_gib = raw.get("memory", _ZERO) / GIB
    wanted = accelerators_requested(raw, index=index)
    notes: list[str] = []
    if not raw or not (cpu or memory_gib or wanted):
        notes.append("no resource requests (BestEffort): the pod reserves nothing, priced at 0")
    terms = placing.node_terms(spec, aliases=catalog.accelerator_aliases, notes=notes)
    capacity = _capacity_type(terms, spec, notes)
    sharing = DEFAULT_SHARING_REPLICAS
    if any(resource == "nvidia.com/gpu.shared" for resource, _ in wanted):
        sharing, sharing_note = sharing_read
        if sharing_note:
            notes.append(sharing_note)
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
    without_dra = found
    found = _with_dra(
        found, spec, raw, index=index, dra=dra, extended=extended, namespace=namespace,
        terms=terms, capacity=capacity,
    )  # fmt: skip
    if found.hourly.total > MAX_POD_HOURLY:
        raise InvalidObject(
            f"requests priced at more than {MAX_POD_HOURLY} {catalog.currency}/h for one pod: "
            "no node offers that much",
            requesting.heaviest_section(spec),
        )
    if spec_key is not None and (found is without_dra or claimed is not None):
        index.by_spec.put(spec_key, found)  # not a pod whose devices its key does not say
    return found


_SPEC_KEY_MAX = 16 * 1024
"""Bytes of spec JSON kept as a memo key, at most (a pod spec is 1-3 KiB)."""


def _with_dra(
    found: PodEstimate,
    spec: Mapping[str, Any],
    raw: requesting.Resources,
    *,
    index: indexes.Index,
    dra: claims.DraObjects | None,
    extended: claims.ExtendedResources,
    namespace: str | None,
    terms: list[placing.Term],
    capacity: CapacityType,
) -> PodEstimate:
    """`found` with the devices the pod asks for through DRA (`claims`): its claims, and
    the extended resources a DeviceClass serves that no catalog model prices."""
    by_class = {resource for resource, _ in extended}
    served = {
        name: int(count)
        for name, count in raw.items()
        if count
        and name not in index.accelerator_resources
        and not name.startswith(MIG_PREFIX)
        and (name in by_class or name.startswith(claims.IMPLICIT_EXTENDED_PREFIX))
    }
    if not served and not claims.uses_dra(spec):
        return found
    models = terms[0].models if len(terms) == 1 else None
    devices = claims.resolve(
        spec, namespace=namespace, objects=dra, catalog=index.catalog, extended=served,
        node_models=models, index=index,
    )  # fmt: skip
    # The pods of a workload resolve to equal devices: one pricing of them, held with the
    # estimate it extends (so its identity is not reused while the entry lives).
    key = ("dra", found, devices, capacity)
    priced: PodEstimate | None = index.priced.get(key)
    if priced is None:
        priced = claims.priced_with(found, devices, catalog=index.catalog, capacity=capacity)
        index.priced.put(key, priced)
    return priced


def accelerators_requested(
    requests: requesting.Resources, *, index: indexes.Index
) -> list[tuple[str, int]]:
    """The accelerators a pod asks for, as (resource, count): the one place they are
    gathered, so every rule (GPU limits, budgets) sees the same devices.

    Today: extended resources (`nvidia.com/gpu`, MIG slices, `amd.com/gpu`, Neuron, TPU,
    Gaudi, and any resource a catalog model names). Devices asked for through Dynamic
    Resource Allocation join the estimate after it is priced (`claims.priced_with`).
    """
    accelerators = index.accelerator_resources
    return [
        (name, int(count))
        for name, count in requests.items()
        if count and (name in accelerators or name.startswith(MIG_PREFIX))
    ]


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
    """The pod priced over every placement its node-selector terms allow: the cheapest is
    the low end, the dearest the high end; what the catalog lacks makes it unpriced."""
    options: list[_Candidate] = []
    unpriced: list[str] = []
    reasons: list[str] = []
    allowed = [t for t in terms if capacity in t.capacity] or terms
    for term in allowed:
        found = _on_instance(
            term, index=index, capacity=capacity, cpu=cpu, memory_gib=memory_gib,
            wanted=wanted, sharing=sharing,
        )  # fmt: skip
        if found is None:
            found = _at_fallback_rates(
                term, index=index, capacity=capacity, cpu=cpu, memory_gib=memory_gib,
                wanted=wanted, sharing=sharing,
            )  # fmt: skip
        options.extend(found.options)
        _extend_new(unpriced, found.unpriced)
        _extend_new(reasons, found.reasons)
    if not options:  # nothing the catalog prices: the pod's devices, still counted
        options.append(_nothing_known(allowed, capacity=capacity, wanted=wanted, sharing=sharing))
    fitting = [option for option in options if not option.misfit] or options
    low = min(fitting, key=_total)
    high = max(fitting, key=_total)
    if len(allowed) > 1 and low.hourly.total != high.hourly.total and not reasons:
        reasons.append(f"{len(allowed)} node-affinity terms allowed, each priced")
    extra = list(high.notes)
    if low is not high:
        _extend_new(extra, low.notes)
    # Positional arguments, in field order: this runs for every pod not seen before.
    return PodEstimate(
        Requests(cpu, memory_gib, high.accelerators),
        high.placement,
        high.hourly,
        catalog.currency,
        catalog.version,
        (*notes, *extra),
        None if low is high else low.hourly,
        None if low is high else low.placement,
        tuple(reasons),
        tuple(unpriced),
    )


def _total(candidate: _Candidate) -> Decimal:
    return candidate.hourly.total


def _extend_new(into: list[str], items: list[str]) -> None:
    for item in items:
        if item not in into:
            into.append(item)


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


class _Options:
    """What one node-selector term allows: the placements the catalog prices, why they
    differ, and what the catalog lacks."""

    __slots__ = ("options", "reasons", "unpriced")

    def __init__(self) -> None:
        self.options: list[_Candidate] = []
        self.reasons: list[str] = []
        self.unpriced: list[str] = []


def _on_instance(
    term: placing.Term,
    *,
    index: indexes.Index,
    capacity: CapacityType,
    cpu: Decimal,
    memory_gib: Decimal,
    wanted: list[tuple[str, int]],
    sharing: int,
) -> _Options | None:
    """The pod on each instance type the term allows (None: the term names none).

    An instance type, or a family, the catalog lacks makes the pod unpriced: its price is
    never borrowed from another type (nor its family guessed from its name).
    """
    if term.types is None and term.families is None:
        return None
    result = _Options()
    known = []
    for name in _allowed_types(term, index):
        instance = index.instances.get(name)
        if instance is None:
            result.unpriced.append(f"instance type {_label(name)} not in the catalog")
        else:
            known.append(instance)
    if term.types is None and term.families is not None:
        result.unpriced.extend(
            f"instance family {_label(family)} not in the catalog"
            for family in sorted(term.families)
            if family not in index.families
        )
    if wanted and term.unknown_models:
        result.unpriced.extend(_unknown_models(term))
    if term.models is not None:
        matching = [i for i in known if i.model is not None and i.model.model in term.models]
        if matching:
            known = matching
    options = [
        _price_on(
            instance, capacity=capacity, cpu=cpu, memory_gib=memory_gib, wanted=wanted,
            sharing=sharing, mig_profile=term.mig_profile,
        )
        for instance in known
    ]  # fmt: skip
    fitting = [option for option in options if not option.misfit]
    for option in options if not fitting else ():
        option.notes.insert(0, _misfit_note(option))
    chosen = fitting or options
    if len(chosen) > 1:
        low, high = min(chosen, key=_total), max(chosen, key=_total)
        if low.hourly.total != high.hourly.total:
            result.reasons.append(
                f"{len(chosen)} instance types allowed{' that fit' if fitting else ''}: from "
                f"{low.placement.instance_type} (low) to {high.placement.instance_type} (high)"
            )
    result.options = chosen
    return result


def _unknown_models(term: placing.Term) -> list[str]:
    return [
        f"accelerator model {_label(label)} not in the catalog"
        for label in sorted(term.unknown_models)
    ]


def _nothing_known(
    terms: list[placing.Term],
    *,
    capacity: CapacityType,
    wanted: list[tuple[str, int]],
    sharing: int,
) -> _Candidate:
    """An unpriced pod the catalog prices no part of: nothing known ($0, a lower bound),
    its devices counted all the same (GPU limits count them priced or not)."""
    types = {name for term in terms for name in (term.types or ())}
    mig_profile = next((t.mig_profile for t in terms if t.mig_profile), None)
    return _Candidate(
        hourly=Breakdown(_ZERO, _ZERO, _ZERO),
        placement=Placement(
            capacity_type=capacity, instance_type=next(iter(types)) if len(types) == 1 else None
        ),
        accelerators=tuple(
            _unpriced_request(resource, count, sharing, mig_profile) for resource, count in wanted
        ),
        notes=[],
    )


def _unpriced_request(
    resource: str, count: int, sharing: int, mig_profile: str | None
) -> AcceleratorRequest:
    """A request no catalog model prices, in whole devices all the same: a MIG slice as
    its compute slices of 7 (A100 and H100 alike), a shared GPU as 1/`sharing`, a
    NeuronCore as 1/2 device; anything else one device each."""
    priced_as = _priced_as(resource, mig_profile)
    profile = _mig_profile(priced_as) if priced_as.startswith(MIG_PREFIX) else None
    if profile is not None:
        devices = Decimal(count * profile[0]) / MIG_COMPUTE_SLICES
    elif resource == "nvidia.com/gpu.shared":
        devices = Decimal(count) / Decimal(sharing)
    elif resource == "aws.amazon.com/neuroncore":
        devices = Decimal(count) / Decimal(DEFAULT_NEURONCORES_PER_DEVICE)
    else:
        devices = Decimal(count)
    return AcceleratorRequest(resource, count, devices)


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
            accelerators.append(_unpriced_request(resource, count, sharing, mig_profile))
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
) -> _Options:
    """The pod priced without an instance type: cpu and memory at the fallback rates, each
    accelerator at its model's $/device-h — from the cheapest to the dearest model it may
    be (the low and the high end) when the pod does not name one."""
    result = _Options()
    rates = index.fallback[capacity]
    notes = [index.fallback_note[capacity]] if cpu or memory_gib else []
    if wanted and term.unknown_models:
        result.unpriced.extend(_unknown_models(term))
    low_parts: list[AcceleratorRequest] = []
    high_parts: list[AcceleratorRequest] = []
    low_cost = high_cost = _ZERO
    low_model = high_model = None
    for resource, count in wanted:
        models, kind = _models_for(_priced_as(resource, term.mig_profile), term, index)
        made = []
        for model in models:
            request = _accelerator_request(resource, count, model, sharing, term.mig_profile)
            if request is not None:
                cost = request[0].devices * index.model_prices[model.model][capacity]
                made.append((cost, model.model, request))
        if not made:
            if not term.unknown_models:
                result.unpriced.append(f"{resource} has no price in the catalog")
            unpriced = _unpriced_request(resource, count, sharing, term.mig_profile)
            low_parts.append(unpriced)
            high_parts.append(unpriced)
            continue
        made.sort(key=lambda item: (item[0], item[1]))
        cheap, dear = made[0], made[-1]
        low_cost += cheap[0]
        high_cost += dear[0]
        low_parts.append(cheap[2][0])
        high_parts.append(dear[2][0])
        low_model = low_model or cheap[1]
        high_model = high_model or dear[1]
        for note in (dear[2][1], cheap[2][1]):
            if note and note not in notes:
                notes.append(note)
        if cheap[0] != dear[0]:
            named = "several models allowed" if term.models is not None else "model not named"
            result.reasons.append(
                f"{resource}: {named}: from {cheap[1]} (low) to {dear[1]} (high), "
                f"{len(made)} {kind}s in the catalog"
            )
    cpu_memory = (rates.cpu * cpu, rates.memory * memory_gib)
    high = _Candidate(
        hourly=Breakdown(*cpu_memory, high_cost),
        placement=index.fallback_placements[capacity, high_model],
        accelerators=tuple(high_parts),
        notes=notes,
    )
    if low_cost == high_cost and low_model == high_model:
        result.options = [high]
        return result
    low = _Candidate(
        hourly=Breakdown(*cpu_memory, low_cost),
        placement=index.fallback_placements[capacity, low_model],
        accelerators=tuple(low_parts),
        notes=notes,
    )
    result.options = [low, high]
    return result


def _models_for(
    resource: str, term: placing.Term, index: indexes.Index
) -> tuple[tuple[Accelerator, ...], str]:
    """The catalog models a request may run on, given the term's model labels (cheapest
    first), and what kind of model they are (for notes)."""
    parent_memory = None
    if resource.startswith(MIG_PREFIX):
        profile = _mig_profile(resource)
        if profile is None:
            return (), ""
        parent_memory = MIG_PARENT_MEMORY_GB.get(f"{profile[0]}g.{profile[1]}gb")
        candidates: tuple[Accelerator, ...] = tuple(
            m
            for m in index.mig_models
            if m.memory_gib is not None
            and (m.memory_gib == parent_memory if parent_memory else m.memory_gib >= profile[1])
        )
        kind = "MIG-capable GPU"
        if parent_memory:
            kind += f" with {parent_memory} GB"
    else:
        served_by = indexes.served_by(resource)
        candidates = index.models_by_resource.get(served_by, ())
        kind = f"{served_by} model"
    if term.excluded_models:
        candidates = tuple(m for m in candidates if m.model not in term.excluded_models)
    if term.models is not None:
        candidates = tuple(m for m in candidates if m.model in term.models)
    return candidates, kind


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


MAX_SHARING_REPLICAS = 1024
"""The most pods `costwarden.io/gpu-sharing-replicas` may say share one GPU (the NVIDIA
device plugin's time-slicing examples use 4 to 10; MPS serves at most 48 clients)."""
_SHARING = re.compile(r"[1-9][0-9]{0,3}")
_SHOWN = 24
"""Characters of a bad annotation value shown in a note, at most."""


def _sharing_replicas(value: Any) -> tuple[int, str]:
    """Pods per shared GPU the annotation says (the default without it), and a note when it
    is no whole number from 1 to `MAX_SHARING_REPLICAS` (naming the value briefly: a
    value of any size leaves a bounded note and memo key)."""
    if value is None:
        return DEFAULT_SHARING_REPLICAS, ""
    if isinstance(value, str) and _SHARING.fullmatch(value):
        replicas = int(value)
        if replicas <= MAX_SHARING_REPLICAS:
            return replicas, ""
    return DEFAULT_SHARING_REPLICAS, (
        f"{SHARING_ANNOTATION}={_named(value)} is not a whole number from 1 to "
        f"{MAX_SHARING_REPLICAS}; {DEFAULT_SHARING_REPLICAS} assumed"
    )


_LABEL_MAX = 63
"""A label value's most characters (Kubernetes'), as a message names one."""


def _label(value: str) -> str:
    """A label value as a message names it: cut past what Kubernetes allows (a webhook may
    see a value the API server's validation has not refused yet)."""
    return value if len(value) <= _LABEL_MAX else value[:_LABEL_MAX] + "…"


def _named(value: Any) -> str:
    """A value, briefly: quoted when short, else its start and its length."""
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}… ({len(value):,} characters)"


def _pointer_path(pointer: str) -> tuple[PathPart, ...]:
    return tuple(pointer.split("/")[1:]) if pointer else ()
