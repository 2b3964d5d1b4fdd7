"""Where a pod may run, read from its nodeSelector, required node affinity and tolerations.

Only labels that change the price matter here; every other label (zone, arch, hostname,
custom pools) is left to the scheduler. The vocabularies are the ones real clusters use:

* instance type: `node.kubernetes.io/instance-type`, `beta.kubernetes.io/instance-type`;
  instance family: `karpenter.k8s.aws/instance-family`, `cloud.google.com/machine-family`;
* accelerator model (resolved through the catalog's aliases): `nvidia.com/gpu.product`
  (GFD), `cloud.google.com/gke-accelerator`, `karpenter.k8s.aws/instance-gpu-name`,
  `karpenter.k8s.aws/instance-accelerator-name`, `cloud.google.com/gke-tpu-accelerator`;
* capacity type: the labels in `capacity.LABELS`, read as `capacity` reads them (the Spot
  rule reads them there too).

Required node affinity is an OR of terms, each an AND of expressions; `nodeSelector` is
ANDed into every term (`capacity.node_requirements` reads both). Each term becomes a
`Term`: the sets of instance types, families, accelerator models and capacity types a node
must have to match it.

A pod already running is priced on its node: `on_node` narrows its spec to the values of
these labels the node carries (`NODE_LABELS`), so the estimate is that node's figure rather
than a range over every node the spec allows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from costwarden.estimating import capacity
from costwarden.workloads import JSON_OBJECT, InvalidObject

_SINGLE_STRATEGY_MIG = re.compile(r"^(.+)-MIG-(\d+g\.\d+gb)$", re.IGNORECASE)
"""GFD's product label on nodes whose GPUs are MIG-partitioned with the `single` strategy
(`NVIDIA-A100-SXM4-40GB-MIG-1g.5gb`): every `nvidia.com/gpu` there is one such slice."""

INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
FAMILY_LABELS = ("karpenter.k8s.aws/instance-family", "cloud.google.com/machine-family")
MODEL_LABELS = (
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
    "karpenter.k8s.aws/instance-accelerator-name",
    "cloud.google.com/gke-tpu-accelerator",
)

NODE_LABELS: frozenset[str] = frozenset(
    (*INSTANCE_TYPE_LABELS, *FAMILY_LABELS, *MODEL_LABELS, *capacity.LABELS)
)
"""Every node label pricing reads: what a node's labels say of its price."""


def on_node(spec: Mapping[str, Any], node_labels: Mapping[str, str]) -> Mapping[str, Any]:
    """`spec` as it runs on a node labelled `node_labels`: a pod spec whose nodeSelector
    holds the node's value of each label of `NODE_LABELS` the node carries.

    The node's value replaces what the pod asked of the same label, in its nodeSelector and
    in its required node affinity (whose expressions on that label go): a running pod is
    where it is, even if the node was relabelled after the pod was scheduled there. What
    the pod asks of labels the node does not carry stays, and so do labels pricing does not
    read. `spec` itself is not changed; with no such label on the node it is returned as is.
    A malformed nodeSelector or affinity is left for the estimator to refuse.
    """
    placed = {
        key: value
        for key, value in node_labels.items()
        if key in NODE_LABELS and isinstance(value, str)
    }
    selector = spec.get("nodeSelector") or {}
    if not placed or not isinstance(selector, JSON_OBJECT):
        return spec
    narrowed = {**spec, "nodeSelector": {**selector, **placed}}
    terms = _required_terms(spec)
    if terms is not None:
        affinity = spec["affinity"]
        node_affinity = affinity["nodeAffinity"]
        required = node_affinity[_REQUIRED]
        terms = [_without(term, placed) for term in terms]
        node_affinity = {**node_affinity, _REQUIRED: {**required, "nodeSelectorTerms": terms}}
        narrowed["affinity"] = {**affinity, "nodeAffinity": node_affinity}
    return narrowed


_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def _required_terms(spec: Mapping[str, Any]) -> list[Any] | None:
    """The required node affinity's terms; None unless they are a list (no affinity, or a
    malformed one, left as it is for the estimator to refuse)."""
    value: Any = spec
    for key in capacity.AFFINITY_PATH:
        if not isinstance(value, JSON_OBJECT):
            return None
        value = value.get(key)
    return value if isinstance(value, list) else None


def _without(term: Any, keys: Mapping[str, str]) -> Any:
    """A node selector term without its expressions on `keys` (a term left with none
    requires nothing more: the nodeSelector, ANDed into it, says the node)."""
    if not isinstance(term, JSON_OBJECT):
        return term
    expressions = term.get("matchExpressions")
    if not isinstance(expressions, list):
        return term
    kept = [e for e in expressions if not (isinstance(e, JSON_OBJECT) and e.get("key") in keys)]
    return {**term, "matchExpressions": kept}


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
    unknown_models: frozenset[str] = frozenset()
    """`key=value` of model labels required (`In`) that name no model of the catalog: the
    pod may land on a device the catalog cannot price."""
    capacity: frozenset[str] = capacity.TYPES
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

    GPU-model label values resolve through the catalog's `aliases`; a required value the
    catalog does not know is kept in `Term.unknown_models` (pricing calls the pod
    unpriced), an excluded one is noted and ignored.
    """
    base = Term()
    selector, terms = capacity.node_requirements(spec)
    for requirement in selector:
        _require(base, *requirement, aliases=aliases, notes=notes)
    if not terms:
        return [base]
    result = []
    for requirements in terms:
        term = base.copy()
        for requirement in requirements:
            _require(term, *requirement, aliases=aliases, notes=notes)
        result.append(term)
    return result


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
                if operator == "In":
                    term.unknown_models |= {f"{key}={value}"}
                    notes.append(f"{key}={value} is not a model the catalog knows")
                else:
                    notes.append(f"{key}={value} is not a model the catalog knows; ignored")
            else:
                models.add(model)
        if operator == "In":
            term.models = _narrow(term.models, models)
        elif operator == "NotIn":
            term.excluded_models |= frozenset(models)
    elif key in capacity.LABELS:
        term.capacity &= capacity.allows(key, operator, values)
        for value in values:
            spelt = capacity.misspelt(key, value)
            if spelt is not None:
                notes.append(
                    f"{key}: {value!r} read as {spelt!r}, the spelling nodes carry (the "
                    "scheduler compares label values exactly: as written, it names no node)"
                )


def _narrow(current: frozenset[str] | None, values: Any) -> frozenset[str]:
    allowed = frozenset(values)
    return allowed if current is None else current & allowed


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
        if not isinstance(key, str) or (key and key not in capacity.SPOT_TAINTS):
            continue
        if toleration.get("effect") not in (None, "", "NoSchedule"):
            continue
        exists = toleration.get("operator", "Equal") == "Exists"
        if not key and exists:  # tolerates every taint
            return list(capacity.SPOT_TAINTS.items())
        if key and (exists or toleration.get("value") == capacity.SPOT_TAINTS[key]):
            tolerated.append((key, capacity.SPOT_TAINTS[key]))
    return tolerated
