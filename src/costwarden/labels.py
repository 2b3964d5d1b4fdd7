"""The cost-label vocabulary: which labels name who pays and which team runs what.

One place for the defaults: `serve` copies these labels from namespaces onto what they run
and makes them dimensions of its cost metrics, budgets group spend by the cost centre, and
`audit` shows cost back by both. Each is a setting where a cluster uses other names.
"""

from __future__ import annotations

COST_CENTRE = "cost-centre"
"""The label naming an object's cost centre (who pays)."""

TEAM = "team"
"""The label naming the team that runs an object."""

NONE = "(none)"
"""How a report names the group of objects that carry no such label anywhere."""
