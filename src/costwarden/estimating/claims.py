"""Accelerators a pod asks for through Dynamic Resource Allocation, as catalog devices (pure).

Kubernetes 1.34 made DRA stable (`resource.k8s.io/v1`). A pod asks for devices in
`spec.resourceClaims[]`, each naming either a ResourceClaimTemplate (`resourceClaimTemplateName`:
one claim is made from it for this pod alone) or an existing ResourceClaim
(`resourceClaimName`: one claim, possibly shared by several pods). A claim's
`devices.requests[]` each ask either `exactly` (a DeviceClass, `count`, `allocationMode`, CEL
`selectors`) or for the `firstAvailable` of several sub-requests. A DeviceClass may also
serve an extended resource (`spec.extendedResourceName`, or the implicit
`deviceclass.resource.kubernetes.io/<class>`), so a plain `resources.limits` entry is
served by DRA. Every claim in `spec.resourceClaims` is allocated before the pod starts,
whether or not a container lists it in `resources.claims`.

`resolve` reads all of that into `PodDevices`: for each request, the catalog models it may
be and how many whole-device equivalents (a MIG `1g.10gb` slice of an H100 is 1/7), or why
it cannot be priced. The mapping, documented in docs/cost-model.md ("Dynamic Resource
Allocation"):

1. The DeviceClass must be known (`DraObjects.device_class`); an unknown class, template or
   claim is *unpriced*, naming it — never zero.
2. A DeviceClass annotated `costwarden.io/accelerator-model` names the catalog model(s) its
   devices are (comma-separated; `none` for devices that are not priced, such as NICs).
3. Otherwise the model comes from the CEL selectors of the class and of the request, where
   they say it plainly: `device.attributes["<driver>"].productName == "NVIDIA H100 80GB HBM3"`
   (or `in [...]`, either quote, `["productName"]` indexing), resolved through the catalog's
   aliases with spaces read as `-` (the GPU feature discovery spelling); MIG through
   `.profile == "1g.10gb"` (`mig.nvidia.com`, or `.type == "mig"`). An expression with `||`,
   `!` or `?` narrows nothing; a clause of any other form is ignored, with a note.
4. Without a model, the range over every catalog model the driver serves (`DRIVERS`), or,
   for MIG without a profile, from one slice of the cheapest MIG model to a whole dearest
   one. The pod's node selectors on the GPU model narrow it (`node_models`).
5. `count` defaults to 1; `allocationMode: All` takes the class's
   `costwarden.io/max-devices` (the most devices of the class one node has), else the
   request is *unpriced*. `firstAvailable` is the range from its cheapest to its dearest
   alternative. An `adminAccess` request holds no device.

A claim named with `resourceClaimName` is charged once, to the claim (its namespace and
owner), not to each pod that uses it: `PodDevices.shared` carries it, resolved, so a caller
can charge it once (`charge_shared`), and the pod's own devices leave it out.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from costwarden.catalog.models import Accelerator, CapacityType, Catalog
from costwarden.documents import format_path
from costwarden.estimating import indexes, pricing
from costwarden.estimating.estimates import (
    AcceleratorRequest,
    Breakdown,
    Placement,
    PodEstimate,
    Requests,
    SharedClaimCharge,
    WorkloadEstimate,
)
from costwarden.memos import Memos
from costwarden.workloads import JSON_OBJECT, InvalidObject, PathPart

GROUP = "resource.k8s.io"
MODEL_ANNOTATION = "costwarden.io/accelerator-model"
"""On a DeviceClass: the catalog model(s) its devices are, comma-separated, or `none`."""
MAX_DEVICES_ANNOTATION = "costwarden.io/max-devices"
"""On a DeviceClass: the most devices of the class one node has (prices `allocationMode: All`)."""
NOT_PRICED = "none"
GENERATED_CLAIM_ANNOTATIONS = (
    "resource.kubernetes.io/pod-claim-name",
    "resource.kubernetes.io/extended-resource-claim",
)
"""On a ResourceClaim the control plane made for one pod, from its template or for a
DRA-backed extended resource: the pod is charged for it, not the claim."""
IMPLICIT_EXTENDED_PREFIX = "deviceclass.resource.kubernetes.io/"
"""Every DeviceClass serves the extended resource of this prefix and its own name."""

DRIVERS: Mapping[str, str] = {
    "gpu.nvidia.com": "nvidia.com/gpu",
    "gpu.amd.com": "amd.com/gpu",
}
"""DRA driver -> the extended resource whose catalog models its devices are (NVIDIA's
k8s-dra-driver-gpu, AMD's k8s-gpu-dra-driver)."""
CLASS_DRIVERS: Mapping[str, tuple[str, bool]] = {
    "gpu.nvidia.com": ("gpu.nvidia.com", False),
    "mig.nvidia.com": ("gpu.nvidia.com", True),
    "gpu.amd.com": ("gpu.amd.com", False),
}
"""DeviceClass name -> (driver, MIG slices) for the classes the drivers' charts install, when
the class's own selectors do not say the driver."""

_MIG_PROFILE = re.compile(r"^(\d+)g\.(\d+)gb")
_ZERO = Decimal(0)


ExtendedResources = tuple[tuple[str, str], ...]


def extended_pairs(classes: Iterable[tuple[str, Mapping[str, Any]]]) -> ExtendedResources:
    """The (extended resource, DeviceClass) pairs of `(name, DeviceClass)`s, sorted; the
    first class by name serves a resource two name."""
    found: dict[str, str] = {}
    for name, device_class in sorted(classes, key=lambda pair: pair[0]):
        resource = _at(device_class, ("spec", "extendedResourceName"))
        if isinstance(resource, str):
            found.setdefault(resource, name)
    return tuple(sorted(found.items()))


class DraObjects(Protocol):
    """The cluster's DRA objects, as the API server stores them (plain mappings).

    In the webhook, a watched cache (`kube.dra`); in `check`, `estimate` and `test`, the
    objects among the manifests (`StaticDraObjects`). Lookups never block."""

    def device_class(self, name: str) -> Mapping[str, Any] | None:
        """The DeviceClass (cluster-scoped), None when there is none."""
        ...

    def claim_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The ResourceClaimTemplate, None when there is none."""
        ...

    def claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The ResourceClaim, None when there is none."""
        ...

    def generation(self) -> Hashable:
        """Changes whenever any of the objects does (read it before looking them up): the
        estimator memoises a pod's devices by it."""
        ...

    def extended_resources(self) -> ExtendedResources:
        """(extended resource, the DeviceClass whose `spec.extendedResourceName` it is),
        sorted: a few pairs, and the same tuple while the classes do not change (a memo
        key: the estimator keys pods by it)."""
        ...


# --- what a resolution says ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """One catalog model a request may be served by, and how much of it."""

    model: str
    devices: Decimal
    """Whole-device equivalents of `model` (count × MIG slices ÷ the model's slices)."""


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """One request of one claim (or one DRA-backed extended resource)."""

    claim: str
    """The pod's `resourceClaims[].name`, or the extended resource's name."""
    request: str
    """The request's name in the claim ("" for an extended resource)."""
    source: str
    """What it was read from: `ResourceClaimTemplate ns/name`, `DeviceClass name`..."""
    choices: tuple[Choice, ...] = ()
    """Every model it may be served by; empty when it holds no priced device."""
    unpriced: str | None = None
    """Why it cannot be priced (then `choices` is empty)."""
    notes: tuple[str, ...] = ()
    resource: str = ""
    """The extended resource its models are requested by without DRA (`nvidia.com/gpu`),
    "" when its choices differ in that or it has none: how GPU-pool hygiene tells a GPU."""
    count: int = 0
    """Devices asked for (the most, over `firstAvailable` alternatives)."""

    @property
    def devices(self) -> tuple[Decimal, Decimal]:
        """Whole-device equivalents, fewest and most."""
        counts = [choice.devices for choice in self.choices] or [_ZERO]
        return min(counts), max(counts)


@dataclass(frozen=True, slots=True)
class SharedClaim:
    """A ResourceClaim named by the pod: charged once, to the claim, not to the pod."""

    namespace: str
    name: str
    requests: tuple[DeviceRequest, ...]

    @property
    def note(self) -> str:
        low, high = _device_range(self.requests)
        return (
            f"shared claim {self.namespace}/{self.name} ({_span(low, high)} devices): charged "
            "once to the claim, not to this pod"
        )


@dataclass(frozen=True, slots=True)
class PodDevices:
    """What a pod asks for through DRA."""

    requests: tuple[DeviceRequest, ...] = ()
    """Charged to the pod: its templates' claims and DRA-backed extended resources."""
    shared: tuple[SharedClaim, ...] = ()
    """Named ResourceClaims: charged to each claim once (`charge_shared`)."""

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Why the pod's devices cannot be priced (empty: they can)."""
        return tuple(r.unpriced for r in self.requests if r.unpriced is not None)

    @property
    def notes(self) -> tuple[str, ...]:
        return (
            *(note for r in self.requests for note in r.notes),
            *(claim.note for claim in self.shared),
        )

    @property
    def devices(self) -> tuple[Decimal, Decimal]:
        """The pod's own whole-device equivalents, fewest and most (shared claims left out)."""
        return _device_range(self.requests)

    def __bool__(self) -> bool:
        return bool(self.requests or self.shared)


NO_DEVICES = PodDevices()


def _device_range(requests: Iterable[DeviceRequest]) -> tuple[Decimal, Decimal]:
    low = high = _ZERO
    for request in requests:
        fewest, most = request.devices
        low += fewest
        high += most
    return low, high


def _span(low: Decimal, high: Decimal) -> str:
    def text(value: Decimal) -> str:
        return f"{value.normalize():f}"

    return text(low) if low == high else f"{text(low)}–{text(high)}"


# --- pricing -------------------------------------------------------------------------------


def hourly(
    requests: Iterable[DeviceRequest], *, catalog: Catalog, capacity: CapacityType
) -> tuple[Decimal, Decimal]:
    """$/h of the requests' devices at their models' per-device prices, lowest and highest
    (unpriced requests count nothing: check `unpriced` first)."""
    low = high = _ZERO
    for request in requests:
        prices = [
            choice.devices * _device_price(catalog, choice.model, capacity)
            for choice in request.choices
        ]
        if prices:
            low += min(prices)
            high += max(prices)
    return low, high


def _device_price(catalog: Catalog, model: str, capacity: CapacityType) -> Decimal:
    accelerator = catalog.accelerators[model]
    if capacity == "spot":
        return catalog.accelerator_spot_hourly(accelerator)
    return accelerator.hourly


def priced_with(
    estimate: PodEstimate, devices: PodDevices, *, catalog: Catalog, capacity: CapacityType
) -> PodEstimate:
    """The pod's estimate with its DRA devices added.

    Its own requests are counted among its accelerators (the most a request may be, as GPU
    limits read them) and priced in its accelerator part, at the models' per-device prices
    for the pod's capacity type. A shared claim is listed but neither counted nor priced:
    it is charged once, to the claim (`estimate_claim`); GPU-pool hygiene still sees a GPU
    pod by its count. A request's range widens the estimate's; what cannot be priced (a
    shared claim's too: its devices are not known) makes it unpriced.
    """
    if not devices:
        return estimate
    low_dra, high_dra = hourly(devices.requests, catalog=catalog, capacity=capacity)
    added = [_counted(r) for r in devices.requests if r.choices or r.unpriced]
    added += [
        _counted(r, shared=c) for c in devices.shared for r in c.requests if r.choices or r.unpriced
    ]
    high, low = estimate.hourly, estimate.low_hourly
    high = Breakdown(high.cpu, high.memory, high.accelerator + high_dra)
    low = Breakdown(low.cpu, low.memory, low.accelerator + low_dra)
    reasons = list(estimate.range_reasons)
    for request in devices.requests:
        fewest, most = hourly([request], catalog=catalog, capacity=capacity)
        if fewest != most:
            models = ", ".join(dict.fromkeys(c.model for c in request.choices))
            reasons.append(f"DRA claim {request.claim}: may be any of {models}")
    unpriced = [*estimate.unpriced, *devices.unpriced]
    unpriced += [why for claim in devices.shared for r in claim.requests if (why := r.unpriced)]
    shared = tuple(_shared_charge(claim, catalog) for claim in devices.shared)
    requests = estimate.requests
    placement, low_placement = estimate.placement, estimate.low_placement
    chosen = [r.choices for r in devices.requests if r.choices]
    if chosen and placement.accelerator_model is None:
        placement = replace(placement, accelerator_model=_dearest(chosen[0], catalog).model)
        cheapest = min(chosen[0], key=lambda c: _device_price(catalog, c.model, capacity))
        low_placement = replace(
            low_placement or estimate.placement, accelerator_model=cheapest.model
        )
    return replace(
        estimate,
        requests=Requests(requests.cpu, requests.memory_gib, (*requests.accelerators, *added)),
        placement=placement,
        hourly=high,
        low=low if (estimate.low is not None or low.total != high.total) else None,
        low_placement=low_placement if low.total != high.total else estimate.low_placement,
        assumptions=(*estimate.assumptions, *devices.notes),
        range_reasons=tuple(dict.fromkeys(reasons)),
        unpriced=tuple(dict.fromkeys(unpriced)),
        shared_claims=(*estimate.shared_claims, *shared),
    )


def _shared_charge(claim: SharedClaim, catalog: Catalog) -> SharedClaimCharge:
    """A shared claim's own $/h, on-demand as `estimate_claim` prices a claim (what cannot
    be priced counts nothing: the pod's estimate says it is unpriced)."""
    low, high = hourly(claim.requests, catalog=catalog, capacity="on-demand")
    chosen = [r.choices for r in claim.requests if r.choices]
    model = _dearest(chosen[0], catalog).model if chosen else None
    return SharedClaimCharge(claim.namespace, claim.name, low, high, model)


def _counted(request: DeviceRequest, *, shared: SharedClaim | None = None) -> AcceleratorRequest:
    """The request as the pod's accelerators list it: its devices counted, a shared claim's
    as `shared` (the claim counts and is charged for them; GPU limits per pod still see what
    the pod may use), its count showing the pod is a GPU pod."""
    where = (
        _label(request.claim, request.request) if shared is None else f"shared claim {shared.name}"
    )
    resource = f"{request.resource or GROUP} (DRA {where})"
    most = _ZERO if request.unpriced else request.devices[1]
    if shared is not None:
        return AcceleratorRequest(resource, request.count, _ZERO, shared=most)
    return AcceleratorRequest(resource, request.count, most)


def unread(accelerators: Iterable[AcceleratorRequest]) -> bool:
    """Whether any of a pod's accelerators are DRA devices of no known resource (a claim
    that cannot be read, models of several vendors): whether it is a GPU pod is unknown."""
    return any(a.resource.startswith(f"{GROUP} ") for a in accelerators)


def _label(claim: str, request: str) -> str:
    """How notes name a request: `claim gpus`, `claim gpus, request h100`, or the extended
    resource."""
    if not request:
        return claim
    return f"claim {claim}" if request == claim else f"claim {claim}, request {request}"


def _dearest(choices: tuple[Choice, ...], catalog: Catalog) -> Choice:
    return max(choices, key=lambda c: c.devices * catalog.accelerators[c.model].hourly)


def estimate_claim(
    obj: Mapping[str, Any], *, catalog: Catalog, dra: DraObjects | None, memos: Memos | None = None
) -> WorkloadEstimate | None:
    """A ResourceClaim priced on its own, once: what the pods that name it are not charged
    (`priced_with`), in the claim's namespace. Its devices are priced on-demand (a claim
    says nothing of capacity type). None for any other object, and for a claim the control
    plane made for one pod (that pod is charged for it)."""
    if not is_dra_object(obj) or obj.get("kind") != "ResourceClaim":
        return None
    metadata = obj.get("metadata")
    if not isinstance(metadata, JSON_OBJECT) or not isinstance(metadata.get("name"), str):
        return None
    annotations = metadata.get("annotations")
    if isinstance(annotations, JSON_OBJECT) and any(
        key in annotations for key in GENERATED_CLAIM_ANNOTATIONS
    ):
        return None
    namespace = metadata.get("namespace")
    namespace = namespace if isinstance(namespace, str) else None
    name = metadata["name"]
    source = f"ResourceClaim {_where(namespace or '', name)}"
    index = indexes.index(catalog, memos=memos)
    reader = _Reader(objects=dra, catalog=catalog, node_models=None, _index=index)
    requests = reader._claim_requests(obj, ("spec",), claim=name, source=source)
    zero = Breakdown(_ZERO, _ZERO, _ZERO)
    base = PodEstimate(
        Requests(_ZERO, _ZERO), Placement("on-demand"), zero, catalog.currency, catalog.version,
        ("a claim's devices are priced on-demand: it says nothing of capacity type",),
    )  # fmt: skip
    pod = priced_with(base, PodDevices(tuple(requests)), catalog=catalog, capacity="on-demand")
    return WorkloadEstimate(
        kind="ResourceClaim", name=name, namespace=namespace, pod=pod, pods=Decimal(1)
    )


def charge_shared(pods: Iterable[PodDevices]) -> dict[tuple[str, str], SharedClaim]:
    """The shared claims of many pods, each once: (namespace, name) -> the claim. What a
    report or a budget charges for them, whatever the number of pods that use them."""
    charged: dict[tuple[str, str], SharedClaim] = {}
    for pod in pods:
        for claim in pod.shared:
            charged.setdefault((claim.namespace, claim.name), claim)
    return charged


# --- reading a pod -------------------------------------------------------------------------


def resolve(
    spec: Mapping[str, Any],
    *,
    namespace: str | None,
    objects: DraObjects | None,
    catalog: Catalog,
    extended: Mapping[str, int] | None = None,
    node_models: frozenset[str] | None = None,
    index: indexes.Index | None = None,
) -> PodDevices:
    """The devices the pod spec asks for through DRA.

    `extended`: the pod's extended resources that nothing else prices (resource -> count),
    checked against the DeviceClasses that serve extended resources. `node_models`: the
    GPU models the pod's node selectors allow (None: any). `index`: the catalog's index,
    when the caller has it (`indexes.index`; built afresh otherwise).

    Raises `workloads.InvalidObject` (path relative to the spec) when the spec's own
    `resourceClaims` or containers' `resources.claims` are malformed; what is wrong with the
    DRA objects it names makes a request unpriced instead, naming the object and path.
    """
    entries = _pod_claims(spec)
    reader = _Reader(objects=objects, catalog=catalog, node_models=node_models, _index=index)
    ns = namespace or ""
    requests: list[DeviceRequest] = []
    shared: list[SharedClaim] = []
    for name, kind, target in entries:
        if kind == "template":
            requests.extend(reader.template(ns, target, claim=name))
        else:
            found = reader.shared(ns, target, claim=name)
            if isinstance(found, SharedClaim):
                shared.append(found)
            else:
                requests.append(found)
    for resource, count in sorted((extended or {}).items()):
        request = reader.extended(resource, count)
        if request is not None:
            requests.append(request)
    if not requests and not shared:
        return NO_DEVICES
    return PodDevices(tuple(requests), tuple(shared))


def uses_dra(spec: Mapping[str, Any]) -> bool:
    """Whether the spec names any claim (cheap: no lookups)."""
    return bool(spec.get("resourceClaims"))


def _pod_claims(spec: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(entry name, "template" | "claim", object name) of `spec.resourceClaims`, and the
    containers' `resources.claims` checked against them, as the API server checks them."""
    entries = spec.get("resourceClaims")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise InvalidObject("expected a list of pod resource claims", ("resourceClaims",))
    found: list[tuple[str, str, str]] = []
    names = set()
    for i, entry in enumerate(entries):
        at: tuple[PathPart, ...] = ("resourceClaims", i)
        if not isinstance(entry, JSON_OBJECT):
            raise InvalidObject("expected a pod resource claim (a mapping)", at)
        name = _text(entry.get("name"), (*at, "name"))
        if name in names:
            raise InvalidObject(f"duplicate claim name {name!r}", (*at, "name"))
        names.add(name)
        template = entry.get("resourceClaimTemplateName")
        claim = entry.get("resourceClaimName")
        if (template is None) == (claim is None):
            raise InvalidObject(
                "exactly one of resourceClaimName and resourceClaimTemplateName must be set", at
            )
        if template is not None:
            found.append((name, "template", _text(template, (*at, "resourceClaimTemplateName"))))
        else:
            found.append((name, "claim", _text(claim, (*at, "resourceClaimName"))))
    for key in ("initContainers", "containers"):
        containers = spec.get(key)
        if not isinstance(containers, list):
            continue
        for i, container in enumerate(containers):
            resources = container.get("resources") if isinstance(container, JSON_OBJECT) else None
            claims = resources.get("claims") if isinstance(resources, JSON_OBJECT) else None
            if claims is None:
                continue
            at = (key, i, "resources", "claims")
            if not isinstance(claims, list):
                raise InvalidObject("expected a list of claims", at)
            for j, used in enumerate(claims):
                if not isinstance(used, JSON_OBJECT):
                    raise InvalidObject("expected a claim (a mapping with a name)", (*at, j))
                if _text(used.get("name"), (*at, j, "name")) not in names:
                    raise InvalidObject(
                        f"names no entry of spec.resourceClaims ({', '.join(sorted(names))})"
                        if names
                        else "names no entry of spec.resourceClaims (there are none)",
                        (*at, j, "name"),
                    )
    return found


def _text(value: Any, path: tuple[PathPart, ...]) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidObject(f"expected a non-empty string, got {value!r}", path)
    return value


# --- reading DRA objects -------------------------------------------------------------------


@dataclass(slots=True)
class _Reader:
    objects: DraObjects | None
    catalog: Catalog
    node_models: frozenset[str] | None
    _index: indexes.Index | None = field(default=None)

    def template(self, namespace: str, name: str, *, claim: str) -> list[DeviceRequest]:
        source = f"ResourceClaimTemplate {_where(namespace, name)}"
        obj = self.objects.claim_template(namespace, name) if self.objects else None
        if obj is None:
            return [_missing(claim, source, self.objects)]
        return self._claim_requests(obj, ("spec", "spec"), claim=claim, source=source)

    def shared(self, namespace: str, name: str, *, claim: str) -> SharedClaim | DeviceRequest:
        source = f"ResourceClaim {_where(namespace, name)}"
        obj = self.objects.claim(namespace, name) if self.objects else None
        if obj is None:
            return _missing(claim, source, self.objects)
        requests = self._claim_requests(obj, ("spec",), claim=claim, source=source)
        return SharedClaim(namespace, name, tuple(requests))

    def extended(self, resource: str, count: int) -> DeviceRequest | None:
        if resource.startswith(IMPLICIT_EXTENDED_PREFIX):
            class_name: str | None = resource.removeprefix(IMPLICIT_EXTENDED_PREFIX)
        elif self.objects is not None:
            class_name = dict(self.objects.extended_resources()).get(resource)
        else:
            class_name = None
        if class_name is None:
            return None
        request = {"deviceClassName": class_name, "count": count}
        source = f"extended resource {resource}"
        try:
            return self._request(request, (), claim=resource, name="", source=source)
        except InvalidObject as exc:
            return DeviceRequest(resource, "", source, unpriced=f"{source}: {exc.message}")

    def _claim_requests(
        self, obj: Mapping[str, Any], spec_path: tuple[str, ...], *, claim: str, source: str
    ) -> list[DeviceRequest]:
        try:
            requests = _at(obj, (*spec_path, "devices", "requests"))
            if requests is None:
                return []
            where: tuple[PathPart, ...] = (*spec_path, "devices", "requests")
            if not isinstance(requests, list):
                raise InvalidObject("expected a list of device requests", where)
            found = []
            for i, request in enumerate(requests):
                at = (*where, i)
                if not isinstance(request, JSON_OBJECT):
                    raise InvalidObject("expected a device request (a mapping)", at)
                name = _text(request.get("name"), (*at, "name"))
                found.append(self._one_of(request, at, claim=claim, name=name, source=source))
            return found
        except InvalidObject as exc:
            why = f"{source}: {format_path(exc.path)}: {exc.message}"
            return [DeviceRequest(claim, "", source, unpriced=why)]

    def _one_of(
        self, request: Mapping[str, Any], at: tuple[PathPart, ...], **named: str
    ) -> DeviceRequest:
        exactly = request.get("exactly")
        alternatives = request.get("firstAvailable")
        if (exactly is None) == (alternatives is None):
            raise InvalidObject("exactly one of exactly and firstAvailable must be set", at)
        if exactly is not None:
            return self._request(exactly, (*at, "exactly"), **named)
        if not isinstance(alternatives, list) or not alternatives:
            raise InvalidObject("expected a list of sub-requests", (*at, "firstAvailable"))
        read = [
            self._request(sub, (*at, "firstAvailable", i), **named)
            for i, sub in enumerate(alternatives)
        ]
        unpriced = [r.unpriced for r in read if r.unpriced is not None]
        source, claim, name = named["source"], named["claim"], named["name"]
        if unpriced:
            return DeviceRequest(claim, name, source, unpriced=unpriced[0])
        choices = tuple(dict.fromkeys(c for r in read for c in r.choices))
        # What the alternatives say of themselves but their reading (the note below says it).
        notes = tuple(n for r in read for n in r.notes if not n.startswith(_label(claim, name)))
        notes += tuple(n for r in read for n in r.notes if "selector not read" in n)
        low, high = _device_range([DeviceRequest(claim, name, source, choices)])
        models = ", ".join(dict.fromkeys(c.model for c in choices))
        note = (
            f"{_label(claim, name)}: firstAvailable of {len(read)} alternatives ({models}): "
            f"priced from the cheapest to the dearest"
        )
        if low != high:
            note += f", {_span(low, high)} devices"
        resources = {r.resource for r in read if r.choices}
        return DeviceRequest(
            claim, name, source, choices, notes=(*notes, note),
            resource=resources.pop() if len(resources) == 1 else "",
            count=max(r.count for r in read),
        )  # fmt: skip

    def _request(
        self,
        request: Any,
        at: tuple[PathPart, ...],
        *,
        claim: str,
        name: str,
        source: str,
    ) -> DeviceRequest:
        if not isinstance(request, JSON_OBJECT):
            raise InvalidObject("expected a device request (a mapping)", at)
        class_name = _text(request.get("deviceClassName"), (*at, "deviceClassName"))
        label = _label(claim, name)
        device_class = self.objects.device_class(class_name) if self.objects else None
        if device_class is None:
            return _missing(claim, f"DeviceClass {class_name}", self.objects, name=name)
        if request.get("adminAccess") is True:
            note = f"{label}: admin access to {class_name} devices holds none; not priced"
            return DeviceRequest(claim, name, source, notes=(note,))
        count = self._count(request, at, device_class, class_name, label)
        if isinstance(count, str):
            return DeviceRequest(claim, name, source, unpriced=count)
        try:
            own = _selectors(_at(device_class, ("spec", "selectors")), ("spec", "selectors"))
        except InvalidObject as exc:  # the class's mistake, named as the class's
            why = f"{label}: DeviceClass {class_name}: {format_path(exc.path)}: {exc.message}"
            return DeviceRequest(claim, name, source, unpriced=why)
        selectors = [*own, *_selectors(request.get("selectors"), (*at, "selectors"))]
        return self._models(
            device_class, class_name, selectors, count, claim=claim, name=name, source=source
        )

    def _count(
        self,
        request: Mapping[str, Any],
        at: tuple[PathPart, ...],
        device_class: Mapping[str, Any],
        class_name: str,
        label: str,
    ) -> int | str:
        """The devices asked for, or why that is unknown."""
        mode = request.get("allocationMode", "ExactCount") or "ExactCount"
        if mode == "ExactCount":
            count = request.get("count", 1)
            if count is None:
                return 1
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise InvalidObject(
                    f"expected a count of at least 1, got {count!r}", (*at, "count")
                )
            return count
        if mode != "All":
            raise InvalidObject(
                f"unknown allocationMode {mode!r} (ExactCount or All)", (*at, "allocationMode")
            )
        annotations = _at(device_class, ("metadata", "annotations")) or {}
        most = annotations.get(MAX_DEVICES_ANNOTATION) if isinstance(annotations, Mapping) else None
        if isinstance(most, str) and most.isdigit() and int(most) > 0:
            return int(most)
        return (
            f"{label}: allocationMode All takes every matching {class_name} device of a node, "
            f"and how many that is is not known: annotate DeviceClass {class_name} "
            f'{MAX_DEVICES_ANNOTATION}: "<the most devices one node has>"'
        )

    def _models(
        self,
        device_class: Mapping[str, Any],
        class_name: str,
        selectors: list[str],
        count: int,
        *,
        claim: str,
        name: str,
        source: str,
    ) -> DeviceRequest:
        label = _label(claim, name)
        said = _Said()
        for expression in selectors:
            said.read(expression)
        notes = [f"{label}: selector not read, {why}" for why in said.unread]
        driver, mig = CLASS_DRIVERS.get(class_name, (None, False))
        driver = said.driver or driver
        mig = mig or said.type == "mig" or said.profile is not None
        annotations = _at(device_class, ("metadata", "annotations")) or {}
        named = annotations.get(MODEL_ANNOTATION) if isinstance(annotations, Mapping) else None
        candidates: list[Accelerator] = []
        how = ""
        if isinstance(named, str) and named.strip().lower() == NOT_PRICED:
            note = f"{label}: DeviceClass {class_name} is annotated {MODEL_ANNOTATION}: none"
            return DeviceRequest(claim, name, source, notes=(*notes, note))
        if said.products is not None:
            for product in said.products:
                model = _product_model(self.catalog, product)
                if model is None:
                    return DeviceRequest(
                        claim, name, source,
                        unpriced=f"{label}: productName {_brief(product)} is no accelerator "
                        "model of the catalog (add it, or the spelling to a model's aliases)",
                    )  # fmt: skip
                candidates.append(model)
            how = "its selectors' productName"
        elif isinstance(named, str) and named.strip():
            for model_id in (part.strip() for part in named.split(",")):
                model = self.catalog.accelerator_for(model_id)
                if model is None:
                    return DeviceRequest(
                        claim, name, source,
                        unpriced=f"{label}: DeviceClass {class_name} names model {model_id!r} "
                        f"({MODEL_ANNOTATION}), which the catalog lacks",
                    )  # fmt: skip
                candidates.append(model)
            how = f"DeviceClass {class_name}'s {MODEL_ANNOTATION}"
        elif driver is not None and driver in DRIVERS:
            index = self._get_index()
            if mig:
                candidates = list(index.mig_models)
            else:
                candidates = list(index.models_by_resource.get(DRIVERS[driver], ()))
            how = f"any {driver} {'MIG-capable ' if mig else ''}model of the catalog"
        else:
            return DeviceRequest(
                claim, name, source,
                unpriced=f"{label}: DeviceClass {class_name} (driver "
                f"{driver or 'not said'}) maps to no catalog accelerator: annotate it "
                f"{MODEL_ANNOTATION} with a catalog model, or none",
            )  # fmt: skip
        if self.node_models is not None and not said.products:
            narrowed = [m for m in candidates if m.model in self.node_models]
            if narrowed:
                candidates, how = narrowed, "the pod's node selectors"
        choices, why = _choices(candidates, count=count, mig=mig, profile=said.profile)
        if not choices:
            return DeviceRequest(claim, name, source, unpriced=f"{label}: {why}")
        models = ", ".join(dict.fromkeys(c.model for c in choices))
        if len(choices) > 1:
            notes.append(
                f"{label}: {count} × {class_name} device, model from {how}: priced over {models}"
            )
        else:
            notes.append(f"{label}: {count} × {class_name} device read as {models} ({how})")
        if why:
            notes.append(f"{label}: {why}")
        resources = {m.resource for m in candidates if m.model in {c.model for c in choices}}
        return DeviceRequest(
            claim, name, source, tuple(choices), notes=tuple(notes),
            resource=resources.pop() if len(resources) == 1 else "", count=count,
        )  # fmt: skip

    def _get_index(self) -> indexes.Index:
        if self._index is None:
            self._index = indexes.index(self.catalog)
        return self._index


def _choices(
    candidates: list[Accelerator], *, count: int, mig: bool, profile: str | None
) -> tuple[list[Choice], str]:
    """Each candidate model with the devices `count` of it comes to, and a note (or, with
    no choices, why there are none)."""
    if not mig:
        if not candidates:
            return [], "no model of the catalog serves it"
        return [Choice(m.model, Decimal(count)) for m in candidates], ""
    capable = [m for m in candidates if m.mig_slices]
    if profile is None:
        if not capable:
            return [], "MIG devices, and no MIG-capable model of the catalog"
        # One slice of the smallest share to the whole of the dearest GPU, per device.
        slice_of = {m.model: Decimal(count) / Decimal(m.mig_slices or 1) for m in capable}
        low = min(capable, key=lambda m: (m.hourly * slice_of[m.model], m.model))
        high = max(capable, key=lambda m: (m.hourly, m.model))
        return [
            Choice(low.model, slice_of[low.model]),
            Choice(high.model, Decimal(count)),
        ], "MIG profile not said: from one slice of the cheapest to a whole GPU of the dearest"
    match = _MIG_PROFILE.match(profile)
    if match is None:
        return [], f"MIG profile {profile!r} is not of the form <slices>g.<memory>gb"
    slices, memory = int(match[1]), int(match[2])
    parent = pricing.MIG_PARENT_MEMORY_GB.get(f"{slices}g.{memory}gb")
    fitting = [
        m
        for m in capable
        if m.memory_gib is not None
        and (m.memory_gib == parent if parent else m.memory_gib >= memory)
    ]
    if not fitting:
        return [], f"MIG profile {profile} is cut from no MIG-capable model of the catalog"
    choices = []
    for model in fitting:
        assert model.mig_slices is not None
        choices.append(Choice(model.model, Decimal(count * slices) / Decimal(model.mig_slices)))
    return choices, ""


def _product_model(catalog: Catalog, product: str) -> Accelerator | None:
    """The catalog model a DRA `productName` names: as written, or with spaces as `-` (GPU
    feature discovery's label is the driver's product name so spelt)."""
    return catalog.accelerator_for(product) or catalog.accelerator_for(
        re.sub(r"\s+", "-", product.strip())
    )


def _missing(
    claim: str, source: str, objects: DraObjects | None, *, name: str = ""
) -> DeviceRequest:
    why = "no DRA objects are known here" if objects is None else "no such object"
    return DeviceRequest(
        claim,
        name,
        source,
        unpriced=f"{source} not found ({why}): its devices cannot be priced until it exists "
        "(check and estimate read it among the manifests, serve --in-cluster from the cluster)",
    )


def _where(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, JSON_OBJECT):
            return None
        obj = obj.get(key)
    return obj


def _selectors(selectors: Any, at: tuple[PathPart, ...]) -> list[str]:
    """The CEL expressions of a `selectors` list."""
    if selectors is None:
        return []
    if not isinstance(selectors, list):
        raise InvalidObject("expected a list of selectors", at)
    expressions = []
    for i, selector in enumerate(selectors):
        cel = selector.get("cel") if isinstance(selector, JSON_OBJECT) else None
        expression = cel.get("expression") if isinstance(cel, JSON_OBJECT) else None
        if not isinstance(expression, str):
            raise InvalidObject("expected {cel: {expression: <CEL>}}", (*at, i))
        expressions.append(expression)
    return expressions


# --- reading CEL selectors -----------------------------------------------------------------

_STRING = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
_ATTRIBUTE = (
    r"device\.attributes\[\s*(?P<domain>" + _STRING + r")\s*\]"
    r"(?:\.(?P<attr>\w+)|\[\s*(?P<attr_q>" + _STRING + r")\s*\])"
)
# Patterns as text, compiled by `re` (and kept in its cache) on the first selector read: a
# cluster without DRA never pays to compile them, nor does a `check` of pods without claims.
_EQUALS = r"^" + _ATTRIBUTE + r"\s*==\s*(?P<value>" + _STRING + r")$"
_EQUALS_REVERSED = r"^(?P<value>" + _STRING + r")\s*==\s*" + _ATTRIBUTE + r"$"
_IN = (
    r"^" + _ATTRIBUTE + r"\s+in\s+\[\s*(?P<values>" + _STRING + r"(?:\s*,\s*" + _STRING
    + r")*)\s*,?\s*\]$"
)  # fmt: skip
_DRIVER = r"^device\.driver\s*==\s*(?P<value>" + _STRING + r")$"


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


class _Said:
    """What the selectors say plainly about the devices (module doc, point 3)."""

    __slots__ = ("driver", "products", "profile", "type", "unread")

    def __init__(self) -> None:
        self.driver: str | None = None
        self.products: tuple[str, ...] | None = None
        self.profile: str | None = None
        self.type: str | None = None
        self.unread: list[str] = []

    def read(self, expression: str) -> None:
        for fact, value in _facts(expression):
            if fact == "unread":
                self.unread.append(value)
            elif fact == "driver":
                self.driver = value
            elif fact == "domain":
                if self.driver is None and value in DRIVERS:
                    self.driver = value
            elif fact == "products":
                known = set(value) if self.products is None else set(self.products) & set(value)
                self.products = tuple(v for v in value if v in known)
            elif fact == "profile":
                self.profile = value
            else:
                self.type = value


def _facts(expression: str) -> tuple[tuple[str, Any], ...]:
    """What one CEL expression says, as (fact, value) pairs in order: `driver`, `domain`,
    `products`, `profile`, `type`, or `unread` (a clause, or the whole, not read)."""
    if len(expression) > _READ_AT_MOST:
        return (("unread", f"a {len(expression)}-character expression (read: {_READ_AT_MOST})"),)
    clauses = _conjunction(expression)
    if clauses is None:
        return (("unread", f"{_brief(expression)} (only && of equalities is read)"),)
    facts: list[tuple[str, Any]] = []
    for clause in clauses:
        facts.extend(_clause(clause) or [("unread", _brief(clause))])
    return tuple(facts)


_READ_AT_MOST = 1024
"""Characters of a CEL expression read, at most: selectors that name a model are short, and
what a pod's author writes is read on the request path (a longer one narrows nothing)."""
_PARENTHESES_AT_MOST = 8
"""Parentheses around one clause taken off, at most (deeper: the clause is not read)."""


def _brief(text: str) -> str:
    """A clause or expression as a note quotes it: its start, when long."""
    text = text.strip()
    return repr(text if len(text) <= 80 else text[:80] + "…")


def _clause(clause: str) -> list[tuple[str, Any]]:
    """The facts one clause says, or none when it is not of a form read."""
    driver = re.match(_DRIVER, clause)
    if driver:
        return [("driver", _unquote(driver["value"]))]
    match = re.match(_EQUALS, clause) or re.match(_EQUALS_REVERSED, clause)
    values: tuple[str, ...]
    if match:
        values = (_unquote(match["value"]),)
    else:
        match = re.match(_IN, clause)
        if not match:
            return []
        values = tuple(_unquote(v) for v in re.findall(_STRING, match["values"]))
    attribute = match["attr"] or _unquote(match["attr_q"])
    if attribute == "productName":
        fact: tuple[str, Any] = ("products", values)
    elif attribute in ("profile", "migProfile") and len(values) == 1:
        fact = ("profile", values[0])
    elif attribute == "type" and len(values) == 1:
        fact = ("type", values[0])
    else:
        return []
    return [("domain", _unquote(match["domain"])), fact]


def _conjunction(expression: str) -> list[str] | None:
    """The clauses of `a && b && c` (parentheses around a clause dropped), or None when the
    expression is anything else: `||`, `!` (not `!=`) or `?` outside a string literal."""
    clauses: list[str] = []
    current: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char in "\"'":
            end = i + 1
            while end < n and expression[end] != char:
                end += 2 if expression[end] == "\\" else 1
            current.append(expression[i : end + 1])
            i = end + 1
            continue
        pair = expression[i : i + 2]
        if pair == "||" or char == "?" or (char == "!" and pair != "!="):
            return None
        if pair == "&&":
            clauses.append("".join(current))
            current = []
            i += 2
            continue
        current.append(char)
        i += 1
    clauses.append("".join(current))
    stripped = []
    for clause in clauses:
        text = clause.strip()
        for _ in range(_PARENTHESES_AT_MOST):
            if not (text.startswith("(") and text.endswith(")") and _balanced(text[1:-1])):
                break
            text = text[1:-1].strip()
        if not text:
            return None
        stripped.append(text)
    return stripped


def _balanced(text: str) -> bool:
    """Whether the parentheses of `text` (outside string literals) pair up in order."""
    depth = 0
    for char in re.sub(_STRING, "", text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


# --- objects from manifests ----------------------------------------------------------------

KINDS = frozenset({"DeviceClass", "ResourceClaimTemplate", "ResourceClaim"})
"""The DRA kinds read as the world a pod is priced in, not as objects to price."""


def is_dra_object(obj: Mapping[str, Any]) -> bool:
    api_version = obj.get("apiVersion")
    return (
        obj.get("kind") in KINDS
        and isinstance(api_version, str)
        and api_version.partition("/")[0] == GROUP
    )


def problems(obj: Mapping[str, Any]) -> list[InvalidObject]:
    """What is malformed in a DRA object, each with its path (empty: nothing). The reading
    `resolve` does, run ahead of time, so a manifest's mistake names its file and line."""
    kind = obj.get("kind")
    found: list[InvalidObject] = []
    metadata = obj.get("metadata")
    if not isinstance(metadata, JSON_OBJECT) or not isinstance(metadata.get("name"), str):
        found.append(InvalidObject("expected metadata.name", ("metadata",)))
    spec_path: tuple[str, ...] = {"ResourceClaimTemplate": ("spec", "spec")}.get(
        str(kind), ("spec",)
    )
    try:
        if kind == "DeviceClass":
            _selectors(_at(obj, ("spec", "selectors")), ("spec", "selectors"))
            resource = _at(obj, ("spec", "extendedResourceName"))
            if resource is not None and not isinstance(resource, str):
                raise InvalidObject("expected a string", ("spec", "extendedResourceName"))
        else:
            requests = _at(obj, (*spec_path, "devices", "requests"))
            where = (*spec_path, "devices", "requests")
            if requests is not None and not isinstance(requests, list):
                raise InvalidObject("expected a list of device requests", where)
            for i, request in enumerate(requests or []):
                _check_request(request, (*where, i))
    except InvalidObject as exc:
        found.append(exc)
    return found


def _check_request(request: Any, at: tuple[PathPart, ...]) -> None:
    if not isinstance(request, JSON_OBJECT):
        raise InvalidObject("expected a device request (a mapping)", at)
    _text(request.get("name"), (*at, "name"))
    exactly, alternatives = request.get("exactly"), request.get("firstAvailable")
    if (exactly is None) == (alternatives is None):
        raise InvalidObject("exactly one of exactly and firstAvailable must be set", at)
    subs = [((*at, "exactly"), exactly)] if exactly is not None else []
    if alternatives is not None:
        if not isinstance(alternatives, list) or not alternatives:
            raise InvalidObject("expected a list of sub-requests", (*at, "firstAvailable"))
        subs = [((*at, "firstAvailable", i), sub) for i, sub in enumerate(alternatives)]
    for where, sub in subs:
        if not isinstance(sub, JSON_OBJECT):
            raise InvalidObject("expected a device request (a mapping)", where)
        _text(sub.get("deviceClassName"), (*where, "deviceClassName"))
        _selectors(sub.get("selectors"), (*where, "selectors"))
        mode = sub.get("allocationMode", "ExactCount") or "ExactCount"
        if mode not in ("ExactCount", "All"):
            raise InvalidObject(
                f"unknown allocationMode {mode!r} (ExactCount or All)", (*where, "allocationMode")
            )
        count = sub.get("count")
        if (
            mode == "ExactCount"
            and count is not None
            and (isinstance(count, bool) or not isinstance(count, int) or count < 1)
        ):
            raise InvalidObject(f"expected a count of at least 1, got {count!r}", (*where, "count"))


class StaticDraObjects:
    """DRA objects from a list (the manifests given to `check`, `estimate` or `test`).

    A namespaced object without a namespace is found from any namespace (as `kubectl apply
    -n NS -f` would create it beside the pods it is applied with)."""

    __slots__ = ("_claims", "_classes", "_extended", "_templates")

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self._classes: dict[str, Mapping[str, Any]] = {}
        self._templates: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._claims: dict[tuple[str, str], Mapping[str, Any]] = {}
        for obj in objects:
            if not is_dra_object(obj):
                continue
            metadata = obj.get("metadata")
            if not isinstance(metadata, JSON_OBJECT) or not isinstance(metadata.get("name"), str):
                continue
            name = metadata["name"]
            namespace = metadata.get("namespace")
            key = (namespace if isinstance(namespace, str) else "", name)
            if obj["kind"] == "DeviceClass":
                self._classes[name] = obj
            elif obj["kind"] == "ResourceClaimTemplate":
                self._templates[key] = obj
            else:
                self._claims[key] = obj
        self._extended = extended_pairs(self._classes.items())

    def __len__(self) -> int:
        return len(self._classes) + len(self._templates) + len(self._claims)

    def generation(self) -> Hashable:
        return 0  # the objects never change

    def device_class(self, name: str) -> Mapping[str, Any] | None:
        return self._classes.get(name)

    def claim_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._templates.get((namespace, name)) or self._templates.get(("", name))

    def claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._claims.get((namespace, name)) or self._claims.get(("", name))

    def extended_resources(self) -> ExtendedResources:
        return self._extended
