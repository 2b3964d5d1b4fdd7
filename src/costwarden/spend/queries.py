"""What to ask Prometheus for each budget: the `BudgetQuery` spec and its default PromQL.

A budget needs two numbers per group (cost centre, team or namespace):

- **run-rate**: the committed $/h of what runs now — an instant sum of per-pod $/h gauges;
- **spent**: period-to-date spend — the time integral of that same run-rate, taken as a
  subquery at the scrape step: `sum_over_time((<run-rate>)[<range>:<step>]) * step / 3600`
  (each point is $/h held for one step).

Two default sources (docs/budgets.md documents their accuracy):

- `costwarden`: our own `costwarden_pod_hourly_cost` gauge (the pod cost exporter). Every
  webhook replica exports the same series, so pods are first collapsed with
  `max by (namespace, pod, <group>)` — taking the max instead of the sum is what keeps N
  replicas from counting a pod N times.
- `opencost`: OpenCost's allocation × node price metrics, joined on `node` — CPU and RAM
  at allocation (max of request and usage), GPUs at request. Native grouping is by
  namespace; `cost_centre`/`team` join kube-state-metrics' `kube_namespace_labels`
  (`label_cost_centre`, `label_team`, which kube-state-metrics only exports when its
  `--metric-labels-allowlist` names them).

Each refresh also asks which of the pods the ledger holds the default run-rate counts
(`visible_pods`): their reservations are released, as their cost is in the run-rate from
then on.

A custom query may replace either; it must return an instant vector carrying the
`group_by` label, and may use the placeholders `{{range}}` (e.g. `86399s`) and `{{step}}`
(e.g. `60s`) for the period-to-date window.

"No series" from a budget query means zero: nothing in the budget's scope ran (a budget
on one GPU model, the first hours of a week). What tells that apart from a broken pipeline
is the source's **presence probe**, run once per refresh for every source a default query
uses: `count(costwarden_pod_hourly_cost)` — the exporter always exports at least the
webhook's own pod, so no series at all means it is not scraped — or, for OpenCost,
`count(container_cpu_allocation)`. An empty probe fails the refresh (stale data). A budget
whose two queries are both custom has no probe: its author knows what empty means.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from costwarden import periods
from costwarden.engine.rules.budget import Budget
from costwarden.policies.sets import PolicySet

GroupBy = Literal["cost_centre", "team", "namespace"]
Source = Literal["costwarden", "opencost"]

POD_HOURLY_COST = "costwarden_pod_hourly_cost"
PRESENCE: Mapping[Source, str] = {
    "costwarden": f"count({POD_HOURLY_COST})",
    "opencost": "count(container_cpu_allocation)",
}
"""Per source: a query that has a series whenever the source's metrics are scraped."""
PER_POD: Mapping[Source, str] = {
    "costwarden": POD_HOURLY_COST,
    "opencost": "container_cpu_allocation",
}
"""Per source: a metric with a series for every pod its default run-rate counts (labels
`namespace`, `pod`): what the ledger need no longer hold (`visible_pods`)."""


@dataclass(frozen=True, slots=True)
class BudgetQuery:
    """How one budget rule's spend is fetched. Built by the app from the policy's budget rule."""

    name: str
    """The budget rule's name: the key of `SpendSnapshot.budgets`."""
    group_by: GroupBy
    period: periods.Period = "month"
    timezone: str = "UTC"
    source: Source = "costwarden"
    spent_promql: str | None = None
    """Custom period-to-date spend query (placeholders `{{range}}`, `{{step}}`)."""
    run_rate_promql: str | None = None
    """Custom committed $/h query."""
    step_seconds: int = 60
    """Subquery resolution: the scrape interval. Finer adds cost, not accuracy."""
    cap: Decimal | None = None
    """The cap of groups not in `caps`, for the budget metrics only (the engine decides)."""
    caps: Mapping[str, Decimal] = field(default_factory=dict)
    """Group value -> cap, for the budget metrics only."""

    def cap_of(self, group: str) -> Decimal | None:
        return self.caps.get(group, self.cap)


@dataclass(frozen=True, slots=True)
class RenderedQuery:
    """The PromQL to evaluate at one instant."""

    spent: str | None
    """None while the period is younger than one step: nothing can have been spent yet."""
    run_rate: str
    label: str
    """The result label that carries the group value."""


def render(query: BudgetQuery, *, now: datetime) -> RenderedQuery:
    """The PromQL for `query` evaluated at `now` (pass `now` as the query's `time`)."""
    elapsed = periods.seconds_into_period(now, period=query.period, timezone=query.timezone)
    run_rate = query.run_rate_promql or default_run_rate(query)
    if elapsed < query.step_seconds:
        return RenderedQuery(spent=None, run_rate=run_rate, label=query.group_by)
    # One second short of the period: Prometheus 2 includes a subquery point exactly at the
    # range start (the last minute of the previous period), Prometheus 3 excludes it; with
    # `elapsed - 1` both count exactly one point per whole step of this period.
    window = f"{elapsed - 1}s"
    step = f"{query.step_seconds}s"
    if query.spent_promql:
        spent = query.spent_promql.replace("{{range}}", window).replace("{{step}}", step)
    else:
        spent = (
            f"sum_over_time(({default_run_rate(query)})[{window}:{step}])"
            f" * {query.step_seconds} / 3600"
        )
    return RenderedQuery(spent=spent, run_rate=run_rate, label=query.group_by)


def presence_probe(query: BudgetQuery) -> str | None:
    """The probe proving the query's source is scraped; None when both queries are custom."""
    if query.run_rate_promql and query.spent_promql:
        return None
    return PRESENCE[query.source]


def per_pod_metric(query: BudgetQuery) -> str | None:
    """The metric telling which pods the query's run-rate counts (`PER_POD`); None for a
    custom run-rate (what it counts is its author's to know: its reservations last their
    TTL)."""
    if query.run_rate_promql:
        return None
    return PER_POD[query.source]


def visible_pods(metric: str, names: Iterable[str], *, per_query: int = 500) -> list[str]:
    """Which of these pods (by name, in any namespace) `metric` has a series for: one
    series per pod, labels `namespace` and `pod`. Asking for the pods the ledger holds,
    not every pod, keeps the answer as small as the ledger; `per_query` names at most per
    query keeps a burst's thousands of pods from making one huge regex."""
    # Pod names are DNS subdomains ([a-z0-9.-]): only the dot means something in RE2, and
    # its backslash is doubled for the PromQL string.
    escaped = sorted(name.replace(".", "\\\\.") for name in names)
    return [
        f'count by (namespace, pod) ({metric}{{pod=~"{"|".join(escaped[i : i + per_query])}"}})'
        for i in range(0, len(escaped), per_query)
    ]


def default_run_rate(query: BudgetQuery) -> str:
    """Committed $/h per group, from the query's source."""
    if query.source == "opencost":
        return _opencost_run_rate(query.group_by)
    group = query.group_by
    keep = "namespace, pod" if group == "namespace" else f"namespace, pod, {group}"
    return f"sum by ({group}) (max by ({keep}) ({POD_HOURLY_COST}))"


def _opencost_run_rate(group: GroupBy) -> str:
    container = "namespace, pod, container, node"

    def priced(allocation: str, node_price: str, resource: str, scale: str = "") -> str:
        # `max by` collapses duplicate exporters; `or` below needs distinct label sets, so
        # each resource gets its own `resource` label before the union.
        return (
            f"label_replace(max by ({container}) ({allocation}){scale}"
            f" * on (node) group_left () max by (node) ({node_price}),"
            f' "resource", "{resource}", "", "")'
        )

    by_namespace = (
        "sum by (namespace) ("
        + " or ".join(
            (
                priced("container_cpu_allocation", "node_cpu_hourly_cost", "cpu"),
                priced(
                    "container_memory_allocation_bytes",
                    "node_ram_hourly_cost",
                    "memory",
                    scale=" / 1073741824",
                ),
                priced("container_gpu_allocation", "node_gpu_hourly_cost", "gpu"),
            )
        )
        + ")"
    )
    if group == "namespace":
        return by_namespace
    ksm_label = f"label_{group}"
    return (
        f"sum by ({group}) (label_replace({by_namespace}"
        f" * on (namespace) group_left ({ksm_label})"
        f" max by (namespace, {ksm_label}) (kube_namespace_labels),"
        f' "{group}", "$1", "{ksm_label}", "(.*)"))'
    )


def for_policies(policies: PolicySet, *, source: Source = "costwarden") -> list[BudgetQuery]:
    """One query per budget rule, named after the rule (the snapshot's key); `source` for
    rules whose `spend` names none, custom PromQL as the rule's `spend` says.

    Raises ValueError for a rule grouped by a label the exporter does not carry: its
    groups would never have spend data, and the engine would read that as zero spend.
    """
    found = []
    for rule in policies.budget_rules:
        budget: Budget = rule.rule.spec
        spend = budget.spend
        found.append(
            BudgetQuery(
                name=rule.name,
                group_by=_group_by(rule.name, budget),
                period=budget.period,
                timezone=budget.timezone,
                source=(spend.source if spend else None) or source,
                spent_promql=spend.spent if spend else None,
                run_rate_promql=spend.run_rate if spend else None,
                cap=budget.default_cap,
                caps=dict(budget.caps),
            )
        )
    return found


def _group_by(rule: str, budget: Budget) -> GroupBy:
    if budget.group_by == "namespace":
        return "namespace"
    label = (budget.label or "").replace("-", "_")
    if label == "cost_centre":
        return "cost_centre"
    if label == "team":
        return "team"
    raise ValueError(
        f"budget rule {rule}: spend is exported by cost_centre, team and namespace; "
        f"label {budget.label!r} has no spend series (group by cost-centre, team or namespace)"
    )
