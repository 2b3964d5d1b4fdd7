"""Where a pod may run, read from its nodeSelector, required node affinity and tolerations.

Only labels that change the price matter here; every other label (zone, arch, hostname,
custom pools) is left to the scheduler. The vocabularies are the ones real clusters use:

* instance type: `node.kubernetes.io/instance-type`, `beta.kubernetes.io/instance-type`;
  instance family: `karpenter.k8s.aws/instance-family`, `cloud.google.com/machine-family`;
* accelerator model (resolved through the catalog's aliases): `nvidia.com/gpu.product`
  (GFD), `cloud.google.com/gke-accelerator`, `karpenter.k8s.aws/instance-gpu-name`,
  `karpenter.k8s.aws/instance-accelerator-name`, `cloud.google.com/gke-tpu-accelerator`;
* capacity type: `karpenter.sh/capacity-type`, `eks.amazonaws.com/capacityType`,
  `cloud.google.com/gke-spot`, `cloud.google.com/gke-preemptible`,
  `kubernetes.azure.com/scalesetpriority`, legacy `lifecycle=EC2Spot`.

Required node affinity is an OR of terms, each an AND of expressions; `nodeSelector` is
ANDed into every term. Each term becomes a `Term`: the sets of instance types, families,
accelerator models and capacity types a node must have to match it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from costwarden.workloads import JSON_OBJECT, InvalidObject

CAPACITY_TYPES = frozenset(("on-demand", "spot", "reserved"))
_SINGLE_STRATEGY_MIG = re.compile(r"^(.+)-MIG-(\d+g\.\d+gb)$", re.IGNORECASE)
"""GFD's product label on nodes whose GPUs are MIG-partitioned with the `single` strategy
(`NVIDIA-A100-SXM4-40GB-MIG-1g.5gb`): every `nvidia.com/gpu` there is one such slice."""
_NOT_SPOT = frozenset(("on-demand", "reserved"))
_SPOT = frozenset(("spot",))

INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
FAMILY_LABELS = ("karpenter.k8s.aws/instance-family", "cloud.google.com/machine-family")
MODEL_LABELS = (
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
    "karpenter.k8s.aws/instance-accelerator-name",
    "cloud.google.com/gke-tpu-accelerator",
)


def _exact(mapping: Mapping[str, str]) -> Callable[[str], str | None]:
    return mapping.get


def _spot_if(spot_value: str) -> Callable[[str], str | None]:
    return lambda value: "spot" if value.lower() == spot_value else "on-demand"


# label -> (value -> capacity type or None if unknown, capacity types a node with the label
# has at all). GKE and AKS put their label only on Spot nodes, so `Exists` means Spot there.
CAPACITY_LABELS: dict[str, tuple[Callable[[str], str | None], frozenset[str]]] = {
    "karpenter.sh/capacity-type": (
        _exact({"spot": "spot", "on-demand": "on-demand", "reserved": "reserved"}),
        CAPACITY_TYPES,
    ),
    "eks.amazonaws.com/capacityType": (
        _exact({"SPOT": "spot", "ON_DEMAND": "on-demand", "CAPACITY_BLOCK": "reserved"}),
        CAPACITY_TYPES,
    ),
    "cloud.google.com/gke-spot": (_spot_if("true"), _SPOT),
    "cloud.google.com/gke-preemptible": (_spot_if("true"), _SPOT),
    "kubernetes.azure.com/scalesetpriority": (_spot_if("spot"), _SPOT),
    "lifecycle": (_spot_if("ec2spot"), CAPACITY_TYPES),
}

AKS_SPOT_TAINT = ("kubernetes.azure.com/scalesetpriority", "spot")
"""AKS taints every Spot pool `kubernetes.azure.com/scalesetpriority=spot:NoSchedule`."""
SPOT_TAINTS = dict((AKS_SPOT_TAINT, ("cloud.google.com/gke-spot", "true")))
"""Taint key -> value of the Spot taints clusters use (GKE's only when configured)."""


class Term:
    """What a node must be to match one node-selector term (None: anything).

    The class attributes are the defaults (a term any node matches); narrowing a term sets
    instance attributes. So a new term costs one empty object (one per pod on the hot path),
    and sharing the defaults is safe: they are immutable.
    """

    types: frozenset[str] | None = None
    excluded_types: frozenset[str] = frozenset()
    families: frozenset[str] | None = None
    excluded_families: frozenset[str] = frozenset()
    models: frozenset[str] | None = None
    excluded_models: frozenset[str] = frozenset()
    capacity: frozenset[str] = CAPACITY_TYPES
    mig_profile: str | None = None
    """MIG profile (`1g.5gb`) every `nvidia.com/gpu` is, on single-strategy MIG nodes."""

    def copy(self) -> Term:
        term = Term()
        term.__dict__.update(self.__dict__)
        return term

    def key(self) -> tuple[tuple[str, object], ...]:
        """What the term requires, hashable: the constraints it narrowed, by name."""
        return tuple(self.__dict__.items())


def node_terms(
    spec: Mapping[str, Any], *, aliases: Mapping[str, str], notes: list[str]
) -> list[Term]:
    """The terms a node must match (any one of them), with label values resolved.

    GPU-model label values resolve through the catalog's `aliases`; a value the catalog
    does not know is noted and does not constrain the model.
    """
    base = Term()
    selector = spec.get("nodeSelector")
    if selector:
        if not isinstance(selector, JSON_OBJECT):
            raise InvalidObject("expected a mapping of labels", ("nodeSelector",))
        for key, value in selector.items():
            if not isinstance(value, str):
                raise InvalidObject(f"expected a string, got {value!r}", ("nodeSelector", key))
            _require(base, key, "In", (value,), aliases=aliases, notes=notes)
    affinity = spec.get("affinity")
    terms = _affinity_terms(affinity) if affinity else []
    if not terms:
        return [base]
    result = []
    for i, term_spec in enumerate(terms):
        term = base.copy()
        expressions = term_spec.get("matchExpressions") or []
        if not isinstance(expressions, list):
            raise InvalidObject("expected a list", (*_AFFINITY_PATH, i, "matchExpressions"))
        for j, expression in enumerate(expressions):
            values = expression.get("values") if isinstance(expression, JSON_OBJECT) else ()
            if not isinstance(expression, JSON_OBJECT) or not isinstance(values, list | None):
                raise InvalidObject(
                    "expected a node selector requirement (key, operator, a list of values)",
                    (*_AFFINITY_PATH, i, "matchExpressions", j),
                )
            _require(
                term,
                str(expression.get("key")),
                str(expression.get("operator")),
                tuple(str(v) for v in values or ()),
                aliases=aliases,
                notes=notes,
            )
        result.append(term)
    return result


_AFFINITY_PATH = (
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
)


def _affinity_terms(affinity: Any) -> list[Mapping[str, Any]]:
    value: Any = affinity
    for key in _AFFINITY_PATH[1:]:
        if not isinstance(value, JSON_OBJECT):
            return []
        value = value.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, JSON_OBJECT) for t in value):
        raise InvalidObject("expected a list of node selector terms", _AFFINITY_PATH)
    return value


def _require(
    term: Term,
    key: str,
    operator: str,
    values: tuple[str, ...],
    *,
    aliases: Mapping[str, str],
    notes: list[str],
) -> None:
    """Narrow `term` by one requirement `key operator values`."""
    if key in INSTANCE_TYPE_LABELS:
        if operator == "In":
            term.types = _narrow(term.types, values)
        elif operator == "NotIn":
            term.excluded_types |= frozenset(values)
    elif key in FAMILY_LABELS:
        if operator == "In":
            term.families = _narrow(term.families, values)
        elif operator == "NotIn":
            term.excluded_families |= frozenset(values)
    elif key in MODEL_LABELS:
        models = set()
        for value in values:
            model = aliases.get(value.lower())
            single_mig = _SINGLE_STRATEGY_MIG.match(value) if model is None else None
            if single_mig is not None:
                model = aliases.get(single_mig[1].lower())
                if model is not None and operator == "In":
                    term.mig_profile = single_mig[2].lower()
            if model is None:
                notes.append(f"{key}={value} is not a model the catalog knows; ignored")
            else:
                models.add(model)
        if operator == "In" and models:
            term.models = _narrow(term.models, models)
        elif operator == "NotIn":
            term.excluded_models |= frozenset(models)
    elif key in CAPACITY_LABELS:
        term.capacity &= _capacity_allowed(key, operator, values)


def _narrow(current: frozenset[str] | None, values: Any) -> frozenset[str]:
    allowed = frozenset(values)
    return allowed if current is None else current & allowed


@lru_cache(maxsize=256)  # pure, and immutable in and out: safe to share between pods
def _capacity_allowed(key: str, operator: str, values: tuple[str, ...]) -> frozenset[str]:
    to_capacity, with_label = CAPACITY_LABELS[key]
    if operator in ("In", "NotIn"):
        named = frozenset(c for c in map(to_capacity, values) if c is not None)
        return named if operator == "In" else CAPACITY_TYPES - named
    if operator == "Exists":
        return with_label
    if operator == "DoesNotExist" and with_label is _SPOT:
        return _NOT_SPOT
    return CAPACITY_TYPES


def tolerated_spot_taints(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The known Spot taints (key, value) the pod tolerates."""
    tolerations = spec.get("tolerations")
    if not tolerations:
        return []
    if not isinstance(tolerations, list):
        raise InvalidObject("expected a list of tolerations", ("tolerations",))
    tolerated = []
    for toleration in tolerations:
        if not isinstance(toleration, JSON_OBJECT):
            continue
        key = toleration.get("key") or ""
        if not isinstance(key, str) or (key and key not in SPOT_TAINTS):
            continue
        if toleration.get("effect") not in (None, "", "NoSchedule"):
            continue
        exists = toleration.get("operator", "Equal") == "Exists"
        if not key and exists:  # tolerates every taint
            return list(SPOT_TAINTS.items())
        if key and (exists or toleration.get("value") == SPOT_TAINTS[key]):
            tolerated.append((key, SPOT_TAINTS[key]))
    return tolerated
