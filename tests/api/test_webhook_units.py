"""Unit tests of the webhook's pure helpers: JSONPatch, warnings, metrics, namespace files."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from costwarden import metrics
from costwarden.api import namespace_files, patches, responding
from costwarden.documents import InvalidInput
from costwarden.engine import patching

label_keys = st.text(alphabet="ab~/.-_", min_size=1, max_size=8)
label_maps = st.dictionaries(label_keys, st.text(max_size=5), max_size=4)


@given(key=label_keys)
def test_pointer_escaping_round_trips_and_never_leaves_a_bare_slash(key: str) -> None:
    escaped = patches.escape(key)
    assert "/" not in escaped
    assert patches.unescape(escaped) == key


def test_tilde_is_escaped_before_slash() -> None:
    assert patches.escape("a~1/b") == "a~01~1b"


@given(
    existing=st.one_of(st.none(), label_maps),
    wanted=label_maps,
    metadata=st.booleans(),
)
def test_metadata_patches_apply_with_jsonpatch_and_are_idempotent(
    existing: dict[str, str] | None, wanted: dict[str, str], metadata: bool
) -> None:
    obj: dict[str, Any] = {"kind": "Pod"}
    if metadata:
        obj["metadata"] = {"name": "p"} if existing is None else {"labels": existing}
    desired = {"metadata": {"labels": wanted}} if wanted else {}
    operations = patching.json_patch(obj, desired)
    document = json.loads(base64.b64decode(patches.encode(operations)))
    result = jsonpatch.apply_patch(obj, document)
    if wanted:
        before = (existing or {}) if metadata else {}
        assert result["metadata"]["labels"] == {**before, **wanted}
    assert patching.json_patch(result, desired) == ()


@given(st.text(alphabet=st.sampled_from("ab cd—[]éxyz-"), max_size=600))
def test_warnings_are_at_most_120_characters_and_keep_every_word(message: str) -> None:
    lines = responding.split_warning(message)
    assert all(len(line) <= responding.MAX_WARNING_CHARS for line in lines)
    assert "".join("".join(line.split()) for line in lines) == "".join(message.split())


def greedy_wrap(message: str, width: int = 120, indent: str = "  ") -> list[str]:
    """Word by word: a word joins the line if it fits, else starts the next one; a word
    longer than a line is cut. The plainest statement of what `split_warning` does."""
    if len(message) <= width and "\n" not in message:
        return [message]
    lines: list[str] = []
    current = ""
    for word in message.split():
        while word:
            room = width - (len(indent) if lines else 0)
            candidate = f"{current} {word}" if current else word
            if len(candidate) <= room:
                current, word = candidate, ""
            elif current:
                lines.append(current)
                current = ""
            else:
                lines.append(word[:room])
                word = word[room:]
    if current:
        lines.append(current)
    return lines[:1] + [indent + line for line in lines[1:]]


@example("x" * 121)
@example(" ".join(["y" * 118] * 3))
@example("a " + "z" * 250 + " b")
@given(st.text(alphabet=st.sampled_from("ab cd—[]éxyz-\n"), max_size=600))
def test_warnings_split_like_word_by_word_greedy_wrapping(message: str) -> None:
    assert responding.split_warning(message) == greedy_wrap(message)


def test_too_many_warning_lines_end_with_how_many_were_left_out() -> None:
    lines = responding.warnings_of(f"warning {i}" for i in range(30))
    assert len(lines) == responding.MAX_WARNINGS
    assert lines[-1] == "... and 11 more warning lines"


def test_cost_series_beyond_the_limit_fold_into_other() -> None:
    registry = CollectorRegistry()
    recorder = metrics.AdmissionMetrics(registry, cost_series_limit=2)
    for namespace in ("a", "b", "c", "d", "a"):
        recorder.admitted_pod(
            namespace=namespace,
            cost_centre="cc",
            team="t",
            gpu_model="l4",
            capacity_type="spot",
            hourly_cost=Decimal("0.25"),
            currency="USD",
        )
    sample = registry.get_sample_value
    dims = {"cost_centre": "cc", "team": "t", "gpu_model": "l4", "capacity_type": "spot"}
    assert sample("costwarden_admitted_pods_total", {**dims, "namespace": "a"}) == 2.0
    assert sample("costwarden_admitted_pods_total", {**dims, "namespace": "b"}) == 1.0
    other = dict.fromkeys(metrics.COST_DIMENSIONS, metrics.OTHER)
    assert sample("costwarden_admitted_pods_total", other) == 2.0
    assert sample("costwarden_admitted_pod_hourly_cost_total", {**other, "currency": "USD"}) == 0.5


def test_request_kinds_outside_the_known_set_are_counted_as_other() -> None:
    registry = CollectorRegistry()
    recorder = metrics.AdmissionMetrics(registry)
    recorder.review(
        webhook="validate", operation="CREATE", kind="Secret", decision="allowed", seconds=0.001
    )
    labels = {"webhook": "validate", "operation": "CREATE", "decision": "allowed"}
    assert (
        registry.get_sample_value(
            "costwarden_admission_requests_total", {**labels, "kind": "other"}
        )
        == 1.0
    )


def test_namespace_files_accept_a_plain_map_and_kubectl_namespace_lists(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("ml-dev: {team: vision}\n")
    listed = tmp_path / "listed.yaml"
    listed.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: Namespace, metadata: {name: ml-train, labels: {team: nlp}}}\n"
        "- {apiVersion: v1, kind: Namespace, metadata: {name: bare}}\n"
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: one, labels: {a: b}}\n"
    )
    assert namespace_files.load([plain, listed]) == {
        "ml-dev": {"team": "vision"},
        "ml-train": {"team": "nlp"},
        "bare": {},
        "one": {"a": "b"},
    }


def test_namespace_files_name_every_problem_with_its_place(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("ml-dev: {team: 3}\n---\n- a list\n---\nkind: Namespace\nmetadata: {}\n")
    with pytest.raises(InvalidInput) as raised:
        namespace_files.load([file])
    problems = raised.value.problems
    assert [(p.document, p.path) for p in problems] == [(0, "ml-dev"), (1, ""), (2, "")]
    assert "labels must be a map of strings to strings" in problems[0].message
    assert "metadata.name" in problems[2].message
