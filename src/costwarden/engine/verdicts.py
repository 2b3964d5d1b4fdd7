"""What the engine decides about one request: the Verdict and its parts (pure data).

A pod that breaks a policy is not an exception: it is a Verdict with `allowed=False`.
The webhook turns a Verdict into an AdmissionResponse; the CLI prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, TypeAlias

from costwarden.engine.ports import Reservation
from costwarden.estimating.estimates import WorkloadEstimate

Action = Literal["deny", "warn", "dryrun"]


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule the object breaks."""

    policy: str
    rule: str
    action: Action
    message: str
    """`[rule-name] what is wrong (numbers) — how to fix or how to request an exception`."""
    numbers: dict[str, str] = field(default_factory=dict)
    """The figures behind the message, machine-readable (e.g. {"gpus": "8", "limit": "4"})."""


@dataclass(frozen=True, slots=True)
class Exempted:
    """A rule that would have fired but an exception (label or object) waived it.

    Never silent: /validate warns with it (`api.responding`) and counts it, `check`
    prints it.
    """

    policy: str
    rule: str
    exception: str
    """Which exception: `label <key>=<ticket>` or `PolicyException <name>`."""
    reason: str
    """Why, as its grantor wrote it: the reason annotation (`ticket <value>` without one)
    or the PolicyException's `spec.reason`."""
    expires: datetime
    """When the waiver ends, timezone-aware: a date-only expiry ends at the start of the
    next day, UTC (valid through that day)."""


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One RFC 6902 operation; `path` is an RFC 6901 pointer, already escaped."""

    op: Literal["add", "replace", "remove", "test"]
    path: str
    value: Any = None


MergePatch: TypeAlias = Mapping[str, Any]
"""Desired changes to an object as an RFC 7386 merge patch (`engine.patching`)."""
NO_CHANGES: MergePatch = MappingProxyType({})


class Hold(NamedTuple):
    """A reservation admitting the request holds, and the violation should the ledger
    refuse it when the verdict is committed (formatted only then)."""

    reservation: Reservation
    refusal: Callable[[], Violation | None]
    """None: a refusal is waived (an exception waives a budget rule's finding)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    violations: tuple[Violation, ...] = ()
    """Every rule broken, whatever its action; `denials`/`warnings` filter them."""
    exempted: tuple[Exempted, ...] = ()
    notices: tuple[str, ...] = ()
    """Informational lines for the user (e.g. the cost estimate)."""
    patches: tuple[PatchOperation, ...] = ()
    estimate: WorkloadEstimate | None = None
    holds: tuple[Hold, ...] = ()
    """What admitting holds in budgets (only on a verdict that allows): the caller commits
    them to the ledger, never for a dry run."""

    def refused(self, reservations: Collection[Reservation]) -> Verdict:
        """This verdict once the ledger refused `reservations` on commit (others took the
        room since the rules looked): their violations added, once per rule (the holds of
        one rule share one refusal), and it denies if one does."""
        refusals = dict.fromkeys(h.refusal for h in self.holds if h.reservation in reservations)
        refused = [violation for refusal in refusals if (violation := refusal()) is not None]
        allowed = self.allowed and all(v.action != "deny" for v in refused)
        return replace(
            self,
            allowed=allowed,
            violations=(*self.violations, *refused),
            patches=self.patches if allowed else (),
            holds=tuple(h for h in self.holds if h.reservation not in reservations)
            if allowed
            else (),
        )

    @property
    def outcome(self) -> Literal["denied", "warned", "allowed"]:
        """In one word, as reports print it: denied, else warned when a rule warned."""
        if not self.allowed:
            return "denied"
        return "warned" if self.warnings else "allowed"

    @property
    def denials(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.action == "deny")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.action == "warn")


@dataclass(frozen=True, slots=True)
class Repair:
    """What /mutate needs: how the policies repair an object, and its estimate once repaired.

    No decision: /validate decides, on the repaired object the API server passes it.
    """

    patch: MergePatch = field(default_factory=dict)
    """The repairs, for /mutate to add its own changes to before it turns them into
    JSONPatch (`patching.json_patch`) against the original object."""
    estimate: WorkloadEstimate | None = None
    """Of the object after `patch` (a pod moved to Spot is priced at Spot)."""
