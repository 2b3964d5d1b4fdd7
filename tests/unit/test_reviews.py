"""Reading an AdmissionReview: the request as the engine reads it, or pydantic's
`ValidationError` naming where the body is wrong."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import ADMISSION_FIXTURES

from costwarden import reviews
from costwarden.api import wire

CAPTURED = [json.loads(p.read_text()) for p in sorted(ADMISSION_FIXTURES.glob("*.json"))]

VALUES = st.sampled_from(
    [None, "", "x", "CREATE", "UPDATE", "admission.k8s.io/v1", "AdmissionReview", 0, 1, 1.5,
     True, False, [], {}, {"username": "u"}, {"group": "", "version": "v1", "kind": "Pod"}]
)  # fmt: skip
PLACES = st.sampled_from(
    [("apiVersion",), ("kind",), ("request",), ("request", "uid"), ("request", "kind"),
     ("request", "kind", "group"), ("request", "kind", "version"), ("request", "kind", "kind"),
     ("request", "resource"), ("request", "resource", "resource"), ("request", "subResource"),
     ("request", "name"), ("request", "namespace"), ("request", "operation"),
     ("request", "userInfo"), ("request", "object"), ("request", "oldObject"),
     ("request", "dryRun"), ("request", "options")]
)  # fmt: skip


def captured(name: str) -> dict[str, Any]:
    """A fresh copy of the captured review whose file name starts with `name`."""
    path = next(p for p in sorted(ADMISSION_FIXTURES.glob("*.json")) if p.name.startswith(name))
    review: dict[str, Any] = json.loads(path.read_text())
    return review


@pytest.mark.parametrize("index", range(len(CAPTURED)))
def test_every_captured_review_is_read_with_the_values_the_api_server_wrote(index: int) -> None:
    review = CAPTURED[index]
    sent = review["request"]
    request = wire.read_review(review)
    assert request.uid == sent["uid"]
    assert request.kind == (sent["kind"]["group"], sent["kind"]["version"], sent["kind"]["kind"])
    assert request.resource.resource == sent["resource"]["resource"]
    assert request.operation == sent["operation"]
    assert request.sub_resource == sent.get("subResource")
    assert request.name == sent.get("name")
    assert request.namespace == sent.get("namespace")
    assert request.user_info == sent.get("userInfo")
    assert request.object == sent.get("object")
    assert request.old_object == sent.get("oldObject")
    assert request.dry_run is sent.get("dryRun", False)


def test_a_kind_without_a_group_is_in_the_core_group() -> None:
    review = captured("002-")
    del review["request"]["kind"]["group"]
    assert wire.read_review(review).kind.group == ""


def test_snake_case_field_names_are_read_like_the_api_servers_camel_case() -> None:
    review = captured("002-")
    del review["request"]["dryRun"]
    review["request"]["dry_run"] = True
    assert wire.read_review(review).dry_run is True


@pytest.mark.parametrize(
    ("place", "value", "where"),
    [
        (("apiVersion",), "admission.k8s.io/v1beta1", ("apiVersion",)),
        (("request", "uid"), "", ("request", "uid")),
        (("request", "operation"), "PATCH", ("request", "operation")),
        (("request", "dryRun"), "maybe", ("request", "dryRun")),
        (("request", "object"), ["not", "an", "object"], ("request", "object")),
        (("request", "kind"), {"group": ""}, ("request", "kind", "version")),
    ],
)
def test_a_body_that_is_not_an_admission_review_is_refused_naming_where(
    place: tuple[str, ...], value: Any, where: tuple[str, ...]
) -> None:
    review = captured("002-")
    parent = review
    for key in place[:-1]:
        parent = parent[key]
    parent[place[-1]] = value
    with pytest.raises(ValidationError) as refused:
        wire.read_review(review)
    assert where in [error["loc"] for error in refused.value.errors()]


@settings(max_examples=300)
@given(
    index=st.integers(min_value=0, max_value=len(CAPTURED) - 1),
    changes=st.lists(st.tuples(PLACES, st.one_of(VALUES, st.just("<delete>"))), max_size=3),
)
def test_a_review_broken_anywhere_is_read_as_written_or_refused_with_a_validation_error(
    index: int, changes: list[tuple[tuple[str, ...], Any]]
) -> None:
    review = copy.deepcopy(CAPTURED[index])
    for place, value in changes:
        parent: Any = review
        for key in place[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if value == "<delete>":
            parent.pop(place[-1], None)
        else:
            parent[place[-1]] = copy.deepcopy(value)
    try:
        request = wire.read_review(review)
    except ValidationError:
        return  # refused, naming the problem: what routes turn into a 400
    sent = review["request"]
    assert request.uid == sent["uid"]
    assert request.operation == sent["operation"]
    assert request.object == sent.get("object")
    assert request.dry_run == sent.get("dryRun", False)  # lax: 0 and 1 read as false, true


def test_a_manifests_request_is_what_the_wire_model_reads_from_the_same_review() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ml-dev"},
        "spec": {"containers": []},
    }
    made = reviews.request_for(pod, operation="UPDATE", old_object=pod, dry_run=True, user="u")
    read = wire.read_review(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": made.uid,
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "name": "p",
                "namespace": "ml-dev",
                "operation": "UPDATE",
                "object": pod,
                "oldObject": pod,
                "dryRun": True,
                "userInfo": {"username": "u"},
            },
        }
    )
    assert made == read


def test_a_manifests_request_names_an_operation_the_api_server_has() -> None:
    with pytest.raises(ValueError, match="CONNECT, CREATE, DELETE, UPDATE"):
        reviews.request_for({"kind": "Pod"}, operation="PATCH")
