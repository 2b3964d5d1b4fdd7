"""Listing a cluster for `costwarden audit`: every page, every audited resource, the kinds a
list leaves out put back, a CRD the cluster lacks skipped, a forbidden list never partial.

The API server is the port here: `list_all` takes the function that GETs a path, so these
tests hand it pages as a server sends them (no API server can run in this suite)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from costwarden import workloads
from costwarden.kube import listing

PODS = listing.Resource("", "v1", "pods", "Pod")
EXCEPTIONS = listing.Resource("costwarden.io", "v1alpha1", "policyexceptions", "PolicyException")
JOBS = listing.Resource("batch", "v1", "jobs", "Job")


def pages_of(
    items: dict[str, list[dict[str, Any]]], page_size: int, asked: list[tuple[str, dict[str, str]]]
):
    """A GET that serves each path's items `page_size` at a time with continue tokens,
    404 for paths it does not hold, and records what was asked."""

    def fetch(path: str, query: Mapping[str, str]) -> Mapping[str, Any]:
        asked.append((path, dict(query)))
        if path not in items:
            raise listing.ListingError(404, f"{path}: not found")
        start = int(query.get("continue") or 0)
        limit = int(query["limit"])
        assert limit == page_size
        chunk = items[path][start : start + limit]
        following = start + limit
        token = str(following) if following < len(items[path]) else ""
        return {"kind": "List", "apiVersion": "v1", "metadata": {"continue": token}, "items": chunk}

    return fetch


def test_every_page_of_every_resource_is_read_with_its_kind_put_back():
    pods = [{"metadata": {"name": f"p{i}", "namespace": "a"}} for i in range(7)]
    jobs = [{"metadata": {"name": "j", "namespace": "b"}}]
    asked: list[tuple[str, dict[str, str]]] = []
    fetch = pages_of({PODS.path: pods, JOBS.path: jobs}, 3, asked)
    seen: list[tuple[str, int]] = []
    items = list(
        listing.list_all(
            fetch,
            resources=(PODS, JOBS),
            page_size=3,
            progress=lambda resource, count: seen.append((resource.plural, count)),
        )
    )
    assert [i["metadata"]["name"] for i in items] == [*(f"p{i}" for i in range(7)), "j"]
    assert {(i["apiVersion"], i["kind"]) for i in items[:7]} == {("v1", "Pod")}
    assert (items[7]["apiVersion"], items[7]["kind"]) == ("batch/v1", "Job")
    assert [query.get("continue") for path, query in asked if path == PODS.path] == [None, "3", "6"]
    assert seen == [("pods", 3), ("pods", 6), ("pods", 7), ("jobs", 1)]


def test_a_crd_the_cluster_does_not_serve_is_skipped_and_said():
    skipped: list[str] = []
    fetch = pages_of({PODS.path: []}, listing.PAGE_SIZE, [])
    items = list(
        listing.list_all(
            fetch,
            resources=(EXCEPTIONS, PODS),
            skipped=lambda resource, why: skipped.append(f"{resource.plural}: {why}"),
        )
    )
    assert items == []
    assert skipped == ["policyexceptions: not served by this cluster"]


def test_a_resource_it_may_not_list_stops_the_audit_naming_it():
    def forbidden(path: str, query: Mapping[str, str]) -> Mapping[str, Any]:
        raise listing.ListingError(403, f"{path}: Forbidden")

    with pytest.raises(
        listing.Forbidden, match=r"cannot list pods\.core in all namespaces \(403\)"
    ):
        list(listing.list_all(forbidden, resources=(PODS,)))


def test_a_core_resource_missing_is_an_error_not_a_skip():
    with pytest.raises(listing.ListingError):
        list(listing.list_all(pages_of({}, listing.PAGE_SIZE, []), resources=(PODS,)))


def test_the_audit_reads_the_world_and_every_kind_that_runs_pods():
    kinds = {resource.kind for resource in listing.AUDITED}
    assert {"Namespace", "PolicyException"} <= kinds
    assert {"DeviceClass", "ResourceClaimTemplate", "ResourceClaim"} <= kinds  # claims priced
    assert kinds >= workloads.WORKLOAD_KINDS
