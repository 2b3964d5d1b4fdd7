"""What a rule kind is: one module's spec model, compile step, check and declarations.

Every kind under `engine.rules` exports one `KIND = RuleKind(...)`; the registry
(`engine.rules.KINDS`) collects them, the policy model's `Rule` union is derived from it,
and the orchestrator (`engine.evaluating`) runs them without knowing any by name:

    targets -> matching rules -> kind.check(compiled, review) -> outcomes -> verdict

A check is pure: it reads the `Review` (the new target, the old one on UPDATE, what the
change is, the context and the catalog) and returns an `Outcome` — findings, patches,
notices and, for a budget, the reservation admitting would hold. It never writes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from costwarden.catalog.models import Catalog
from costwarden.engine.contexts import Context
from costwarden.engine.findings import Change, Outcome, Target
from costwarden.engine.specs import Action, SpecModel

Update = Literal["spec", "scale", "resize", "any"]
"""Which UPDATEs a rule looks at: one that brings a new pod spec (`spec`), one that runs more
pods at once (`scale`), one that grows a running pod's CPU or memory in place (`resize`:
`pods/resize` changes nothing else — not placement, tolerations or GPUs), or any UPDATE at
all (`any`). Every rule looks at every CREATE."""

S = TypeVar("S", bound=SpecModel)
C = TypeVar("C")


class Head(NamedTuple):
    """What a compile step knows of the rule besides its spec."""

    name: str
    action: Action


class Review(NamedTuple):
    """What a check sees of one request."""

    target: Target
    old: Target | None
    """The object before an UPDATE (None on CREATE)."""
    change: Change
    context: Context
    catalog: Catalog


def _never(spec: Any) -> bool:
    return False


def _as_is(spec: S, head: Head) -> S:
    return spec


@dataclass(frozen=True, slots=True)
class RuleKind(Generic[S, C]):
    field: str
    """The key that names the kind in a rule (`requiredLabels`, `budget`)."""
    spec: type[S]
    check: Callable[[C, Review], Outcome]
    compile: Callable[[S, Head], C] = _as_is  # type: ignore[assignment]
    """Precomputes what `check` needs from the spec, once per policy load."""
    updates: frozenset[Update] = frozenset({"spec"})
    repairs: Callable[[S], bool] = _never
    """Whether a rule of this spec may patch the object (what /mutate runs)."""
    grandfathered: bool = False
    """On UPDATE, report only what the old object did not already break, and patch nothing."""
    budget_phase: bool = False
    """Checked after every other rule: what it reserves is held only when all allow."""

    def looks_at(self, change: Change) -> bool:
        """Whether an UPDATE with this change concerns the kind."""
        updates = self.updates
        return (
            "any" in updates
            or (change.spec_changed and "spec" in updates)
            or (change.scaled_up and "scale" in updates)
            or (change.resized_up and "resize" in updates)
        )
