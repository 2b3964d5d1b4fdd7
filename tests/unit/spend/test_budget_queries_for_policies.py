from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costwarden.policies.loading import bundled_policies, load_policies
from costwarden.spend import queries


def test_every_bundled_budget_rule_gets_a_query_named_after_it() -> None:
    policies = bundled_policies()
    found = queries.for_policies(policies)
    budget_rules = [rule.name for rule in policies.rules if rule.kind.budget_phase]
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


def test_the_servers_source_applies_unless_the_rule_names_its_own(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        """apiVersion: costwarden.io/v1alpha1
kind: CostPolicy
metadata: {name: b}
spec:
  rules:
  - name: server-default
    budget: {defaultCap: "100"}
  - name: own-source
    budget: {defaultCap: "100", spend: {source: costwarden}}
  - name: custom
    budget: {defaultCap: "100", spend: {runRate: "sum by (cost_centre) (x)", spent: "y"}}
"""
    )
    found = {q.name: q for q in queries.for_policies(load_policies([path]), source="opencost")}
    assert found["server-default"].source == "opencost"
    assert found["own-source"].source == "costwarden"
    assert found["custom"].run_rate_promql == "sum by (cost_centre) (x)"
    assert found["custom"].spent_promql == "y"
    assert queries.presence_probe(found["custom"]) is None
    assert queries.presence_probe(found["server-default"]) == "count(container_cpu_allocation)"
