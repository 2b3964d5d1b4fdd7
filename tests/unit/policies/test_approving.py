"""Admitting a PolicyException: only a truthful, well-formed approval within the rules' bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from costwarden.documents import Document
from costwarden.policies import approving, loading

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICIES = loading.policies_from_documents(
    [
        Document(
            source="<test>",
            index=0,
            data={
                "apiVersion": "costwarden.io/v1alpha1",
                "kind": "CostPolicy",
                "metadata": {"name": "limits"},
                "spec": {
                    "rules": [
                        {
                            "name": "max-gpus",
                            "exceptions": {
                                "label": {"key": "cost-exception", "maxDuration": "30d"}
                            },
                            "gpuLimits": {"maxPerPod": 4},
                        },
                        {
                            "name": "no-exceptions",
                            "exceptions": {"objects": False},
                            "gpuLimits": {"maxPerPod": 8},
                        },
                    ]
                },
            },
        )
    ]
)


def exception(
    *, approver: str | None = "fiona", expires: str = "2026-12-01", **spec: Any
) -> dict[str, Any]:
    annotations = {"costwarden.io/approved-by": approver} if approver else {}
    return {
        "apiVersion": "costwarden.io/v1alpha1",
        "kind": "PolicyException",
        "metadata": {
            "name": "fin-1234",
            "namespace": "ml-train",
            "uid": "3d0c6f1e-0000-4000-8000-000000000001",
            "creationTimestamp": "2026-11-22T11:59:00Z",
            "annotations": annotations,
        },
        "spec": {
            "rules": ["max-gpus"],
            "tickets": ["FIN-1234"],
            "expires": expires,
            "reason": "quarterly retrain",
            **spec,
        },
    }


def problems(obj: dict[str, Any], user: str | None = "fiona") -> list[str]:
    return approving.problems(obj, user=user, policies=POLICIES, now=NOW)


def test_an_approval_recorded_by_the_approver_herself_within_bounds_is_admitted() -> None:
    assert problems(exception()) == []


def test_an_approval_naming_someone_else_as_approver_is_refused() -> None:
    (problem,) = problems(exception(approver="the-cfo"), user="mallory")
    assert problem == (
        "metadata.annotations['costwarden.io/approved-by']: must name who approves this "
        "exception, the user sending it (mallory); it is the-cfo"
    )


def test_an_approval_without_an_approver_is_refused() -> None:
    (problem,) = problems(exception(approver=None))
    assert "it is missing" in problem


def test_an_expiry_beyond_the_rules_max_duration_is_refused() -> None:
    (problem,) = problems(exception(expires="2027-06-01"))
    assert problem == (
        "spec.expires: 2027-06-02 00:00 UTC is more than 30d ahead (rule max-gpus's maxDuration)"
    )


def test_an_exception_that_has_already_expired_is_refused() -> None:
    (problem,) = problems(exception(expires="2026-11-01"))
    assert problem == "spec.expires: 2026-11-02 00:00 UTC has passed"


def test_a_rule_that_does_not_exist_or_takes_no_exceptions_is_named() -> None:
    found = problems(exception(rules=["max-gpus", "nonexistent", "no-exceptions"]))
    assert found == [
        "spec.rules[1]: no rule nonexistent in the loaded policies",
        "spec.rules[2]: rule no-exceptions takes no exceptions",
    ]


def test_a_malformed_exception_names_the_path() -> None:
    obj = exception()
    del obj["spec"]["reason"]
    (problem,) = problems(obj)
    assert problem.startswith("spec.reason: ")
