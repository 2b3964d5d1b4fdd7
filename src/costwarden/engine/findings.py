"""What a rule check returns before the engine applies actions and exceptions (pure data)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from costwarden.engine.ports import Reservation
from costwarden.engine.verdicts import NO_CHANGES, Action, MergePatch
from costwarden.estimating.estimates import WorkloadEstimate
from costwarden.workloads import PodTemplate


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a rule objects to: `what` (with its numbers) and how to fix it."""

    key: str
    """Stable identity (e.g. `missing:cost-centre`): on UPDATE, a finding the old object
    had too is not reported again (grandfathered)."""
    what: str
    fix: str = ""
    numbers: Mapping[str, str] = field(default_factory=dict)
    action: Action | None = None
    """Overrides the rule's action (a budget's warn threshold warns under a deny rule)."""


# Outcome, Change and Target are NamedTuples, not frozen dataclasses: they are built for
# every review, and a NamedTuple is cheaper to build.
class Outcome(NamedTuple):
    """What one rule says about one request."""

    findings: tuple[Finding, ...] = ()
    patch: MergePatch = NO_CHANGES
    """What the rule would change, as a merge patch of the pod template (`{"spec": ...}`):
    the engine places it where the object's template is (`engine.patching`)."""
    notices: tuple[str, ...] = ()
    reservations: tuple[Reservation, ...] = ()
    """What admitting holds in a budget (the caller commits them if the request is allowed):
    the workload's, and a shared claim's it names."""
    refusal: Callable[[], Finding] | None = None
    """The finding should the ledger refuse one of `reservations` (formatted only then)."""
    repairs_breach: bool = False
    """The patch repairs a breach of the rule (a dev pod moved to Spot): an exception that
    waives the rule waives it too. False: it only completes the object (a label
    inherited from the namespace)."""


NOTHING = Outcome()


class Change(NamedTuple):
    """What an UPDATE changes, so rules re-check only what the change can affect."""

    spec_changed: bool
    """The pod spec (template) differs: new pods will be scheduled from it."""
    scaled_up: bool
    """More pods run at once than before."""
    delta_hourly: Decimal
    """$/h added by the request (all of it on CREATE); budget rules charge this."""
    existing: bool = False
    """The object existed before (an UPDATE, a scale): what the request adds is held beside
    what the object already holds, not in its place (`reservations.keys.change_key`)."""
    pods: int = 1
    """The pods that will run at the added cost: all of the object's when each costs more
    (a CREATE, a new pod spec), the added ones when it only scales up. The spend data shows
    the cost once that many of the object's pods created since run (`Reservations`)."""
    resized_up: bool = False
    """A running pod grew in place (`pods/resize`): more CPU or memory, or a higher $/h."""


class Target(NamedTuple):
    """The pods a request would run, as the rules see them."""

    kind: str
    name: str
    namespace: str | None
    object: Mapping[str, Any]
    template: PodTemplate
    labels: Mapping[str, str]
    """Labels of the pod (template)."""
    namespace_labels: Mapping[str, str]
    estimate: WorkloadEstimate
    controller: str | None
    """Kind of the controlling owner (ReplicaSet, Job, ...), None for top-level objects."""
    dry_run: bool
    uid: str
    now: datetime
    user: str | None = None
    """Who sent the request (`userInfo.username`): an exception never waives a rule for a
    request its own approver sends."""
    namespace_known: bool = True
    """Whether the namespace's labels are known (False: `check` was given none for it)."""

    def label(self, key: str) -> str | None:
        """The object's label, else its pod template's (exception labels live on either)."""
        metadata = self.object.get("metadata") or {}
        value = (metadata.get("labels") or {}).get(key)
        return value if value is not None else self.labels.get(key)

    def annotation(self, key: str) -> str | None:
        metadata = self.object.get("metadata") or {}
        value = (metadata.get("annotations") or {}).get(key)
        if value is None:
            value = (self.template.metadata.get("annotations") or {}).get(key)
        return value if isinstance(value, str) else None
