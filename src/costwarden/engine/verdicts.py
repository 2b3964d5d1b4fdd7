"""What the engine decides about one request: the Verdict and its parts (pure data).

A pod that breaks a policy is not an exception: it is a Verdict with `allowed=False`.
The webhook turns a Verdict into an AdmissionResponse; the CLI prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

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
    """A rule that would have fired but an exception (label or object) waived it."""

    policy: str
    rule: str
    exception: str
    reason: str


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One RFC 6902 operation; `path` is an RFC 6901 pointer, already escaped."""

    op: Literal["add", "replace", "remove", "test"]
    path: str
    value: Any = None


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

    patches: tuple[PatchOperation, ...] = ()
    estimate: WorkloadEstimate | None = None
    """Of the object after `patches` (a pod moved to Spot is priced at Spot)."""
