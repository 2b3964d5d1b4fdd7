"""Loading policy files: the bundled set, and every problem named by file, document,
path and line."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from costwarden.documents import InvalidInput
from costwarden.engine import rules as rules_registry
from costwarden.policies import loading, models

HEADER = "apiVersion: costwarden.io/v1alpha1\nkind: CostPolicy\nmetadata: {name: p}\n"


@pytest.fixture
def write(tmp_path: Path):
    def write(body: str, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body))
        return path

    return write


def problems(path: Path) -> list[str]:
    return [str(p) for p in loading.lint_policies([path])]


def test_bundled_policies_load_with_a_rule_per_finops_practice():
    kinds = {rule.kind.field for rule in loading.bundled_policies().rules}
    assert kinds == {"requiredLabels", "gpuLimits", "spot", "sizeEnvelope", "gpuTaint", "budget"}


def test_several_files_and_documents_load_into_one_set(write, tmp_path):
    write(
        HEADER
        + "spec: {rules: [{name: a, gpuLimits: {maxPerPod: 1}}]}\n---\n"
        + HEADER.replace("name: p", "name: q")
        + "spec: {rules: [{name: b, spot: {}}]}\n",
        "one.yaml",
    )
    write(
        "apiVersion: costwarden.io/v1alpha1\nkind: PolicyException\nmetadata: {name: e}\n"
        "spec: {rules: [a], expires: 2026-12-31, reason: ticket}\n",
        "two.yaml",
    )
    policy_set = loading.load_policies([tmp_path])
    assert [r.name for r in policy_set.rules] == ["a", "b"]
    (exception,) = policy_set.compiled_exceptions
    assert exception.expires == datetime(2027, 1, 1, tzinfo=UTC)


def test_unknown_field_is_named_with_file_document_path_and_line(write):
    path = write(
        HEADER + "spec:\n  rules:\n  - name: a\n    gpuLimits: {maxPerPod: 1}\n    acton: warn\n"
    )
    assert problems(path) == [
        f"{path}:8: document 0: spec.rules[0].acton: "
        "unknown field (check its spelling and indentation)"
    ]


def test_wrong_type_and_bad_value_are_named(write):
    path = write(
        HEADER
        + "spec:\n  rules:\n  - name: a\n    action: block\n    gpuLimits: {maxPerPod: four}\n"
    )
    found = problems(path)
    assert (
        f"{path}:7: document 0: spec.rules[0].action: Input should be 'deny', 'warn' or 'dryrun'"
        in found
    )
    assert (
        f"{path}:8: document 0: spec.rules[0].gpuLimits.maxPerPod: Input should be a valid decimal"
        in found
    )


def test_every_problem_in_every_file_is_reported_at_once(write):
    first = write(HEADER + "spec: {rules: [{name: a, spot: {cloud: openstack}}]}\n", "a.yaml")
    write(
        HEADER + "spec: {rules: [{name: b, budget: {caps: {x: '1'}, timezone: Mars/Base}}]}\n",
        "b.yaml",
    )
    found = [str(p) for p in loading.lint_policies([first.parent])]
    assert len(found) == 2
    assert "spot.cloud" in found[0]
    assert "unknown timezone 'Mars/Base'" in found[1]


def test_duplicate_rule_names_across_policies_are_errors(write):
    path = write(
        HEADER
        + "spec: {rules: [{name: a, spot: {}}]}\n---\n"
        + HEADER.replace("name: p", "name: q")
        + "spec:\n  rules:\n  - {name: a, spot: {}}\n"
    )
    (problem,) = problems(path)
    assert problem.startswith(
        f"{path}:11: document 1: spec.rules[0].name: "
        f"duplicate rule name 'a' (first defined at {path}:4 document 0"
    )


def test_a_rule_needs_exactly_one_kind(write):
    path = write(
        HEADER + "spec: {rules: [{name: a}, {name: b, spot: {}, gpuLimits: {maxPerPod: 1}}]}\n"
    )
    found = problems(path)
    assert len(found) == 2
    every_kind = ", ".join(kind.field for kind in rules_registry.KINDS)  # the registry's
    assert every_kind.startswith("requiredLabels, gpuLimits, spot, sizeEnvelope, gpuTaint")
    assert all(f"a rule needs exactly one of {every_kind}" in p for p in found)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "{name: a, requiredLabels: {labels: [{key: x, pattern: '('}]}}",
            "not a valid regular expression",
        ),
        ("{name: a, requiredLabels: {labels: [{key: x}, {key: x}]}}", "label keys listed twice: x"),
        ("{name: a, gpuLimits: {}}", "set maxPerPod, maxPerWorkload or both"),
        ("{name: a, sizeEnvelope: {}}", "set at least one bound"),
        ("{name: a, budget: {}}", "set caps, defaultCap or both"),
        ("{name: a, budget: {defaultCap: '1', staleAfter: soon}}", "'soon' is not a duration"),
        ("{name: a, budget: {defaultCap: '-1'}}", "greater than or equal to 0"),
        ("{name: A_B, spot: {}}", "String should match pattern"),
        ("{name: a, spot: {}, exclude: {}}", "an empty exclude would exclude everything"),
        (
            "{name: a, spot: {}, match: {selector: {matchExpressions: [{key: k, operator: In}]}}}",
            "operator In needs at least one value",
        ),
    ],
)
def test_bad_values_are_explained(write, rule, message):
    found = problems(write(HEADER + f"spec: {{rules: [{rule}]}}\n"))
    assert any(message in p for p in found), found


def test_wrong_api_version_and_unknown_kind_are_errors(write):
    path = write(
        "apiVersion: costwarden.io/v1\nkind: CostPolicy\n---\n"
        "apiVersion: costwarden.io/v1alpha1\nkind: Policy\n"
    )
    found = problems(path)
    assert (
        found[0] == f"{path}:1: document 0: apiVersion: "
        "apiVersion must be costwarden.io/v1alpha1 (found 'costwarden.io/v1')"
    )
    assert found[1].startswith(f"{path}:5: document 1: kind: unknown kind 'Policy'")


def test_exception_naming_an_unknown_rule_is_an_error(write):
    path = write(
        "apiVersion: costwarden.io/v1alpha1\nkind: PolicyException\nmetadata: {name: e}\n"
        "spec: {rules: [nope], expires: 2026-12-31, reason: r}\n"
    )
    assert problems(path) == [
        f"{path}:4: document 0: spec.rules[0]: no rule named 'nope' in the policy set"
    ]


def test_exception_expiry_needs_a_timezone(write):
    path = write(
        "apiVersion: costwarden.io/v1alpha1\nkind: PolicyException\nmetadata: {name: e}\n"
        "spec: {rules: [a], expires: '2026-12-31T10:00:00', reason: r}\n"
    )
    assert any("an expiry time needs a timezone" in p for p in problems(path))


def test_test_suites_beside_policies_are_skipped(write, tmp_path):
    write(HEADER + "spec: {rules: [{name: a, spot: {}}]}\n")
    write(
        "apiVersion: costwarden.io/v1alpha1\nkind: PolicyTest\nmetadata: {name: t}\nspec: {}\n",
        "tests.yaml",
    )
    assert [r.name for r in loading.load_policies([tmp_path]).rules] == ["a"]


def test_load_raises_invalid_input_listing_all_problems(write):
    path = write(HEADER + "spec: {rules: [{name: a}, {name: b}]}\n")
    with pytest.raises(InvalidInput) as raised:
        loading.load_policies([path])
    assert len(raised.value.problems) == 2


@pytest.mark.parametrize(
    ("text", "hours"), [("6h", 6), ("90m", 1.5), ("1h30m", 1.5), ("2d", 48), ("45s", 0.0125)]
)
def test_durations_read_like_kubectl(text, hours):
    assert models.parse_duration(text).total_seconds() == hours * 3600


@pytest.mark.parametrize("text", ["", "6", "h", "1.5h", "-1h", "6 hours"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError, match="is not a duration"):
        models.parse_duration(text)
