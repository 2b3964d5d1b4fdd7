from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costwarden.policies.loading import bundled_policies, load_policies
from costwarden.spend import queries


def test_every_bundled_budget_rule_gets_a_query_named_after_it() -> None:
    policies = bundled_policies()
    found = queries.for_policies(policies)
    budget_rules = [rule.name for rule in policies.rules if rule.rule.budget is not None]
    assert [query.name for query in found] == budget_rules
    monthly = found[0]
    assert monthly.group_by == "cost_centre"
    assert monthly.cap_of("Sales-5045") == Decimal(60000)
    assert monthly.cap_of("Unknown-1") == Decimal(5000)


def test_a_budget_on_a_label_without_spend_series_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        """apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: b}
spec:
  rules:
  - name: by-project
    action: deny
    budget: {groupBy: label, label: project, defaultCap: "100"}
"""
    )
    with pytest.raises(ValueError, match=r"by-project.*'project'"):
        queries.for_policies(load_policies([path]))
