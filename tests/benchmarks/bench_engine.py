"""Engine evaluation time for one pod review, as a ratio to `json.loads` of the same review.

The review is fixture 009 (a 4-GPU training pod, as a real kube-apiserver sent it). It is
evaluated against the bundled policies and against 50 policies (the bundled rules repeated
under new names, plus 50 label rules), with fresh spend data so budget rules do their
arithmetic. Parsing the review as the webhook does (orjson, then the envelope validated by
pydantic) is timed separately: the webhook pays it once.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import per_call_us  # noqa: E402

from costwarden.api import reading  # noqa: E402
from costwarden.catalog.loading import bundled_catalog  # noqa: E402
from costwarden.documents import Document  # noqa: E402
from costwarden.engine import evaluating  # noqa: E402
from costwarden.engine.contexts import Context, StaticNamespaces  # noqa: E402
from costwarden.engine.ports import BudgetSpend, SpendSnapshot  # noqa: E402
from costwarden.policies import loading, sets  # noqa: E402
from costwarden.reviews import read_review  # noqa: E402

REVIEW = (
    HERE.parent.parent.parent
    / "shared"
    / "fixtures"
    / "admission"
    / ("009-validate-pod-create-ml-train-train-a100.json")
)
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def fifty_policies() -> sets.PolicySet:
    """The bundled policies copied under new rule names until there are 50 policies."""
    bundled = loading.bundled_policies()
    docs = []
    for copy in range(50):
        policy = bundled.policies[copy % len(bundled.policies)]
        data = policy.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["metadata"]["name"] = f"{policy.metadata.name}-{copy}"
        for rule in data["spec"]["rules"]:
            rule["name"] = f"{rule['name']}-{copy}"
        docs.append(Document(source="<bench>", index=copy, data=data))
    return loading.policies_from_documents(docs)


def main() -> None:
    text = REVIEW.read_text()
    request = read_review(json.loads(text))
    catalog = bundled_catalog()
    context = Context(
        namespaces=StaticNamespaces({"ml-train": {"cost-centre": "Sales-5045", "team": "nlp"}}),
        now=NOW,
        spend=SpendSnapshot(
            fetched_at=NOW - timedelta(seconds=30),
            budgets={
                "cost-centre-monthly-budget": {"Sales-5045": BudgetSpend(Decimal(1000), Decimal(5))}
            },
        ),
    )
    bundled = loading.bundled_policies()
    fifty = fifty_policies()

    baseline = per_call_us(lambda: json.loads(text))
    body = text.encode()
    parse = per_call_us(lambda: reading.parse(body), number=1000)
    figures = {
        f"evaluate, bundled policies ({len(bundled.rules)} rules)": per_call_us(
            lambda: evaluating.evaluate(
                request, policies=bundled, catalog=catalog, context=context
            ),
            number=500,
        ),
        f"evaluate, 50 policies ({len(fifty.rules)} rules)": per_call_us(
            lambda: evaluating.evaluate(request, policies=fifty, catalog=catalog, context=context),
            number=100,
        ),
        "parse the review as the webhook does (orjson + envelope)": parse,
    }
    print(f"json.loads of review 009 ({len(text)} bytes): {baseline:8.1f} µs  (1.0×)")
    for name, micros in figures.items():
        print(f"{name:45s} {micros:8.1f} µs  ({micros / baseline:5.1f}× json.loads)")


if __name__ == "__main__":
    main()
