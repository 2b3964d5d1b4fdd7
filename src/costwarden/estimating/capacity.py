"""Capacity types (on-demand, Spot, reserved): the node labels that say them, what a pod
spec pins, and how each cloud puts a pod on Spot.

The one vocabulary pricing (`placing`) and the Spot rule read, so a pod is never priced as
Spot while the rule calls its capacity open. The labels are the ones clusters carry:

* `karpenter.sh/capacity-type`: `spot`, `on-demand`, `reserved`;
* `eks.amazonaws.com/capacityType`: `SPOT`, `ON_DEMAND`, `CAPACITY_BLOCK` (reserved);
* `cloud.google.com/gke-spot`, `cloud.google.com/gke-preemptible`: `"true"`, only on Spot
  (preemptible) nodes, so `Exists` means Spot and `DoesNotExist` means not Spot;
* `kubernetes.azure.com/scalesetpriority`: `spot`, only on Spot nodes (any other value,
  such as the API's `regular`, reads as on-demand);
* legacy `lifecycle`: `EC2Spot` (any other value, such as `OnDemand`, reads as on-demand).

Values are read case-insensitively, for two reasons. The `lifecycle` label is written by
each cluster's own node-group templates, and they spell it `EC2Spot` or `Ec2Spot`: no one
spelling is right. For the labels a provider writes in one spelling (`spot`, `SPOT`,
`"true"`), the scheduler compares values exactly, so a value that differs only in case
(`gke-spot: "True"`) matches no node at all: the pod can never run, nor be billed, on a
capacity type other than the one its value names. Reading it by that name keeps pricing
and the Spot rule about what the author asked for; `misspelt` names the spelling nodes
carry, so pricing can say that, as written, the value names no node. A value that names
no capacity type even ignoring case (`karpenter.sh/capacity-type: spotty`) allows none.

Required node affinity is an OR of terms, each an AND of requirements; `nodeSelector` is
ANDed into every term. `node_requirements` reads both (and is what `placing` reads every
other label through); `allows` is what one requirement on a capacity label allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from costwarden.catalog.models import CapacityType
from costwarden.memos import Memo
from costwarden.workloads import JSON_OBJECT, InvalidObject

TYPES: frozenset[CapacityType] = frozenset(("on-demand", "spot", "reserved"))
"""Every capacity type: what a pod that leaves capacity open may run on."""
SPOT: frozenset[CapacityType] = frozenset(("spot",))
NOT_SPOT: frozenset[CapacityType] = TYPES - SPOT
"""On-demand and reserved: reserved capacity (a capacity block, a Karpenter reservation)
is paid for whether used or not, and is never Spot."""


@dataclass(frozen=True, slots=True)
class Label:
    """One node label that says a node's capacity type."""

    key: str
    values: Mapping[str, CapacityType]
    """The values nodes carry, as the provider spells them, and what each means."""
    otherwise: CapacityType | None
    """What any other value means (None: no capacity type, so it matches no node)."""
    on_nodes_of: frozenset[CapacityType]
    """The capacity types of nodes that carry the label at all (for `Exists`)."""
    spelt_by_provider: bool = True
    """False when clusters spell the values their own way (`lifecycle`)."""

    def meaning(self, value: str) -> CapacityType | None:
        """The capacity type a node labelled `value` has (case-insensitive: module doc)."""
        folded = value.lower()
        return next(
            (meaning for spelt, meaning in self.values.items() if spelt.lower() == folded),
            self.otherwise,
        )


LABELS: Mapping[str, Label] = {
    label.key: label
    for label in (
        Label(
            "karpenter.sh/capacity-type",
            {"spot": "spot", "on-demand": "on-demand", "reserved": "reserved"},
            otherwise=None,
            on_nodes_of=TYPES,
        ),
        Label(
            "eks.amazonaws.com/capacityType",
            {"SPOT": "spot", "ON_DEMAND": "on-demand", "CAPACITY_BLOCK": "reserved"},
            otherwise=None,
            on_nodes_of=TYPES,
        ),
        *(
            Label(key, {"true": "spot"}, otherwise="on-demand", on_nodes_of=SPOT)
            for key in ("cloud.google.com/gke-spot", "cloud.google.com/gke-preemptible")
        ),
        Label(
            "kubernetes.azure.com/scalesetpriority",
            {"spot": "spot"},
            otherwise="on-demand",
            on_nodes_of=SPOT,
        ),
        Label(
            "lifecycle",
            {"EC2Spot": "spot"},
            otherwise="on-demand",
            on_nodes_of=TYPES,
            spelt_by_provider=False,
        ),
    )
}
"""Node label key -> what it says about capacity type."""


def misspelt(key: str, value: str) -> str | None:
    """The spelling nodes carry when `value` differs from it only in case, else None.

    The scheduler compares label values exactly, so such a value matches no node.
    """
    label = LABELS.get(key)
    if label is None or not label.spelt_by_provider or value in label.values:
        return None
    return next((spelt for spelt in label.values if spelt.lower() == value.lower()), None)


def allows(key: str, operator: str, values: tuple[str, ...]) -> frozenset[CapacityType]:
    """The capacity types a node matching requirement `key operator values` may have.

    `key` must be in `LABELS`. `Gt`, `Lt` and unknown operators do not narrow capacity.
    """
    label = LABELS[key]
    if operator in ("In", "NotIn"):
        named = frozenset(c for c in map(label.meaning, values) if c is not None)
        return named if operator == "In" else TYPES - named
    if operator == "Exists":
        return label.on_nodes_of
    if operator == "DoesNotExist" and label.on_nodes_of == SPOT:
        return NOT_SPOT
    return TYPES


# --- reading a pod spec ---------------------------------------------------------------------


class Requirement(NamedTuple):
    """One node-selector requirement: `key operator values` (nodeSelector entries are `In`)."""

    key: str
    operator: str
    values: tuple[str, ...]


class NodeRequirements(NamedTuple):
    """What a pod spec requires of its node: every requirement of `selector`, and those of
    one of `terms` (no terms: no affinity requirement)."""

    selector: tuple[Requirement, ...]
    terms: tuple[tuple[Requirement, ...], ...]


AFFINITY_PATH = (
    "affinity",
    "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
)


def node_requirements(spec: Mapping[str, Any]) -> NodeRequirements:
    """The pod spec's `nodeSelector` and required node affinity, as requirements.

    Raises `workloads.InvalidObject` (path relative to the spec) when either is malformed.
    """
    selector: list[Requirement] = []
    node_selector = spec.get("nodeSelector")
    if node_selector:
        if not isinstance(node_selector, JSON_OBJECT):
            raise InvalidObject("expected a mapping of labels", ("nodeSelector",))
        for key, value in node_selector.items():
            if not isinstance(value, str):
                raise InvalidObject(f"expected a string, got {value!r}", ("nodeSelector", key))
            _bounded(key, MAX_LABEL_KEY, "label key", ("nodeSelector",))
            _bounded(value, MAX_LABEL_VALUE, "label value", ("nodeSelector", key))
            selector.append(Requirement(key, "In", (value,)))
    affinity = spec.get("affinity")
    terms = []
    for i, term in enumerate(_affinity_terms(affinity) if affinity else ()):
        expressions = term.get("matchExpressions") or []
        if not isinstance(expressions, list):
            raise InvalidObject("expected a list", (*AFFINITY_PATH, i, "matchExpressions"))
        requirements = []
        for j, expression in enumerate(expressions):
            at = (*AFFINITY_PATH, i, "matchExpressions", j)
            values = expression.get("values") if isinstance(expression, JSON_OBJECT) else ()
            if not isinstance(expression, JSON_OBJECT) or not isinstance(values, list | None):
                raise InvalidObject(
                    "expected a node selector requirement (key, operator, a list of values)", at
                )
            # Read as written or refused: `values: [spot, 7]` is no list of label values, and
            # reading 7 as "7" would judge a requirement the API server would not accept.
            key = _text(expression.get("key"), (*at, "key"), "label key", MAX_LABEL_KEY)
            operator = _text(expression.get("operator"), (*at, "operator"), "operator", 16)
            texts = tuple(
                _text(v, (*at, "values", k), "label value", MAX_LABEL_VALUE)
                for k, v in enumerate(values or ())
            )
            requirements.append(Requirement(key, operator, texts))
        terms.append(tuple(requirements))
    return NodeRequirements(tuple(selector), tuple(terms))


def _text(value: Any, path: tuple[str | int, ...], what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidObject(f"expected a string, got {value!r}", path)
    return _bounded(value, limit, what, path)


MAX_LABEL_VALUE = 63
"""Characters of a label value, at most (Kubernetes validates node selectors so)."""
MAX_LABEL_KEY = 253 + 1 + 63
"""Characters of a label key, at most: a DNS-subdomain prefix, `/`, a 63-character name."""


def _bounded(text: str, limit: int, what: str, path: tuple[str | int, ...]) -> str:
    """`text`, refused past `limit` characters as the API server refuses it — a webhook sees
    an object before the API server validates it (mutation comes first), and pricing keeps
    what it reads as memo keys and notes: never an unbounded value."""
    if len(text) > limit:
        raise InvalidObject(
            f"a {what} is at most {limit} characters, got {len(text):,} ({text[:24]!r}…)", path
        )
    return text


def _affinity_terms(affinity: Any) -> list[Mapping[str, Any]]:
    value: Any = affinity
    for key in AFFINITY_PATH[1:]:
        if not isinstance(value, JSON_OBJECT):
            return []
        value = value.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, JSON_OBJECT) for t in value):
        raise InvalidObject("expected a list of node selector terms", AFFINITY_PATH)
    return value


Through = Literal["nodeSelector", "affinity"]


@dataclass(frozen=True, slots=True)
class Pin:
    """The capacity types a pod spec lets its pods run on, and what narrows them."""

    allowed: frozenset[CapacityType]
    """`TYPES` when the spec leaves capacity open; empty when its requirements contradict
    each other (no node matches)."""
    through: Through | None
    """`affinity` when required node affinity narrows capacity (a nodeSelector rewrite
    cannot widen it), else `nodeSelector` when that does, None when nothing does."""

    @property
    def spot_only(self) -> bool:
        """The pod can run on Spot capacity and nothing else."""
        return self.allowed == SPOT

    @property
    def excludes_spot(self) -> bool:
        """The pod can never run on Spot (on-demand or reserved only, or on nothing)."""
        return "spot" not in self.allowed


def pinned(spec: Mapping[str, Any], *, memo: Memo[Any, Any]) -> Pin:
    """What capacity the pod spec pins, from its nodeSelector and required node affinity.

    A pod may run on a capacity type some affinity term allows together with the
    nodeSelector; the same reading `placing` prices by. `memo` (`Memos.pins`) keeps what
    each requirement allows. Raises `workloads.InvalidObject` (path relative to the spec)
    for a malformed nodeSelector or affinity.
    """
    selector, terms = node_requirements(spec)
    by_selector = _term_allows(selector, memo)
    by_affinity = TYPES
    if terms:  # terms are alternatives: a node matching any one will do
        by_affinity = frozenset()
        for term in terms:
            by_affinity |= _term_allows(term, memo)
    through: Through | None = None
    if by_affinity != TYPES:
        through = "affinity"
    elif by_selector != TYPES:
        through = "nodeSelector"
    return Pin(by_selector & by_affinity, through)


def _term_allows(
    requirements: tuple[Requirement, ...], memo: Memo[Any, Any]
) -> frozenset[CapacityType]:
    allowed = TYPES
    for requirement in requirements:
        if requirement.key in LABELS:
            narrowed: frozenset[CapacityType] | None = memo.get(requirement)
            if narrowed is None:
                narrowed = memo.put(requirement, allows(*requirement))
            allowed &= narrowed
    return allowed


# --- putting a pod on Spot ------------------------------------------------------------------


class SpotPlacement(NamedTuple):
    """How to put a pod on one cloud's Spot nodes."""

    selector: tuple[str, str]
    """The nodeSelector entry (key, value) that requires Spot nodes."""
    taint: tuple[str, str] | None
    """The `key=value:NoSchedule` taint those nodes carry (None: none), to tolerate."""

    def toleration(self) -> dict[str, str] | None:
        """A fresh toleration of `taint` (the caller may put it in a patch)."""
        if self.taint is None:
            return None
        key, value = self.taint
        return {"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}


AKS_SPOT_TAINT = ("kubernetes.azure.com/scalesetpriority", "spot")
"""AKS taints every Spot pool `kubernetes.azure.com/scalesetpriority=spot:NoSchedule`."""
GKE_SPOT_TAINT = ("cloud.google.com/gke-spot", "true")
"""GKE taints Spot node pools `cloud.google.com/gke-spot=true:NoSchedule` when configured to."""

SPOT_PLACEMENT: Mapping[str, SpotPlacement] = {
    "karpenter": SpotPlacement(("karpenter.sh/capacity-type", "spot"), None),
    "eks": SpotPlacement(("eks.amazonaws.com/capacityType", "SPOT"), None),
    "gke": SpotPlacement(("cloud.google.com/gke-spot", "true"), GKE_SPOT_TAINT),
    "aks": SpotPlacement(AKS_SPOT_TAINT, AKS_SPOT_TAINT),
}
"""Cloud (the Spot rule's `cloud`) -> how to put a pod on its Spot nodes."""

SPOT_TAINTS: Mapping[str, str] = dict((AKS_SPOT_TAINT, GKE_SPOT_TAINT))
"""Taint key -> value of the Spot taints clusters use."""
