"""The rule kinds, one module each, and the registry that collects them.

Adding a kind: write its module (spec model, compile step, `check`, declarations — see
`engine.kinds.RuleKind`) and add it to `KINDS` below. The policy model's `Rule` union, the JSON
Schema and the orchestrator all follow from this tuple.
"""

from __future__ import annotations

from costwarden.engine.kinds import RuleKind
from costwarden.engine.rules import (
    budget,
    gpu_limits,
    gpu_taint,
    required_labels,
    size_envelope,
    spot,
)

KINDS: tuple[RuleKind, ...] = (  # type: ignore[type-arg]
    required_labels.KIND,
    gpu_limits.KIND,
    spot.KIND,
    size_envelope.KIND,
    gpu_taint.KIND,
    budget.KIND,
)
"""The order errors and the JSON Schema name them in (rules are checked in policy order,
budget-phase kinds last)."""
