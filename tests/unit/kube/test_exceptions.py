"""The PolicyException cache behind the watch (no cluster): what a list or a watch event makes
of the objects the API server returns, which are left out and why, and when what it holds
is a new set of exceptions."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from costwarden.kube.exceptions import ExceptionCache
from costwarden.policies import models

APPROVED_BY = models.APPROVED_BY


def policy_exception(
    name: str = "fin-1234-train",
    *,
    namespace: str | None = "ml-train",
    approver: str | None = "dana",
    **spec: Any,
) -> dict[str, Any]:
    """A PolicyException as the API server lists it: with the metadata it adds."""
    metadata: dict[str, Any] = {
        "name": name,
        "uid": "0b8e7c1e-4a51-4a7c-9f0e-5d0f6d7f1a11",
        "resourceVersion": "4711",
        "generation": 1,
        "creationTimestamp": "2026-11-20T09:00:00Z",
        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}],
        "annotations": {APPROVED_BY: approver} if approver is not None else {},
    }
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "costwarden.io/v1alpha1",
        "kind": "PolicyException",
        "metadata": metadata,
        "spec": {
            "rules": ["max-gpus-per-pod"],
            "tickets": ["FIN-1234"],
            "expires": "2026-12-31",
            "reason": "FIN-1234: 8-GPU fine-tune",
            **spec,
        },
    }


def held(cache: ExceptionCache) -> list[tuple[str | None, str]]:
    return [(e.metadata.namespace, e.metadata.name) for e in cache.exceptions()]


def test_the_cache_is_ready_only_after_the_first_list() -> None:
    cache = ExceptionCache()
    assert cache.ready() is False
    assert cache.exceptions() == ()
    cache.replace([])
    assert cache.ready() is True


def test_a_listed_approved_exception_is_held_as_the_model_with_its_namespace_and_approver() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception()])
    (exception,) = cache.exceptions()
    assert isinstance(exception, models.PolicyException)
    assert exception.metadata.namespace == "ml-train"
    assert exception.metadata.annotations[APPROVED_BY] == "dana"
    assert exception.spec.tickets == ("FIN-1234",)
    assert len(cache) == 1


def test_watch_events_add_change_and_remove_exceptions() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception("a")])
    cache.apply("ADDED", policy_exception("b", namespace="ml-dev"))
    cache.apply("MODIFIED", policy_exception("a", reason="extended by finance"))
    cache.apply("DELETED", policy_exception("b", namespace="ml-dev"))
    assert held(cache) == [("ml-train", "a")]
    (exception,) = cache.exceptions()
    assert exception.spec.reason == "extended by finance"


def test_the_same_name_in_two_namespaces_is_two_exceptions() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception(namespace="ml-train"), policy_exception(namespace="ml-dev")])
    assert held(cache) == [("ml-dev", "fin-1234-train"), ("ml-train", "fin-1234-train")]


def test_a_relist_drops_exceptions_deleted_while_the_watch_was_down() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception("a"), policy_exception("gone")])
    cache.replace([policy_exception("a")])
    assert held(cache) == [("ml-train", "a")]


def test_an_exception_without_an_approver_is_left_out_and_logged_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ExceptionCache()
    with caplog.at_level(logging.WARNING, logger="costwarden.kube.exceptions"):
        cache.replace([policy_exception(approver=None), policy_exception("ok")])
    assert held(cache) == [("ml-train", "ok")]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "ml-train/fin-1234-train" in record.getMessage()
    assert f"no {APPROVED_BY} annotation" in record.getMessage()


def test_an_empty_approver_approves_nothing() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception(approver="")])
    assert cache.exceptions() == ()


def test_an_exception_that_does_not_read_is_left_out_and_logged_saying_where(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ExceptionCache()
    with caplog.at_level(logging.WARNING, logger="costwarden.kube.exceptions"):
        cache.replace([policy_exception(expires="someday", tickts=["FIN-9"])])
    assert cache.exceptions() == ()
    (record,) = caplog.records
    message = record.getMessage()
    assert "ml-train/fin-1234-train" in message
    assert "not a valid PolicyException" in message
    assert "spec.expires" in message
    assert "spec.tickts" in message


def test_an_exception_without_a_namespace_would_waive_everywhere_and_is_left_out() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception(namespace=None)])
    assert cache.exceptions() == ()


def test_what_is_left_out_is_logged_once_however_often_it_is_listed_or_changed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ExceptionCache()
    unapproved = policy_exception(approver=None)
    with caplog.at_level(logging.WARNING, logger="costwarden.kube.exceptions"):
        cache.replace([unapproved])
        cache.replace([unapproved])
        cache.apply("MODIFIED", unapproved)
    assert len(caplog.records) == 1


def test_what_is_left_out_for_a_new_reason_or_after_being_fixed_is_logged_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ExceptionCache()
    with caplog.at_level(logging.WARNING, logger="costwarden.kube.exceptions"):
        cache.apply("ADDED", policy_exception(approver=None))
        cache.apply("MODIFIED", policy_exception(approver=None, expires="someday"))
        cache.apply("MODIFIED", policy_exception())
        cache.apply("MODIFIED", policy_exception(approver=None))
    assert len(caplog.records) == 3


def test_an_exception_fixed_by_its_approver_is_held_from_then_on() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception(approver=None)])
    cache.apply("MODIFIED", policy_exception(approver="dana"))
    assert held(cache) == [("ml-train", "fin-1234-train")]


def test_an_approved_exception_changed_into_one_that_does_not_read_stops_waiving() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception()])
    cache.apply("MODIFIED", policy_exception(rules=[]))
    assert cache.exceptions() == ()


def test_an_exception_being_deleted_waives_nothing_from_that_moment(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Changes to a terminating object are not sent to the webhook (its finalizers must be
    able to go), so nothing it says is believed."""
    cache = ExceptionCache()
    cache.replace([policy_exception()])
    terminating = policy_exception()
    terminating["metadata"]["deletionTimestamp"] = "2026-11-22T11:00:00Z"
    terminating["metadata"]["finalizers"] = ["example.com/audit"]
    with caplog.at_level(logging.WARNING, logger="costwarden.kube.exceptions"):
        cache.apply("MODIFIED", terminating)
        cache.replace([terminating])
    assert cache.exceptions() == ()
    assert caplog.records == []


def test_objects_without_a_name_are_ignored() -> None:
    cache = ExceptionCache()
    cache.replace([{"metadata": {}}, {"kind": "PolicyException"}, policy_exception("ok")])
    cache.apply("ADDED", {"metadata": {"namespace": "ml-train"}})
    assert held(cache) == [("ml-train", "ok")]


def test_what_it_holds_is_a_new_object_when_the_exceptions_change() -> None:
    cache = ExceptionCache()
    cache.replace([policy_exception()])
    before = cache.exceptions()
    cache.apply("MODIFIED", policy_exception(expires="2026-12-15"))
    assert cache.exceptions() is not before
    changed = cache.exceptions()
    cache.apply("DELETED", policy_exception())
    assert cache.exceptions() is not changed


def test_what_it_holds_stays_the_same_object_when_nothing_it_reads_changed() -> None:
    """A relist after a watch failure, a new resourceVersion, a managedFields or status
    churn, a rejected object elsewhere: the policy set built with the exceptions is kept."""
    cache = ExceptionCache()
    cache.replace([policy_exception()])
    before = cache.exceptions()
    cache.replace([policy_exception()])
    bumped = policy_exception()
    bumped["metadata"]["resourceVersion"] = "4712"
    cache.apply("MODIFIED", bumped)
    cache.apply("ADDED", policy_exception("unapproved", approver=None))
    cache.apply("DELETED", policy_exception("never-seen"))
    assert cache.exceptions() is before
