""" "Not checked" for unknown namespace labels is `check`'s, never the webhook's.

`check` is told only some namespaces' labels, so a rule reading the labels of another says
it was not checked rather than deny falsely. The webhook's namespace sources (the
cluster's watch, a labels file, none) are the whole truth: a namespace they do not know has
no labels, and a pod there that lacks cost labels, or that a selector matching empty labels
catches, is judged — an unknown namespace is no way around a rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from costwarden import reviews
from costwarden.catalog.loading import bundled_catalog
from costwarden.documents import Document
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.evaluating import evaluate
from costwarden.policies import loading

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "etl", "namespace": "brand-new", "labels": {"app": "etl"}},
    "spec": {
        "containers": [
            {"name": "c", "image": "x", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}
        ]
    },
}
NOT_IN_PROD = {
    "apiVersion": "costwarden.io/v1alpha1",
    "kind": "CostPolicy",
    "metadata": {"name": "p"},
    "spec": {
        "rules": [
            {
                "name": "labels-outside-prod",
                "action": "deny",
                "match": {
                    "namespaceSelector": {
                        "matchExpressions": [
                            {"key": "env", "operator": "NotIn", "values": ["prod"]}
                        ]
                    }
                },
                "requiredLabels": {"labels": [{"key": "owner"}]},
            }
        ]
    },
}


def verdict(policies: Any, *, partial: bool) -> Any:
    context = Context(
        namespaces=StaticNamespaces({"elsewhere": {"env": "prod"}}),
        now=NOW,
        namespaces_partial=partial,
        budget_stale_default="allow",
    )
    return evaluate(
        reviews.request_for(POD), policies=policies, catalog=bundled_catalog(), context=context
    )


@pytest.mark.parametrize(
    ("policies", "rule"),
    [
        (loading.bundled_policies, "require-cost-labels"),
        (loading.bundled_policies, "cost-centre-monthly-budget"),  # nobody pays
        (
            lambda: loading.policies_from_documents([Document("p.yaml", 0, NOT_IN_PROD)]),
            "labels-outside-prod",
        ),
    ],
    ids=["inherited label", "budget by label", "NotIn namespace selector"],
)
def test_the_webhook_judges_an_unknown_namespace_as_unlabelled(policies, rule) -> None:
    served = verdict(policies(), partial=False)
    assert not served.allowed
    assert rule in {v.rule for v in served.denials}
    checked = verdict(policies(), partial=True)
    assert rule not in {v.rule for v in checked.violations}
    assert any(n.startswith(f"[{rule}] ") and "not checked" in n for n in checked.notices)
