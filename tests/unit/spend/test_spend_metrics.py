from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from costwarden.metrics import BudgetFigures, SpendMetrics


def figures(spent: int, cap: int | None = 100) -> BudgetFigures:
    return BudgetFigures(
        spent=Decimal(spent),
        run_rate_hourly=Decimal(1),
        reserved=Decimal(0),
        cap=None if cap is None else Decimal(cap),
        projected=Decimal(spent + 24),
    )


def scraped(registry: CollectorRegistry, name: str) -> dict[str, float]:
    """The samples called `name` in the exposition, by their `group` label."""
    return {
        sample.labels["group"]: sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == name
    }


def groups(registry: CollectorRegistry, name: str = "costwarden_budget_spent_cost") -> set[str]:
    return set(scraped(registry, name))


def test_budget_series_are_bounded_to_the_highest_spenders() -> None:
    registry = CollectorRegistry()
    metrics = SpendMetrics(registry, max_groups_per_budget=2)
    metrics.set_budget("cc", {"a": figures(5), "b": figures(50), "c": figures(20)})
    assert groups(registry) == {"b", "c"}
    assert groups(registry, "costwarden_budget_utilisation_ratio") == {"b", "c"}
    assert groups(registry, "costwarden_budget_projected_cost") == {"b", "c"}


def test_groups_that_disappear_lose_their_series() -> None:
    registry = CollectorRegistry()
    metrics = SpendMetrics(registry)
    metrics.set_budget("cc", {"a": figures(5), "b": figures(50, cap=None)})
    metrics.set_budget("cc", {"a": figures(6)})
    assert groups(registry) == {"a"}
    assert groups(registry, "costwarden_budget_projected_cost") == {"a"}
    assert scraped(registry, "costwarden_budget_spent_cost") == {"a": 6}


def test_without_a_cap_there_is_no_cap_or_utilisation_series() -> None:
    registry = CollectorRegistry()
    SpendMetrics(registry).set_budget("cc", {"a": figures(5, cap=None)})
    assert groups(registry) == {"a"}
    assert groups(registry, "costwarden_budget_cap_cost") == set()
    assert groups(registry, "costwarden_budget_utilisation_ratio") == set()
