"""All Prometheus metrics of costwarden, on an injected registry (prometheus_client)."""


# ---------------------------------------------------------------------------------------
# Spend and budgets (owner: spend). Pod cost exporter and per-budget figures.
# ---------------------------------------------------------------------------------------

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge

POD_COST_LABELS = ("namespace", "pod", "cost_centre", "team", "gpu_model", "capacity_type")


@dataclass(frozen=True, slots=True)
class BudgetFigures:
    """One budget group's numbers as the metrics show them."""

    spent: Decimal
    run_rate_hourly: Decimal
    reserved: Decimal
    cap: Decimal | None


class SpendMetrics:
    """The pod cost exporter's gauge and the per-budget gauges, on an injected registry.

    Budget gauges are labelled by budget and group; `max_groups_per_budget` bounds the
    series a budget can create (the groups with the highest spend are kept), because group
    values come from label values in Prometheus, not from a closed list.
    """

    def __init__(self, registry: CollectorRegistry, *, max_groups_per_budget: int = 100) -> None:
        self._max_groups = max_groups_per_budget
        self._groups: dict[str, set[str]] = {}
        self.pod_hourly_cost = Gauge(
            "costwarden_pod_hourly_cost",
            "Estimated cost per hour of a running pod, in the catalog currency.",
            POD_COST_LABELS,
            registry=registry,
        )
        budget = ("budget", "group")
        self.budget_spent = Gauge(
            "costwarden_budget_spent_cost",
            "Period-to-date spend of a budget group, from Prometheus.",
            budget,
            registry=registry,
        )
        self.budget_committed = Gauge(
            "costwarden_budget_committed_hourly_cost",
            "Committed run-rate (cost per hour) of what a budget group runs now.",
            budget,
            registry=registry,
        )
        self.budget_reserved = Gauge(
            "costwarden_budget_reserved_cost",
            "Cost reserved by admissions not yet visible in spend data (this replica).",
            budget,
            registry=registry,
        )
        self.budget_cap = Gauge(
            "costwarden_budget_cap_cost",
            "The budget cap of a group for the period.",
            budget,
            registry=registry,
        )
        self.budget_utilisation = Gauge(
            "costwarden_budget_utilisation_ratio",
            "Period-to-date spend divided by the cap.",
            budget,
            registry=registry,
        )
        self.spend_data_age = Gauge(
            "costwarden_spend_data_age_seconds",
            "Age of the spend snapshot (+Inf until the first successful fetch).",
            registry=registry,
        )
        self.spend_refresh_failures = Counter(
            "costwarden_spend_refresh_failures_total",
            "Spend refreshes that failed (the previous data was kept).",
            registry=registry,
        )

    def set_pod_cost(self, labels: tuple[str, ...], hourly: Decimal) -> None:
        """`labels` in `POD_COST_LABELS` order."""
        self.pod_hourly_cost.labels(*labels).set(float(hourly))

    def remove_pod_cost(self, labels: tuple[str, ...]) -> None:
        self.pod_hourly_cost.remove(*labels)

    def set_budget(self, budget: str, groups: Mapping[str, BudgetFigures]) -> None:
        """Replace the budget's series with `groups` (bounded to the highest spenders)."""
        kept = sorted(groups, key=lambda group: groups[group].spent, reverse=True)
        kept = kept[: self._max_groups]
        gauges = (
            self.budget_spent,
            self.budget_committed,
            self.budget_reserved,
            self.budget_cap,
            self.budget_utilisation,
        )
        for gone in self._groups.get(budget, set()) - set(kept):
            for gauge in gauges:
                # A cap-less group never had cap/utilisation series: nothing to remove.
                with contextlib.suppress(KeyError):
                    gauge.remove(budget, gone)
        for group in kept:
            figures = groups[group]
            self.budget_spent.labels(budget, group).set(float(figures.spent))
            self.budget_committed.labels(budget, group).set(float(figures.run_rate_hourly))
            self.budget_reserved.labels(budget, group).set(float(figures.reserved))
            if figures.cap is not None and figures.cap > 0:
                self.budget_cap.labels(budget, group).set(float(figures.cap))
                self.budget_utilisation.labels(budget, group).set(
                    float(figures.spent / figures.cap)
                )
        self._groups[budget] = set(kept)

    def track_spend_data_age(self, seconds: Callable[[], float]) -> None:
        """Compute the data age at scrape time, so it grows even when refreshes hang."""
        self.spend_data_age.set_function(seconds)

    def spend_refresh_failed(self) -> None:
        self.spend_refresh_failures.inc()
