"""`engine.patching`: desired changes as one RFC 7386 merge patch, turned into RFC 6902
JSONPatch once against the original object."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costwarden.engine import patching
from costwarden.engine.verdicts import PatchOperation

keys = st.text(alphabet="ab~/", min_size=1, max_size=3)
scalars = st.one_of(st.text(alphabet="xy", max_size=2), st.integers(0, 3))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(keys, values, max_size=4)
patch_values = st.recursive(
    st.none() | scalars | st.lists(scalars, max_size=3),
    lambda inner: st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
patches = st.dictionaries(keys, patch_values, max_size=4)


def applied(obj: dict[str, Any], operations: tuple[PatchOperation, ...]) -> Any:
    """`obj` after `operations`, by a real RFC 6902 implementation."""
    document = [
        {"op": op.op, "path": op.path}
        if op.op == "remove"
        else {"op": op.op, "path": op.path, "value": op.value}
        for op in operations
    ]
    return jsonpatch.apply_patch(obj, document)


@given(obj=objects, patch=patches)
def test_the_jsonpatch_makes_the_object_what_the_merge_patch_makes_it_and_only_once(
    obj: dict[str, Any], patch: dict[str, Any]
) -> None:
    before = copy.deepcopy(obj)
    result = applied(obj, patching.json_patch(obj, patch))
    assert result == patching.merge_patch(obj, patch)
    assert patching.json_patch(result, patch) == ()
    assert obj == before


def test_keys_with_slashes_and_tildes_are_escaped_per_rfc6901() -> None:
    obj = {"metadata": {"annotations": {"a": "b"}}}
    operations = patching.json_patch(obj, {"metadata": {"annotations": {"team.io/x~y": "z"}}})
    assert operations == (PatchOperation("add", "/metadata/annotations/team.io~1x~0y", "z"),)
    assert applied(obj, operations)["metadata"]["annotations"] == {"a": "b", "team.io/x~y": "z"}


def test_null_removes_a_present_key_and_an_absent_one_is_not_mentioned() -> None:
    obj = {"spec": {"nodeSelector": {"lifecycle": "on-demand", "zone": "a"}}}
    patch = {"spec": {"nodeSelector": {"lifecycle": None, "eks.amazonaws.com/capacityType": None}}}
    assert patching.json_patch(obj, patch) == (
        PatchOperation("remove", "/spec/nodeSelector/lifecycle"),
    )
    assert patching.json_patch({}, {"metadata": None}) == ()


def test_maps_missing_on_the_way_are_created_whole_without_the_patches_nulls() -> None:
    patch = {"spec": {"template": {"metadata": {"labels": {"team": "nlp", "gone": None}}}}}
    deployment: dict[str, Any] = {"kind": "Deployment", "spec": {"template": {"spec": {}}}}
    assert patching.json_patch(deployment, patch) == (
        PatchOperation("add", "/spec/template/metadata", {"labels": {"team": "nlp"}}),
    )
    assert patching.json_patch({}, patch) == (
        PatchOperation("add", "/spec", {"template": {"metadata": {"labels": {"team": "nlp"}}}}),
    )


def test_a_list_is_replaced_whole_and_added_where_absent() -> None:
    toleration = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true"}
    mine = {"key": "gpu", "operator": "Exists"}
    patch = {"spec": {"tolerations": [mine, toleration]}}
    assert patching.json_patch({"spec": {"tolerations": [mine]}}, patch) == (
        PatchOperation("replace", "/spec/tolerations", [mine, toleration]),
    )
    assert patching.json_patch({"spec": {}}, patch) == (
        PatchOperation("add", "/spec/tolerations", [mine, toleration]),
    )


def test_a_value_already_there_is_left_alone_and_a_different_one_replaced() -> None:
    obj = {"metadata": {"labels": {"team": "nlp", "cost-centre": "RnD-1"}}}
    patch = {"metadata": {"labels": {"team": "nlp", "cost-centre": "RnD-2"}}}
    assert patching.json_patch(obj, patch) == (
        PatchOperation("replace", "/metadata/labels/cost-centre", "RnD-2"),
    )


def test_a_member_that_is_null_is_added_over() -> None:
    obj = {"metadata": {"labels": None}}
    assert patching.json_patch(obj, {"metadata": {"labels": {"team": "nlp"}}}) == (
        PatchOperation("add", "/metadata/labels", {"team": "nlp"}),
    )


def test_operations_follow_the_order_the_changes_were_first_wanted_in() -> None:
    spot = {"spec": {"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}}
    labels = {"metadata": {"labels": {"team": "nlp"}}}
    annotations = {"metadata": {"annotations": {"costwarden.io/hourly-cost": "1 USD"}}}
    obj: dict[str, Any] = {"metadata": {"labels": {}}, "spec": {}}
    operations = patching.json_patch(obj, patching.combine((spot, labels, annotations)))
    assert [op.path for op in operations] == [
        "/spec/nodeSelector",
        "/metadata/labels/team",
        "/metadata/annotations",
    ]


def test_combine_merges_maps_and_the_later_patch_wins_a_key() -> None:
    first = {"spec": {"nodeSelector": {"a": "1", "b": "1"}}}
    second = {"spec": {"nodeSelector": {"b": "2", "c": None}, "tolerations": []}}
    assert patching.combine((first, second)) == {
        "spec": {"nodeSelector": {"a": "1", "b": "2", "c": None}, "tolerations": []}
    }
    assert first == {"spec": {"nodeSelector": {"a": "1", "b": "1"}}}


@pytest.mark.parametrize(
    ("pointer", "placed"),
    [
        ("", {"spec": {"x": 1}}),
        ("/spec/template", {"spec": {"template": {"spec": {"x": 1}}}}),
        ("/a~1b/c~0d", {"a/b": {"c~d": {"spec": {"x": 1}}}}),
    ],
)
def test_at_places_a_pod_template_patch_where_the_template_is(
    pointer: str, placed: dict[str, Any]
) -> None:
    assert patching.at(pointer, {"spec": {"x": 1}}) == placed
    assert not patching.at(pointer, {})


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # RFC 7386, appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_is_rfc7386(target: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy(target)
    assert patching.merge_patch(target, patch) == result
    assert target == before
    if isinstance(target, dict) and isinstance(patch, dict):
        assert applied(target, patching.json_patch(target, patch)) == result
