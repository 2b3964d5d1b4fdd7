"""Reading an AdmissionReview: the exact reader agrees with the pydantic wire model.

`read_review` reads a body written exactly as an API server writes it field by field and
leaves everything else to the wire model. These tests hold it to that: on every captured
review it takes the fast way, and on reviews broken in any one place it returns what the
wire model returns, or leaves the review to it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import ADMISSION_FIXTURES

from costwarden import reviews

CAPTURED = [json.loads(p.read_text()) for p in sorted(ADMISSION_FIXTURES.glob("*.json"))]

VALUES = st.sampled_from(
    [None, "", "x", "CREATE", "UPDATE", "admission.k8s.io/v1", "AdmissionReview", 0, 1, 1.5,
     True, False, [], {}, {"username": "u"}, {"group": "", "version": "v1", "kind": "Pod"}]
)  # fmt: skip
PLACES = st.sampled_from(
    [("apiVersion",), ("kind",), ("api_version",), ("request",), ("request", "uid"),
     ("request", "kind"), ("request", "kind", "group"), ("request", "kind", "version"),
     ("request", "kind", "kind"), ("request", "resource"), ("request", "resource", "resource"),
     ("request", "resource", "group"), ("request", "subResource"), ("request", "sub_resource"),
     ("request", "name"), ("request", "namespace"), ("request", "operation"),
     ("request", "userInfo"), ("request", "user_info"), ("request", "object"),
     ("request", "oldObject"), ("request", "old_object"), ("request", "dryRun"),
     ("request", "dry_run"), ("request", "options"), ("request", "requestKind"),
     ("request", "requestSubResource")]
)  # fmt: skip


def by_wire_model(data: Any) -> reviews.AdmissionRequest | None:
    try:
        return reviews.AdmissionReview.model_validate(data).request.read()
    except ValidationError:
        return None


@pytest.mark.parametrize("index", range(len(CAPTURED)))
def test_every_captured_review_is_read_the_fast_way_and_as_the_wire_model_reads_it(
    index: int,
) -> None:
    review = CAPTURED[index]
    fast = reviews._read_exact(review)
    assert fast is not None
    assert fast == by_wire_model(review)


@settings(max_examples=500)
# Field names the wire model accepts besides the camelCase keys: the fast way must not
# read past them.
@example(index=9, changes=[(("request", "sub_resource"), "x")])
@example(index=9, changes=[(("request", "dry_run"), True)])
@example(index=9, changes=[(("request", "dryRun"), "<delete>"), (("request", "dry_run"), True)])
@example(index=9, changes=[(("request", "old_object"), {})])
@given(
    index=st.integers(min_value=0, max_value=len(CAPTURED) - 1),
    changes=st.lists(st.tuples(PLACES, st.one_of(VALUES, st.just("<delete>"))), max_size=3),
)
def test_a_review_broken_anywhere_is_read_exactly_as_the_wire_model_reads_it(
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
    expected = by_wire_model(review)
    fast = reviews._read_exact(review)
    if fast is not None:  # what the fast way accepts, the wire model accepts alike
        assert fast == expected
    if expected is None:
        with pytest.raises(ValidationError):
            reviews.read_review(review)
    else:
        assert reviews.read_review(review) == expected
