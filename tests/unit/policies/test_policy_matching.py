"""Compiled match blocks and label selectors, with Kubernetes' selector semantics."""

from __future__ import annotations

import pytest

from costwarden.policies import matching, models


def subject(**overrides):
    values = {
        "kind": "Pod",
        "operation": "CREATE",
        "namespace": "ml-train",
        "namespace_labels": {"env": "prod"},
        "labels": {"app": "x"},
    }
    values.update(overrides)
    return matching.Subject(**values)


def matcher(**match):
    return matching.Matcher.compile(models.Match.model_validate(match))


@pytest.mark.parametrize(
    ("operator", "values", "labels", "holds"),
    [
        ("In", ["a", "b"], {"k": "a"}, True),
        ("In", ["a"], {}, False),
        ("NotIn", ["a"], {"k": "b"}, True),
        ("NotIn", ["a"], {}, True),
        ("NotIn", ["a"], {"k": "a"}, False),
        ("Exists", [], {"k": ""}, True),
        ("DoesNotExist", [], {"k": "a"}, False),
    ],
)
def test_selector_expressions_follow_kubernetes(operator, values, labels, holds):
    requirement = matching.Requirement("k", operator, frozenset(values))
    assert requirement.holds(labels) is holds


def test_empty_match_matches_everything():
    assert matcher().matches(subject())
    assert matcher().is_empty


def test_namespace_globs_match_whole_names():
    compiled = matcher(namespaces=["ml-*", "dev"])
    assert compiled.matches(subject(namespace="ml-dev"))
    assert compiled.matches(subject(namespace="dev"))
    assert not compiled.matches(subject(namespace="xml-dev"))
    assert not compiled.matches(subject(namespace="devops"))
    assert not compiled.matches(subject(namespace=None))


def test_listing_pod_includes_every_kind_that_makes_pods():
    compiled = matcher(kinds=["Pod"])
    for kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"):
        assert compiled.matches(subject(kind=kind))
    assert not matcher(kinds=["Job"]).matches(subject(kind="CronJob"))


def test_all_conditions_must_hold():
    compiled = matcher(
        namespaceSelector={"matchLabels": {"env": "prod"}},
        selector={"matchLabels": {"app": "x"}},
        operations=["CREATE"],
    )
    assert compiled.matches(subject())
    assert not compiled.matches(subject(operation="UPDATE"))
    assert not compiled.matches(subject(labels={}))
    assert not compiled.matches(subject(namespace_labels={"env": "dev"}))
