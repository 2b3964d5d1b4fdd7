"""A pod's effective requests, computed the way the kube-scheduler computes them.

Kubernetes (`k8s.io/component-helpers/resource.PodRequests`, KEP-753 sidecars):

    apps     = Σ app containers + Σ restartable init containers (sidecars, restartPolicy Always)
    init     = max over init containers, in order, of
                 a regular init container: its own request + Σ sidecars started before it
                 a sidecar:                Σ sidecars started so far, itself included
    pod      = max(apps, init) per resource, + spec.overhead

A container's missing request defaults to its limit, per resource (the API server's
defaulting). Only a missing (or null) field is absent: one of the wrong type — `resources:
[]`, `requests: ""` — is refused, never read as "no requests" (the pod would be priced at
nothing). Pod-level `spec.resources` (PodLevelResources), when set, replaces the
aggregate for cpu and memory. Quantities stay in their base units: cores, bytes, devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from costwarden import quantities
from costwarden.workloads import JSON_OBJECT, InvalidObject, PathPart

Resources = dict[str, Decimal]

_POD_LEVEL = ("cpu", "memory")
"""Resources pod-level `spec.resources` may set."""


def effective_requests(spec: Mapping[str, Any]) -> Resources:
    """Resource name -> quantity the scheduler reserves for the pod (cores, bytes, devices)."""
    apps: Resources = {}
    for i, container in enumerate(_containers(spec, "containers")):
        own = _container_requests(container, "containers", i)
        if own:
            _add(apps, own)
    init_containers = _containers(spec, "initContainers")
    if init_containers:
        init: Resources = {}
        sidecars: Resources = {}
        for i, container in enumerate(init_containers):
            own = _container_requests(container, "initContainers", i)
            if container.get("restartPolicy") == "Always":
                _add(apps, own)
                _add(sidecars, own)
                _max(init, sidecars)
            else:
                _max(init, _sum(own, sidecars))
        _max(apps, init)
    pod_level = spec.get("resources")
    if pod_level is not None:
        _override_pod_level(apps, _resource_lists(pod_level, ("resources",)))
    overhead = spec.get("overhead")
    if overhead is not None:
        _add(apps, _quantities(overhead, (), "overhead"))
    return apps


def _containers(spec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    containers = spec.get(key)
    if containers is None:
        return []
    if not isinstance(containers, list):
        raise InvalidObject("expected a list of containers", (key,))
    return containers


def _container_requests(container: Any, key: str, i: int) -> Resources:
    if not isinstance(container, JSON_OBJECT):
        raise InvalidObject("expected a container (a mapping)", (key, i))
    resources = container.get("resources")
    if resources is None:
        return {}
    return _resource_lists(resources, (key, i, "resources"))


def _resource_lists(resources: Any, where: tuple[PathPart, ...]) -> Resources:
    """Requests, with each missing request defaulted to its limit (`where`: path for errors)."""
    if not isinstance(resources, JSON_OBJECT):
        raise InvalidObject("expected a mapping", where)
    requests = resources.get("requests")
    result = _quantities(requests, where, "requests") if requests is not None else {}
    limits = resources.get("limits")
    if limits is not None:
        for name, value in _quantities(limits, where, "limits").items():
            if name not in result:
                result[name] = value
    return result


def _quantities(values: Any, where: tuple[PathPart, ...], key: str) -> Resources:
    """The quantities `values` (found at `where` + `key`: the path in errors), parsed."""
    if not isinstance(values, JSON_OBJECT):
        raise InvalidObject("expected a mapping of resource names to quantities", (*where, key))
    return {name: _parse(value, where, key, name) for name, value in values.items()}


def _extended(name: str) -> bool:
    """Kubernetes' extended resources (`nvidia.com/gpu`, `aws.amazon.com/neuron`): a
    domain-prefixed name outside `kubernetes.io`, counted in whole units."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def _parse(value: Any, where: tuple[PathPart, ...], key: str, name: str) -> Decimal:
    """A quantity (`quantities.parse` memoises the text of those it parsed)."""
    try:
        parsed = quantities.parse(value)
    except quantities.QuantityError as exc:
        raise InvalidObject(str(exc), (*where, key, name)) from None
    if parsed < 0:  # as the API server validates requests, limits and overhead
        raise InvalidObject(
            f"must be greater than or equal to 0, got {value!r}", (*where, key, name)
        )
    if _extended(name) and parsed != parsed.to_integral_value():
        # A fraction of a device is no device: the API server refuses it too, and reading
        # `4.5` GPUs as 4 would let a pod past a 4-GPU limit.
        raise InvalidObject(
            f"must be an integer (an extended resource counts whole devices), got {value!r}",
            (*where, key, name),
        )
    return parsed


def _override_pod_level(requests: Resources, pod_level: Resources) -> None:
    for name in _POD_LEVEL:
        if name in pod_level:
            requests[name] = pod_level[name]


def _add(total: Resources, more: Resources) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def _sum(a: Resources, b: Resources) -> Resources:
    result = dict(a)
    _add(result, b)
    return result


def _max(total: Resources, other: Resources) -> None:
    for name, value in other.items():
        if value > total.get(name, 0):
            total[name] = value


def heaviest_section(spec: Mapping[str, Any]) -> tuple[PathPart, ...]:
    """Where the largest quantity of an already-valid spec is (memory counted in GiB), for
    an error about the pod's total: `("overhead",)`, `("containers", 0, "resources")`..."""
    sections: list[tuple[tuple[PathPart, ...], Resources]] = []
    for key in ("containers", "initContainers"):
        for i, container in enumerate(_containers(spec, key)):
            sections.append(((key, i, "resources"), _container_requests(container, key, i)))
    if spec.get("resources"):
        sections.append((("resources",), _resource_lists(spec["resources"], ("resources",))))
    if spec.get("overhead"):
        sections.append((("overhead",), _quantities(spec["overhead"], (), "overhead")))

    def size(resources: Resources) -> Decimal:
        values = [v / 2**30 if name == "memory" else v for name, v in resources.items()]
        return max(values, default=Decimal(0))

    return max(sections, key=lambda section: size(section[1]))[0] if sections else ("containers",)
