"""The engine's cost, as ratios that hold on any machine:

1. A full review of each of the 40 captured pod CREATEs (decode the body, answer it as the
   webhook does — /mutate or /validate, every bundled rule — and write the response),
   against stdlib `json.loads` of the same bodies. Bound: 3.0×.
2. 900 rules of which 9 apply (a policy per team, 100 teams) against the 9-rule set alone.
   Bound: 1.2×.
3. Fixture 009 evaluated against the bundled policies and against 50 policies, and parsing
   the review as the webhook does, each against `json.loads` of it.
4. regorus (a Rego engine) running 3 of our rules on the same reviews, when it is installed
   (`pip install regorus`), else rego-cpp's `regopy`; the bound is that our full review
   costs no more.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prometheus_client import CollectorRegistry  # noqa: E402
from timing import per_call_us  # noqa: E402

from costwarden.api import reading  # noqa: E402
from costwarden.api.admitting import Admission  # noqa: E402
from costwarden.api.wire import read_review  # noqa: E402
from costwarden.catalog.loading import bundled_catalog  # noqa: E402
from costwarden.documents import Document  # noqa: E402
from costwarden.engine import evaluating  # noqa: E402
from costwarden.engine.contexts import Context, StaticNamespaces  # noqa: E402
from costwarden.engine.ports import BudgetSpend, SpendSnapshot  # noqa: E402
from costwarden.memos import Memos  # noqa: E402
from costwarden.metrics import AdmissionMetrics  # noqa: E402
from costwarden.policies import loading, sets  # noqa: E402
from costwarden.reviews import AdmissionRequest  # noqa: E402

FIXTURES = HERE.parent / "fixtures" / "admission"
REVIEW = FIXTURES / "009-validate-pod-create-ml-train-train-a100.json"
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


NAMESPACES = {"ml-train": {"cost-centre": "Sales-5045", "team": "nlp"}}


def spend_context(namespaces: dict[str, dict[str, str]], memos: Memos) -> Context:
    return Context(
        namespaces=StaticNamespaces(namespaces),
        now=NOW,
        spend=SpendSnapshot(
            fetched_at=NOW - timedelta(seconds=30),
            budgets={
                "cost-centre-monthly-budget": {"Sales-5045": BudgetSpend(Decimal(1000), Decimal(5))}
            },
        ),
        memos=memos,
    )


def full_reviews() -> None:
    """Every captured pod CREATE answered as the webhook answers it, against json.loads."""
    bodies = [
        (path.name.split("-")[1], path.read_bytes())
        for path in sorted(FIXTURES.glob("*-pod-create-*.json"))
    ]
    policies, catalog, memos = loading.bundled_policies(), bundled_catalog(), Memos()
    namespaces = {
        "ml-train": {"cost-centre": "Sales-5045", "team": "nlp"},
        "ml-dev": {"cost-centre": "Sales-5045", "team": "nlp", "env": "dev"},
        "ml-infer": {"cost-centre": "Retail-2045", "team": "search"},
    }

    def evaluate(request: AdmissionRequest, *, side_effects: bool) -> evaluating.Verdict:
        context = spend_context(namespaces, memos)
        return evaluating.evaluate(request, policies=policies, catalog=catalog, context=context)

    def repair(request: AdmissionRequest) -> evaluating.Repair:
        context = spend_context(namespaces, memos)
        return evaluating.repair(request, policies=policies, catalog=catalog, context=context)

    admission = Admission(
        evaluate=evaluate,
        repair=repair,
        namespaces=StaticNamespaces(namespaces),
        metrics=AdmissionMetrics(CollectorRegistry()),
    )

    def answer_all() -> None:
        for webhook, body in bodies:
            admission.answer(webhook, reading.parse(body), started=0.0)

    texts = [body for _, body in bodies]
    loads = per_call_us(lambda: [json.loads(text) for text in texts], number=100)
    ours = per_call_us(answer_all, number=50)
    print(f"json.loads of the {len(bodies)} captured pod CREATEs: {loads:8.1f} µs")
    print(
        f"full review of each (decode, /mutate or /validate, response): {ours:8.1f} µs  "
        f"({ours / loads:4.2f}× json.loads; bound 3.0×)"
    )
    regorus_comparison(texts, ours)


def regorus_comparison(texts: list[bytes], ours: float) -> None:
    """A Rego engine running three of our rules (required cost-centre label, GPUs per pod,
    Spot for dev) on the same reviews: regorus when it is installed (the bound's engine),
    else rego-cpp's `regopy` (Microsoft's other Rego interpreter, on PyPI), said as such."""
    inputs = [json.loads(text) for text in texts]
    try:
        import regorus  # type: ignore[import-not-found]
    except ImportError:
        regorus = None
    if regorus is not None:
        engine = regorus.Engine()
        engine.add_policy("rules.rego", REGO)

        def evaluate_all() -> None:
            for review in inputs:
                engine.set_input(review)
                engine.eval_query("data.costwarden.deny")

        name = "regorus"
    else:
        print("regorus: not installed (pip install regorus; not on the index this machine reaches)")
        try:
            import regopy  # type: ignore[import-untyped]
        except ImportError:
            print("regopy: not installed either; no Rego comparison run")
            return
        interpreter = regopy.Interpreter()
        interpreter.add_module("rules.rego", REGO)

        def evaluate_all() -> None:
            for review in inputs:
                interpreter.set_input(regopy.Input(review))
                interpreter.query("data.costwarden.deny")

        name = "regopy (rego-cpp), in regorus's place"
    theirs = per_call_us(evaluate_all, number=5)
    print(
        f"{name}, 3 rules, the same reviews: {theirs:8.1f} µs  "
        f"(our full review is {ours / theirs:4.2f}× of it; bound 1.0×)"
    )


REGO = """
package costwarden
import rego.v1

pod := input.request.object
deny contains "missing cost-centre" if {
    input.request.kind.kind == "Pod"
    not pod.metadata.labels["cost-centre"]
}
deny contains "too many GPUs" if {
    some c in pod.spec.containers
    to_number(c.resources.limits["nvidia.com/gpu"]) > 4
}
deny contains "dev pod not on Spot" if {
    input.request.namespace == "ml-dev"
    not pod.spec.nodeSelector["karpenter.sh/capacity-type"] == "spot"
}
"""


def team_policies(teams: int) -> sets.PolicySet:
    """A policy per team, 9 rules each, matching the team's namespace only."""
    docs = []
    for team in range(teams):
        rules = []
        for n in range(3):
            rules += [
                {
                    "name": f"labels-{team}-{n}",
                    "match": {"namespaces": [f"team-{team}"]},
                    "requiredLabels": {"labels": [{"key": "cost-centre"}]},
                },
                {
                    "name": f"gpus-{team}-{n}",
                    "match": {"namespaces": [f"team-{team}"]},
                    "gpuLimits": {"maxPerPod": 8},
                },
                {
                    "name": f"size-{team}-{n}",
                    "match": {"namespaces": [f"team-{team}"]},
                    "sizeEnvelope": {"maxPodVcpu": 96},
                },
            ]
        data = {
            "apiVersion": "costwarden.io/v1alpha1",
            "kind": "CostPolicy",
            "metadata": {"name": f"team-{team}"},
            "spec": {"rules": rules},
        }
        docs.append(Document(source="<bench>", index=team, data=data))
    return loading.policies_from_documents(docs)


def rules_that_apply() -> None:
    """900 rules of which 9 apply, against the 9 alone."""
    review = json.loads(REVIEW.read_text())
    review["request"]["namespace"] = review["request"]["object"]["metadata"]["namespace"] = "team-0"
    request = read_review(review)
    catalog, memos = bundled_catalog(), Memos()
    context = spend_context({"team-0": {"cost-centre": "Sales-5045"}}, memos)
    nine, nine_hundred = team_policies(1), team_policies(100)
    nine_us = per_call_us(
        lambda: evaluating.evaluate(request, policies=nine, catalog=catalog, context=context),
        number=1000,
    )
    many_us = per_call_us(
        lambda: evaluating.evaluate(
            request, policies=nine_hundred, catalog=catalog, context=context
        ),
        number=1000,
    )
    print(f"evaluate, {len(nine.rules)} rules that apply: {nine_us:8.1f} µs")
    print(
        f"evaluate, {len(nine_hundred.rules)} rules of which {len(nine.rules)} apply: "
        f"{many_us:8.1f} µs  ({many_us / nine_us:4.2f}× the {len(nine.rules)}; bound 1.2×)"
    )


def main() -> None:
    full_reviews()
    rules_that_apply()
    text = REVIEW.read_text()
    request = read_review(json.loads(text))
    catalog = bundled_catalog()
    context = spend_context(NAMESPACES, Memos())
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
