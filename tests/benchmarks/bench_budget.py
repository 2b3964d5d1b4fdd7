"""What a budget rule adds to a review: evaluate one real AdmissionReview with the bundled
policies without their budget rule and with it (spend snapshot in memory, reservation
ledger on), and print µs per review and the ratio.

The budget rule reads an immutable snapshot and takes one lock in the ledger; it never
touches the network, so the ratio should stay close to 1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

from timing import per_call_us

from costwarden import reviews
from costwarden.catalog.loading import bundled_catalog
from costwarden.engine import Context, StaticNamespaces, evaluate
from costwarden.engine.ports import BudgetSpend, SpendSnapshot
from costwarden.policies.loading import bundled_policies
from costwarden.policies.sets import PolicySet
from costwarden.spend.ledger import ReservationLedger

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "admission"
NOW = datetime(2026, 3, 3, 12, tzinfo=UTC)
NAMESPACES = StaticNamespaces(
    {
        "ml-train": {"cost-centre": "Sales-5045", "team": "nlp", "env": "prod"},
        "ml-dev": {"cost-centre": "RnD-1001", "team": "vision", "env": "dev"},
    }
)


def main() -> None:
    request = reviews.AdmissionReview.model_validate(
        json.loads((FIXTURES / "009-validate-pod-create-ml-train-train-a100.json").read_text())
    ).request
    assert request is not None
    catalog = bundled_catalog()
    with_budget = bundled_policies()
    budget_rules = [r.name for r in with_budget.rules if r.rule.budget is not None]
    without_budget = PolicySet(
        policies=tuple(p for p in with_budget.policies if p.metadata.name != "budgets"),
        exceptions=with_budget.exceptions,
    )
    assert len(without_budget.rules) == len(with_budget.rules) - len(budget_rules)
    spend = SpendSnapshot(
        fetched_at=NOW,
        budgets=MappingProxyType(
            {
                name: MappingProxyType(
                    {"Sales-5045": BudgetSpend(Decimal("297.0125"), Decimal("5.25"))}
                )
                for name in budget_rules
            }
        ),
    )
    ledger = ReservationLedger()
    budgeted = Context(namespaces=NAMESPACES, now=NOW, spend=spend, reservations=ledger)
    evaluate(request, policies=with_budget, catalog=catalog, context=budgeted)
    # The budget rule ran to the end: it priced the pod and reserved it.
    assert any(
        ledger.reserved(budget=name, group="Sales-5045", now=NOW) > 0 for name in budget_rules
    )

    base = per_call_us(
        lambda: evaluate(request, policies=without_budget, catalog=catalog, context=budgeted)
    )
    budget = per_call_us(
        lambda: evaluate(request, policies=with_budget, catalog=catalog, context=budgeted)
    )
    reserve = per_call_us(
        lambda: ledger.try_reserve(
            budget="b", group="g", key="k", amount=Decimal(1), limit=Decimal(10), now=NOW
        ),
        number=20000,
    )
    print(f"review without budget rules: {base:8.1f} µs")
    print(f"review with budget rule:     {budget:8.1f} µs  (ratio {budget / base:.2f})")
    print(f"ledger try_reserve alone:    {reserve:8.2f} µs")


if __name__ == "__main__":
    main()
